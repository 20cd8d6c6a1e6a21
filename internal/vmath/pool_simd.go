//go:build goexperiment.simd && amd64

package vmath

import "simd/archsimd"

func init() {
	if archsimd.X86.AVX512() {
		maxPool2x2 = maxPool2x2AVX512
		maxPool2x2Grad = maxPool2x2GradAVX512
	}
}

var (
	swapPairs = [16]uint32{1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14}
	laneIota  = [16]int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	pairLanes = [16]uint32{0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7}
)

// maxPool2x2AVX512 takes 16 columns of two rows a step: the column winners (bottom if
// greater), then each pair's winner (right if greater), the 8 even lanes compressed to the
// front and stored, with their indices built the same way.
//
// It avoids masked loads and stores, which stall here on data just written by the layer
// before (airbench's pools in place spent 44% of their time on the two masked loads of a
// 31-wide row, Zen 5). A row whose used columns do not fill the last step ends with the 16
// columns before its end, overlapping the step before (same values written twice); a row
// narrower than 16 is loaded whole with what follows it in x, where x goes on that far,
// and its 8 results are stored whole where y and arg go on past the row (the next row
// overwrites the extra one). Only a plane's last row can need a masked step.
func maxPool2x2AVX512(y []float32, arg []int32, x []float32, w, ho, wo int) {
	swap := archsimd.LoadUint32x16(&swapPairs)
	iota := archsimd.LoadInt32x16(&laneIota)
	even := archsimd.Mask32x16FromBits(0x5555)
	rowOff := archsimd.BroadcastInt32x16(int32(w))
	used := 2 * wo // columns that fall in a window
	for oy := range ho {
		r0, r1 := 2*oy*w, (2*oy+1)*w
		for c := 0; c < used; c += 16 {
			if c+16 > used && used >= 16 {
				c = used - 16
			}
			n := min(16, used-c) // the columns this step owns
			var top, bottom archsimd.Float32x16
			if r1+c+16 <= len(x) {
				top, bottom = archsimd.LoadFloat32x16Slice(x[r0+c:]), archsimd.LoadFloat32x16Slice(x[r1+c:])
			} else {
				top, bottom = archsimd.LoadFloat32x16SlicePart(x[r0+c:r0+c+n]), archsimd.LoadFloat32x16SlicePart(x[r1+c:r1+c+n])
			}
			down := bottom.Greater(top)
			v := bottom.Merge(top, down)
			idx := iota.Add(archsimd.BroadcastInt32x16(int32(r0 + c))).Add(rowOff.Masked(down))
			sv, si := v.Permute(swap), idx.Permute(swap)
			right := sv.Greater(v)
			v, idx = sv.Merge(v, right), si.Merge(idx, right)
			vs, is := v.Compress(even).GetLo(), idx.Compress(even).GetLo()
			o := oy*wo + c/2
			if o+8 <= len(y) && o+8 <= len(arg) {
				vs.StoreSlice(y[o:])
				is.StoreSlice(arg[o:])
			} else {
				vs.StoreSlicePart(y[o : o+n/2])
				is.StoreSlicePart(arg[o : o+n/2])
			}
		}
	}
	archsimd.ClearAVXUpperBits()
}

