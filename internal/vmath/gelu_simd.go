//go:build goexperiment.simd && amd64

package vmath

import "simd/archsimd"

func init() {
	if archsimd.X86.AVX512() {
		gelu32 = gelu32AVX512
		geluGrad32 = geluGrad32AVX512
	}
}

// phi16 is phi32 on 16 lanes: Phi(x) and exp(-x^2/2).
func phi16(x archsimd.Float32x16) (cdf, gauss archsimd.Float32x16) {
	one := archsimd.BroadcastFloat32x16(1)
	u := x.AsInt32x16().And(archsimd.BroadcastInt32x16(0x7fffffff)).AsFloat32x16().Mul(archsimd.BroadcastFloat32x16(invSqrt2))
	t := one.Div(archsimd.BroadcastFloat32x16(geluP).MulAdd(u, one))
	gauss = exp16(x.Mul(x).Mul(archsimd.BroadcastFloat32x16(-0.5)))
	q := archsimd.BroadcastFloat32x16(geluA5)
	q = q.MulAdd(t, archsimd.BroadcastFloat32x16(geluA4))
	q = q.MulAdd(t, archsimd.BroadcastFloat32x16(geluA3))
	q = q.MulAdd(t, archsimd.BroadcastFloat32x16(geluA2))
	q = q.MulAdd(t, archsimd.BroadcastFloat32x16(geluA1))
	c := q.Mul(t).Mul(gauss).Mul(archsimd.BroadcastFloat32x16(0.5))
	var zero archsimd.Float32x16
	return one.Sub(c).Merge(c, x.GreaterEqual(zero)), gauss
}

// gelu32AVX512 and geluGrad32AVX512 do 16 values a step. A tail of fewer than 16 after
// full steps is the last 16 values, computed before the steps (dst may alias x) and stored
// after them over the values the last step wrote the same: a masked load or store of
// values just written stalls here (see maxPool2x2AVX512). Slices shorter than 16 are one
// masked step.
func gelu32AVX512(dst, x []float32) {
	n := len(x)
	if n < 16 {
		v := archsimd.LoadFloat32x16SlicePart(x)
		cdf, _ := phi16(v)
		v.Mul(cdf).StoreSlicePart(dst[:n])
		archsimd.ClearAVXUpperBits()
		return
	}
	last := archsimd.LoadFloat32x16Slice(x[n-16:])
	cdf, _ := phi16(last)
	last = last.Mul(cdf)
	for i := 0; i+16 <= n; i += 16 {
		v := archsimd.LoadFloat32x16Slice(x[i:])
		cdf, _ := phi16(v)
		v.Mul(cdf).StoreSlice(dst[i:])
	}
	last.StoreSlice(dst[n-16 : n])
	archsimd.ClearAVXUpperBits()
}

func geluGrad32AVX512(dx, x, dy []float32) {
	k := archsimd.BroadcastFloat32x16(invSqrt2Pi)
	grad := func(v, g archsimd.Float32x16) archsimd.Float32x16 {
		cdf, gauss := phi16(v)
		return g.Mul(v.Mul(k).MulAdd(gauss, cdf))
	}
	n := len(x)
	if n < 16 {
		grad(archsimd.LoadFloat32x16SlicePart(x), archsimd.LoadFloat32x16SlicePart(dy[:n])).StoreSlicePart(dx[:n])
		archsimd.ClearAVXUpperBits()
		return
	}
	last := grad(archsimd.LoadFloat32x16Slice(x[n-16:]), archsimd.LoadFloat32x16Slice(dy[n-16:n]))
	for i := 0; i+16 <= n; i += 16 {
		grad(archsimd.LoadFloat32x16Slice(x[i:]), archsimd.LoadFloat32x16Slice(dy[i:])).StoreSlice(dx[i:])
	}
	last.StoreSlice(dx[n-16 : n])
	archsimd.ClearAVXUpperBits()
}
