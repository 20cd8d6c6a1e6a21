//go:build goexperiment.simd && amd64

package vmath

import "simd/archsimd"

func init() {
	if archsimd.X86.AVX2() {
		affine32 = affine32AVX2
	}
	if archsimd.X86.AVX512() {
		affine32 = affine32AVX512
	}
}

// affine32AVX512 is affine32Go 16 elements a step (VMULPS then VADDPS, the same roundings);
// a tail of fewer than 16 as gelu32AVX512's (the last 16 values computed before the steps,
// dst may alias x, stored after them), where the AVX2 kernel masked its last step.
func affine32AVX512(dst, x []float32, a, b float32) {
	n := len(x)
	if n < 16 {
		affine32AVX2(dst, x, a, b)
		return
	}
	va, vb := archsimd.BroadcastFloat32x16(a), archsimd.BroadcastFloat32x16(b)
	last := archsimd.LoadFloat32x16Slice(x[n-16:]).Mul(va).Add(vb)
	for i := 0; i+16 <= n; i += 16 {
		archsimd.LoadFloat32x16Slice(x[i:]).Mul(va).Add(vb).StoreSlice(dst[i:])
	}
	last.StoreSlice(dst[n-16 : n])
	archsimd.ClearAVXUpperBits()
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
