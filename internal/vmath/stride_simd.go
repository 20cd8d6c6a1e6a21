//go:build goexperiment.simd && amd64

package vmath

import "simd/archsimd"

func init() {
	if archsimd.X86.AVX512() {
		addSpread32 = addSpread32AVX512
		deinterleave32 = deinterleave32AVX512
		interleave32 = interleave32AVX512
	}
}

var (
	spreadLo  = [16]uint32{0, 16, 1, 16, 2, 16, 3, 16, 4, 16, 5, 16, 6, 16, 7, 16} // x's 0-7 apart, y's lane 0 (zero) between
	spreadHi  = [16]uint32{8, 16, 9, 16, 10, 16, 11, 16, 12, 16, 13, 16, 14, 16, 15, 16}
	evenLanes = [16]uint32{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30} // of two vectors side by side
	oddLanes  = [16]uint32{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31}
	zipLo     = [16]uint32{0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23} // lanes 0-7 of two vectors, alternating
	zipHi     = [16]uint32{8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31}
)

// addSpread32AVX512 adds 16 at a time into the even lanes of 32, the last (short) ones by
// partial loads and stores.
func addSpread32AVX512(dst, src []float32) {
	lo, hi := archsimd.LoadUint32x16(&spreadLo), archsimd.LoadUint32x16(&spreadHi)
	var zero archsimd.Float32x16
	for i := 0; i < len(src); i += 16 {
		v := archsimd.LoadFloat32x16SlicePart(src[i:min(len(src), i+16)])
		d := dst[2*i : min(len(dst), 2*i+32)]
		d0 := d[:min(16, len(d))]
		archsimd.LoadFloat32x16SlicePart(d0).Add(v.ConcatPermute(zero, lo)).StoreSlicePart(d0)
		if len(d) > 16 {
			d1 := d[16:]
			archsimd.LoadFloat32x16SlicePart(d1).Add(v.ConcatPermute(zero, hi)).StoreSlicePart(d1)
		}
	}
	archsimd.ClearAVXUpperBits()
}

// deinterleave32AVX512 splits 32 elements at a time into 16 even and 16 odd ones (two
// two-vector permutes), the last (short) ones by partial loads and stores.
func deinterleave32AVX512(even, odd, src []float32) {
	ie, io := archsimd.LoadUint32x16(&evenLanes), archsimd.LoadUint32x16(&oddLanes)
	n := len(even)
	i := 0
	for ; i+16 <= n; i += 16 {
		lo := archsimd.LoadFloat32x16Slice(src[2*i:])
		hi := archsimd.LoadFloat32x16Slice(src[2*i+16:])
		lo.ConcatPermute(hi, ie).StoreSlice(even[i:])
		lo.ConcatPermute(hi, io).StoreSlice(odd[i:])
	}
	if i < n {
		rest := src[2*i:]
		lo := archsimd.LoadFloat32x16SlicePart(rest)
		var hi archsimd.Float32x16
		if len(rest) > 16 {
			hi = archsimd.LoadFloat32x16SlicePart(rest[16:])
		}
		lo.ConcatPermute(hi, ie).StoreSlicePart(even[i:])
		lo.ConcatPermute(hi, io).StoreSlicePart(odd[i:])
	}
	archsimd.ClearAVXUpperBits()
}

// interleave32AVX512 zips 16 even and 16 odd elements at a time into 32 (two two-vector
// permutes), the last (short) ones by partial loads and stores.
func interleave32AVX512(dst, even, odd []float32) {
	lo, hi := archsimd.LoadUint32x16(&zipLo), archsimd.LoadUint32x16(&zipHi)
	n := len(even)
	i := 0
	for ; i+16 <= n; i += 16 {
		e, o := archsimd.LoadFloat32x16Slice(even[i:]), archsimd.LoadFloat32x16Slice(odd[i:])
		e.ConcatPermute(o, lo).StoreSlice(dst[2*i:])
		e.ConcatPermute(o, hi).StoreSlice(dst[2*i+16:])
	}
	if i < n {
		e, o := archsimd.LoadFloat32x16SlicePart(even[i:]), archsimd.LoadFloat32x16SlicePart(odd[i:])
		rest := dst[2*i:]
		e.ConcatPermute(o, lo).StoreSlicePart(rest)
		if len(rest) > 16 {
			e.ConcatPermute(o, hi).StoreSlicePart(rest[16:])
		}
	}
	archsimd.ClearAVXUpperBits()
}
