//go:build goexperiment.simd && amd64

package vmath

import "simd/archsimd"

func init() {
	if archsimd.X86.AVX512() {
		sum32 = sum32AVX512
	}
}

// sum32AVX512 adds 64 elements a step in four float32 vectors, then their lanes and the
// tail in float64.
func sum32AVX512(x []float32) float64 {
	var a0, a1, a2, a3 archsimd.Float32x16
	i := 0
	for ; i+64 <= len(x); i += 64 {
		v := x[i : i+64 : i+64]
		a0 = a0.Add(archsimd.LoadFloat32x16Slice(v))
		a1 = a1.Add(archsimd.LoadFloat32x16Slice(v[16:]))
		a2 = a2.Add(archsimd.LoadFloat32x16Slice(v[32:]))
		a3 = a3.Add(archsimd.LoadFloat32x16Slice(v[48:]))
	}
	var lanes [16]float32
	a0.Add(a1).Add(a2.Add(a3)).Store(&lanes)
	archsimd.ClearAVXUpperBits()
	var s float64
	for _, v := range lanes {
		s += float64(v)
	}
	return s + sum32Go(x[i:])
}
