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

// gradSums32AVX512: 16 values a step, the last ones masked (a zero dy adds nothing).
func gradSums32AVX512(dy, x []float32, m float32) (sumDy, sumDyX float64) {
	mv := archsimd.BroadcastFloat32x16(m)
	var s, sx archsimd.Float32x16
	for i := 0; i < len(dy); i += 16 {
		d := archsimd.LoadFloat32x16SlicePart(dy[i:])
		xc := archsimd.LoadFloat32x16SlicePart(x[i:]).Sub(mv)
		s, sx = s.Add(d), d.MulAdd(xc, sx)
	}
	sumDy, sumDyX = lanes64(s), lanes64(sx)
	archsimd.ClearAVXUpperBits()
	return sumDy, sumDyX
}

// normGrad32AVX512: 16 values a step, the last ones masked.
func normGrad32AVX512(dx, dy, x []float32, a, b, m, c float32) {
	av, bv := archsimd.BroadcastFloat32x16(a), archsimd.BroadcastFloat32x16(b)
	mv, cv := archsimd.BroadcastFloat32x16(m), archsimd.BroadcastFloat32x16(c)
	for i := 0; i < len(dy); i += 16 {
		xc := archsimd.LoadFloat32x16SlicePart(x[i:]).Sub(mv)
		d := archsimd.LoadFloat32x16SlicePart(dy[i:])
		d.MulAdd(av, xc.MulAdd(bv, cv)).StoreSlicePart(dx[i:])
	}
	archsimd.ClearAVXUpperBits()
}
