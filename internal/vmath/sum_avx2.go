//go:build goexperiment.simd && amd64

package vmath

import "simd/archsimd"

func init() {
	if avx2() {
		sum32 = sum32AVX2
	}
}

// sum32AVX2 adds 32 elements a step in four float32 vectors, then their lanes and the
// tail in float64.
func sum32AVX2(x []float32) float64 {
	var a0, a1, a2, a3 archsimd.Float32x8
	i := 0
	for ; i+32 <= len(x); i += 32 {
		v := x[i : i+32 : i+32]
		a0 = a0.Add(archsimd.LoadFloat32x8Slice(v))
		a1 = a1.Add(archsimd.LoadFloat32x8Slice(v[8:]))
		a2 = a2.Add(archsimd.LoadFloat32x8Slice(v[16:]))
		a3 = a3.Add(archsimd.LoadFloat32x8Slice(v[24:]))
	}
	var lanes [8]float32
	a0.Add(a1).Add(a2.Add(a3)).Store(&lanes)
	archsimd.ClearAVXUpperBits()
	var s float64
	for _, v := range lanes {
		s += float64(v)
	}
	return s + sum32Go(x[i:])
}
