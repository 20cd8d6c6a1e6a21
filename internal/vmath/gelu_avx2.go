//go:build goexperiment.simd && amd64

package vmath

import "simd/archsimd"

func init() {
	if avx2() {
		gelu32 = gelu32AVX2
		geluGrad32 = geluGrad32AVX2
	}
}

// phi8 is phi32 on 8 lanes: Phi(x) and exp(-x^2/2).
func phi8(x archsimd.Float32x8) (cdf, gauss archsimd.Float32x8) {
	one := archsimd.BroadcastFloat32x8(1)
	u := x.AsInt32x8().And(archsimd.BroadcastInt32x8(0x7fffffff)).AsFloat32x8().Mul(archsimd.BroadcastFloat32x8(invSqrt2))
	t := one.Div(archsimd.BroadcastFloat32x8(geluP).MulAdd(u, one))
	gauss = exp8(x.Mul(x).Mul(archsimd.BroadcastFloat32x8(-0.5)))
	q := archsimd.BroadcastFloat32x8(geluA5)
	q = q.MulAdd(t, archsimd.BroadcastFloat32x8(geluA4))
	q = q.MulAdd(t, archsimd.BroadcastFloat32x8(geluA3))
	q = q.MulAdd(t, archsimd.BroadcastFloat32x8(geluA2))
	q = q.MulAdd(t, archsimd.BroadcastFloat32x8(geluA1))
	c := q.Mul(t).Mul(gauss).Mul(archsimd.BroadcastFloat32x8(0.5))
	var zero archsimd.Float32x8
	return one.Sub(c).Merge(c, x.GreaterEqual(zero)), gauss
}

func gelu32AVX2(dst, x []float32) {
	i := 0
	for ; i+8 <= len(x); i += 8 {
		v := archsimd.LoadFloat32x8Slice(x[i:])
		cdf, _ := phi8(v)
		v.Mul(cdf).StoreSlice(dst[i:])
	}
	if i < len(x) {
		v := archsimd.LoadFloat32x8SlicePart(x[i:])
		cdf, _ := phi8(v)
		v.Mul(cdf).StoreSlicePart(dst[i:])
	}
	archsimd.ClearAVXUpperBits()
}

func geluGrad32AVX2(dx, x, dy []float32) {
	k := archsimd.BroadcastFloat32x8(invSqrt2Pi)
	i := 0
	for ; i+8 <= len(x); i += 8 {
		v := archsimd.LoadFloat32x8Slice(x[i:])
		cdf, gauss := phi8(v)
		d := v.Mul(k).MulAdd(gauss, cdf)
		archsimd.LoadFloat32x8Slice(dy[i:]).Mul(d).StoreSlice(dx[i:])
	}
	if i < len(x) {
		v := archsimd.LoadFloat32x8SlicePart(x[i:])
		cdf, gauss := phi8(v)
		d := v.Mul(k).MulAdd(gauss, cdf)
		archsimd.LoadFloat32x8SlicePart(dy[i:]).Mul(d).StoreSlicePart(dx[i:])
	}
	archsimd.ClearAVXUpperBits()
}
