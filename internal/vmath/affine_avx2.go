//go:build goexperiment.simd && amd64

package vmath

import "simd/archsimd"

// Affine32 is memory-bound: the AVX2 kernel serves AVX-512 processors too.
func init() {
	if archsimd.X86.AVX2() {
		affine32 = affine32AVX2
	}
}

// affine32AVX2 is affine32Go 32 elements a step (VMULPS then VADDPS, the same roundings),
// the tail 8 at a time, the last ones masked.
func affine32AVX2(dst, x []float32, a, b float32) {
	va, vb := archsimd.BroadcastFloat32x8(a), archsimd.BroadcastFloat32x8(b)
	i := 0
	for ; i+32 <= len(x); i += 32 {
		s, d := x[i:i+32:i+32], dst[i:i+32:i+32]
		archsimd.LoadFloat32x8Slice(s).Mul(va).Add(vb).StoreSlice(d)
		archsimd.LoadFloat32x8Slice(s[8:]).Mul(va).Add(vb).StoreSlice(d[8:])
		archsimd.LoadFloat32x8Slice(s[16:]).Mul(va).Add(vb).StoreSlice(d[16:])
		archsimd.LoadFloat32x8Slice(s[24:]).Mul(va).Add(vb).StoreSlice(d[24:])
	}
	for ; i < len(x); i += 8 {
		archsimd.LoadFloat32x8SlicePart(x[i:]).Mul(va).Add(vb).StoreSlicePart(dst[i:])
	}
	archsimd.ClearAVXUpperBits()
}
