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

func gelu32AVX512(dst, x []float32) {
	i := 0
	for ; i+16 <= len(x); i += 16 {
		v := archsimd.LoadFloat32x16Slice(x[i:])
		cdf, _ := phi16(v)
		v.Mul(cdf).StoreSlice(dst[i:])
	}
	if i < len(x) {
		v := archsimd.LoadFloat32x16SlicePart(x[i:])
		cdf, _ := phi16(v)
		v.Mul(cdf).StoreSlicePart(dst[i:])
	}
	archsimd.ClearAVXUpperBits()
}

func geluGrad32AVX512(dx, x, dy []float32) {
	k := archsimd.BroadcastFloat32x16(invSqrt2Pi)
	i := 0
	for ; i+16 <= len(x); i += 16 {
		v := archsimd.LoadFloat32x16Slice(x[i:])
		cdf, gauss := phi16(v)
		d := v.Mul(k).MulAdd(gauss, cdf)
		archsimd.LoadFloat32x16Slice(dy[i:]).Mul(d).StoreSlice(dx[i:])
	}
	if i < len(x) {
		v := archsimd.LoadFloat32x16SlicePart(x[i:])
		cdf, gauss := phi16(v)
		d := v.Mul(k).MulAdd(gauss, cdf)
		archsimd.LoadFloat32x16SlicePart(dy[i:]).Mul(d).StoreSlicePart(dx[i:])
	}
	archsimd.ClearAVXUpperBits()
}