// maxPool2x2GradAVX512 writes two rows of dx, 16 columns each, a step: the step's 8
// gradients and positions spread to lane pairs, each lane keeping its gradient where the
// position is its own column in the top (bottom) row, zero elsewhere. Steps fall as in
// maxPool2x2AVX512 (the last one overlapping, stores whole where dx goes on past the row;
// a row's spill into the next is overwritten there); the columns and rows past the
// windows are cleared after.
func maxPool2x2GradAVX512(dx, dy []float32, arg []int32, w, ho, wo int) {
	dup := archsimd.LoadUint32x16(&pairLanes)
	iota := archsimd.LoadInt32x16(&laneIota)
	rowOff := archsimd.BroadcastInt32x16(int32(w))
	used := 2 * wo
	for oy := range ho {
		r0, r1 := 2*oy*w, (2*oy+1)*w
		for c := 0; c < used; c += 16 {
			if c+16 > used && used >= 16 {
				c = used - 16
			}
			n := min(16, used-c)
			o := oy*wo + c/2
			var g archsimd.Float32x16
			var at archsimd.Int32x16
			if o+16 <= len(dy) && o+16 <= len(arg) {
				g, at = archsimd.LoadFloat32x16Slice(dy[o:]), archsimd.LoadInt32x16Slice(arg[o:])
			} else {
				g, at = archsimd.LoadFloat32x16SlicePart(dy[o:o+n/2]), archsimd.LoadInt32x16SlicePart(arg[o:o+n/2])
			}
			g, at = g.Permute(dup), at.Permute(dup)
			col := iota.Add(archsimd.BroadcastInt32x16(int32(r0 + c)))
			top, bottom := g.Masked(at.Equal(col)), g.Masked(at.Equal(col.Add(rowOff)))
			if r1+c+16 <= len(dx) {
				top.StoreSlice(dx[r0+c:])
				bottom.StoreSlice(dx[r1+c:])
			} else {
				top.StoreSlicePart(dx[r0+c : r0+c+n])
				bottom.StoreSlicePart(dx[r1+c : r1+c+n])
			}
		}
		clear(dx[r0+used : r0+w])
		clear(dx[r1+used : r1+w])
	}
	clear(dx[2*ho*w:])
	archsimd.ClearAVXUpperBits()
}

func init() {
	if archsimd.X86.AVX512() {
		maxPoolLanes2x2 = maxPoolLanes2x2AVX512
		maxPoolLanes2x2Grad = maxPoolLanes2x2GradAVX512
	}
}

// maxPoolLanes2x2AVX512 is maxPoolLanes2x2Go with a pixel's 16 lanes in one vector: four
// whole loads and two whole stores a window, no masked memory operation.
func maxPoolLanes2x2AVX512(y []float32, arg []int32, x []float32, w, ho, wo int) {
	const l = LaneCount
	one, two, three := archsimd.BroadcastInt32x16(1), archsimd.BroadcastInt32x16(2), archsimd.BroadcastInt32x16(3)
	for oy := range ho {
		for ox := range wo {
			tl := (2*oy*w + 2*ox) * l
			bl := tl + w*l
			top, bottom := archsimd.LoadFloat32x16Slice(x[tl:][:l]), archsimd.LoadFloat32x16Slice(x[bl:][:l])
			topR, bottomR := archsimd.LoadFloat32x16Slice(x[tl+l:][:l]), archsimd.LoadFloat32x16Slice(x[bl+l:][:l])
			down := bottom.Greater(top)
			v0, i0 := bottom.Merge(top, down), two.Masked(down)
			downR := bottomR.Greater(topR)
			v1, i1 := bottomR.Merge(topR, downR), three.Merge(one, downR)
			right := v1.Greater(v0)
			o := (oy*wo + ox) * l
			v1.Merge(v0, right).StoreSlice(y[o:][:l])
			i1.Merge(i0, right).StoreSlice(arg[o:][:l])
		}
	}
	archsimd.ClearAVXUpperBits()
}

// maxPoolLanes2x2GradAVX512 is maxPoolLanes2x2GradGo with a pixel's 16 lanes in one vector.
func maxPoolLanes2x2GradAVX512(dx, dy []float32, arg []int32, w, ho, wo int) {
	const l = LaneCount
	one, two, three := archsimd.BroadcastInt32x16(1), archsimd.BroadcastInt32x16(2), archsimd.BroadcastInt32x16(3)
	zero := archsimd.BroadcastInt32x16(0)
	for oy := range ho {
		for ox := range wo {
			o := (oy*wo + ox) * l
			g, at := archsimd.LoadFloat32x16Slice(dy[o:][:l]), archsimd.LoadInt32x16Slice(arg[o:][:l])
			tl := (2*oy*w + 2*ox) * l
			bl := tl + w*l
			g.Masked(at.Equal(zero)).StoreSlice(dx[tl:][:l])
			g.Masked(at.Equal(one)).StoreSlice(dx[tl+l:][:l])
			g.Masked(at.Equal(two)).StoreSlice(dx[bl:][:l])
			g.Masked(at.Equal(three)).StoreSlice(dx[bl+l:][:l])
		}
	}
	archsimd.ClearAVXUpperBits()
}
