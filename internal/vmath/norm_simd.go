//go:build goexperiment.simd && amd64

package vmath

import "simd/archsimd"

func init() {
	if archsimd.X86.AVX512() {
		squaredDeviations32, gradSums32, normGrad32 = squaredDeviations32AVX512, gradSums32AVX512, normGrad32AVX512
	}
}

// lanes64 is the sum of a vector's lanes in float64.
func lanes64(v archsimd.Float32x16) float64 {
	var l [16]float32
	v.Store(&l)
	var s float64
	for _, x := range l {
		s += float64(x)
	}
	return s
}

// squaredDeviations32AVX512: 16 values a step; the tail in Go (a zero-filled lane would
// add m^2).
func squaredDeviations32AVX512(x []float32, m float32) float64 {
	mv := archsimd.BroadcastFloat32x16(m)
	var acc archsimd.Float32x16
	i := 0
	for ; i+16 <= len(x); i += 16 {
		d := archsimd.LoadFloat32x16Slice(x[i : i+16 : i+16]).Sub(mv)
		acc = d.MulAdd(d, acc)
	}
	s := lanes64(acc)
	archsimd.ClearAVXUpperBits()
	return s + squaredDeviations32Go(x[i:], m)
}

// gradSums32AVX512: 16 values a step. A tail of fewer than 16 is loaded whole as the
// last 16 values and rotated into the lanes a masked load would put it in, the others
// zeroed as a masked load zeroes them: the same sums bit for bit, without a masked load (which
// stalls here on values just written, see maxPool2x2AVX512).
func gradSums32AVX512(dy, x []float32, m float32) (sumDy, sumDyX float64) {
	mv := archsimd.BroadcastFloat32x16(m)
	var s, sx archsimd.Float32x16
	n := len(dy)
	i := 0
	for ; i+16 <= n; i += 16 {
		d := archsimd.LoadFloat32x16Slice(dy[i:])
		xc := archsimd.LoadFloat32x16Slice(x[i:]).Sub(mv)
		s, sx = s.Add(d), d.MulAdd(xc, sx)
	}
	if r := n - i; r > 0 {
		var d, xc archsimd.Float32x16
		if n >= 16 {
			rot := archsimd.LoadUint32x16(&tailRotation[r])
			keep := archsimd.Mask32x16FromBits(uint16(1)<<r - 1)
			d = archsimd.LoadFloat32x16Slice(dy[n-16:]).Permute(rot).Masked(keep)
			xc = archsimd.LoadFloat32x16Slice(x[n-16 : n]).Permute(rot).Masked(keep).Sub(mv)
		} else {
			d = archsimd.LoadFloat32x16SlicePart(dy[i:])
			xc = archsimd.LoadFloat32x16SlicePart(x[i:n]).Sub(mv)
		}
		s, sx = s.Add(d), d.MulAdd(xc, sx)
	}
	sumDy, sumDyX = lanes64(s), lanes64(sx)
	archsimd.ClearAVXUpperBits()
	return sumDy, sumDyX
}

// tailRotation[r] moves lanes 16-r.. of a vector to lanes 0..r-1 (the last r of 16 values
// where a masked load of r values puts them).
var tailRotation = func() (t [16][16]uint32) {
	for r := 1; r < 16; r++ {
		for j := range 16 {
			t[r][j] = uint32((j + 16 - r) % 16)
		}
	}
	return t
}()

// normGrad32AVX512: 16 values a step, a tail as gelu32AVX512's (dx may alias dy).
func normGrad32AVX512(dx, dy, x []float32, a, b, m, c float32) {
	av, bv := archsimd.BroadcastFloat32x16(a), archsimd.BroadcastFloat32x16(b)
	mv, cv := archsimd.BroadcastFloat32x16(m), archsimd.BroadcastFloat32x16(c)
	grad := func(d, xv archsimd.Float32x16) archsimd.Float32x16 { return d.MulAdd(av, xv.Sub(mv).MulAdd(bv, cv)) }
	n := len(dy)
	if n < 16 {
		grad(archsimd.LoadFloat32x16SlicePart(dy), archsimd.LoadFloat32x16SlicePart(x[:n])).StoreSlicePart(dx[:n])
		archsimd.ClearAVXUpperBits()
		return
	}
	last := grad(archsimd.LoadFloat32x16Slice(dy[n-16:]), archsimd.LoadFloat32x16Slice(x[n-16:n]))
	for i := 0; i+16 <= n; i += 16 {
		grad(archsimd.LoadFloat32x16Slice(dy[i:]), archsimd.LoadFloat32x16Slice(x[i:])).StoreSlice(dx[i:])
	}
	last.StoreSlice(dx[n-16 : n])
	archsimd.ClearAVXUpperBits()
}
