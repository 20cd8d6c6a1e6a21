//go:build goexperiment.simd && amd64

package vmath

import "simd/archsimd"

func init() {
	if avx2() {
		maxPool2x2 = maxPool2x2AVX2
	}
}

var (
	swapPairs8 = [8]uint32{1, 0, 3, 2, 5, 4, 7, 6}
	evenLanes8 = [8]uint32{0, 2, 4, 6, 0, 2, 4, 6}
)

// maxPool2x2AVX2 is maxPool2x2AVX512 on 8 columns a step, with the 4 even lanes gathered to
// the front by VPERMPS (AVX2 has no compress) and stored with a masked store.
func maxPool2x2AVX2(y []float32, arg []int32, x []float32, w, ho, wo int) {
	swap, even := archsimd.LoadUint32x8(&swapPairs8), archsimd.LoadUint32x8(&evenLanes8)
	iota := archsimd.LoadInt32x8(&lanes8)
	rowOff := archsimd.BroadcastInt32x8(int32(w))
	used := 2 * wo // columns that fall in a window
	for oy := range ho {
		r0, r1 := 2*oy*w, (2*oy+1)*w
		for c := 0; c < used; c += 8 {
			n := min(8, used-c)
			top := archsimd.LoadFloat32x8SlicePart(x[r0+c : r0+used])
			bottom := archsimd.LoadFloat32x8SlicePart(x[r1+c : r1+used])
			down := bottom.Greater(top)
			v := bottom.Merge(top, down)
			idx := iota.Add(archsimd.BroadcastInt32x8(int32(r0 + c))).Add(rowOff.Masked(down))
			sv, si := v.Permute(swap), idx.Permute(swap)
			right := sv.Greater(v)
			v, idx = sv.Merge(v, right), si.Merge(idx, right)
			o := oy*wo + c/2
			v.Permute(even).StoreSlicePart(y[o : o+n/2])
			idx.Permute(even).StoreSlicePart(arg[o : o+n/2])
		}
	}
	archsimd.ClearAVXUpperBits()
}
