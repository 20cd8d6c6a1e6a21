//go:build goexperiment.simd && amd64

package conv3

import "simd/archsimd"

func init() {
	if archsimd.X86.AVX512() {
		accumulate, Fast = accumulateAVX512, true
	}
}

// accumulateAVX512 runs the 4 x 32 tile kernel over every strip of 4 filters (its 9*C*4
// weights stay in L1) and, within it, every tile of 32 pixels.
func accumulateAVX512(p *Plan, y, xp, wp []float32) {
	hw, taps := p.H*p.W, p.C*9
	for s := 0; s*TileRows < p.F; s++ {
		w := wp[s*taps*TileRows : (s+1)*taps*TileRows]
		rows := min(TileRows, p.F-s*TileRows)
		for q := 0; q < hw; q += TileCols {
			v := q / 16
			ml := [2]uint16{p.masks[2*v], p.masks[2*v+2]}
			mr := [2]uint16{p.masks[2*v+1], p.masks[2*v+3]}
			tile(y[s*TileRows*hw:], hw, rows, q, xp, p.before+q, p.stride, p.W, p.C, w, ml, mr)
		}
	}
	archsimd.ClearAVXUpperBits()
}

// tile adds the 4 x 32 tile of filters [0, rows) of y (planes of hw pixels) at pixels
// [q, q+32) (those < hw): x is the padded image, pixel q of plane 0 at x0, planes stride
// apart; w the strip's packed weights; ml and mr the masks of the two vectors' lanes whose
// left and right neighbours lie in the row.
func tile(y []float32, hw, rows, q int, x []float32, x0, stride, width, channels int, w []float32, ml, mr [2]uint16) {
	var c00, c01, c10, c11, c20, c21, c30, c31 archsimd.Float32x16
	var b0, b1 archsimd.Float32x16
	l0, l1 := archsimd.Mask32x16FromBits(ml[0]), archsimd.Mask32x16FromBits(ml[1])
	r0, r1 := archsimd.Mask32x16FromBits(mr[0]), archsimd.Mask32x16FromBits(mr[1])
	for c := range channels {
		for i := -1; i <= 1; i++ {
			o := x0 + c*stride + i*width // x[o] is pixel q, tap row i, tap column 0
			ww := w[:12:12]
			b0 = archsimd.LoadMaskedFloat32x16((*[16]float32)(x[o-1:]), l0)
			b1 = archsimd.LoadMaskedFloat32x16((*[16]float32)(x[o+15:]), l1)
			c00 = archsimd.BroadcastFloat32x16(ww[0]).MulAdd(b0, c00)
			c01 = archsimd.BroadcastFloat32x16(ww[0]).MulAdd(b1, c01)
			c10 = archsimd.BroadcastFloat32x16(ww[1]).MulAdd(b0, c10)
			c11 = archsimd.BroadcastFloat32x16(ww[1]).MulAdd(b1, c11)
			c20 = archsimd.BroadcastFloat32x16(ww[2]).MulAdd(b0, c20)
			c21 = archsimd.BroadcastFloat32x16(ww[2]).MulAdd(b1, c21)
			c30 = archsimd.BroadcastFloat32x16(ww[3]).MulAdd(b0, c30)
			c31 = archsimd.BroadcastFloat32x16(ww[3]).MulAdd(b1, c31)
			b0 = archsimd.LoadFloat32x16Slice(x[o:])
			b1 = archsimd.LoadFloat32x16Slice(x[o+16:])
			c00 = archsimd.BroadcastFloat32x16(ww[4]).MulAdd(b0, c00)
			c01 = archsimd.BroadcastFloat32x16(ww[4]).MulAdd(b1, c01)
			c10 = archsimd.BroadcastFloat32x16(ww[5]).MulAdd(b0, c10)
			c11 = archsimd.BroadcastFloat32x16(ww[5]).MulAdd(b1, c11)
			c20 = archsimd.BroadcastFloat32x16(ww[6]).MulAdd(b0, c20)
			c21 = archsimd.BroadcastFloat32x16(ww[6]).MulAdd(b1, c21)
			c30 = archsimd.BroadcastFloat32x16(ww[7]).MulAdd(b0, c30)
			c31 = archsimd.BroadcastFloat32x16(ww[7]).MulAdd(b1, c31)
			b0 = archsimd.LoadMaskedFloat32x16((*[16]float32)(x[o+1:]), r0)
			b1 = archsimd.LoadMaskedFloat32x16((*[16]float32)(x[o+17:]), r1)
			c00 = archsimd.BroadcastFloat32x16(ww[8]).MulAdd(b0, c00)
			c01 = archsimd.BroadcastFloat32x16(ww[8]).MulAdd(b1, c01)
			c10 = archsimd.BroadcastFloat32x16(ww[9]).MulAdd(b0, c10)
			c11 = archsimd.BroadcastFloat32x16(ww[9]).MulAdd(b1, c11)
			c20 = archsimd.BroadcastFloat32x16(ww[10]).MulAdd(b0, c20)
			c21 = archsimd.BroadcastFloat32x16(ww[10]).MulAdd(b1, c21)
			c30 = archsimd.BroadcastFloat32x16(ww[11]).MulAdd(b0, c30)
			c31 = archsimd.BroadcastFloat32x16(ww[11]).MulAdd(b1, c31)
			w = w[12:]
		}
	}
	n := min(TileCols, hw-q)
	add := func(row int, lo, hi archsimd.Float32x16) {
		if row >= rows {
			return
		}
		out := y[row*hw+q : row*hw+q+n]
		if n == TileCols {
			lo.Add(archsimd.LoadFloat32x16Slice(out)).StoreSlice(out)
			hi.Add(archsimd.LoadFloat32x16Slice(out[16:])).StoreSlice(out[16:])
			return
		}
		lo.Add(archsimd.LoadFloat32x16SlicePart(out)).StoreSlicePart(out)
		if n > 16 {
			hi.Add(archsimd.LoadFloat32x16SlicePart(out[16:])).StoreSlicePart(out[16:])
		}
	}
	add(0, c00, c01)
	add(1, c10, c11)
	add(2, c20, c21)
	add(3, c30, c31)
}
