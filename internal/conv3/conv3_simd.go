//go:build goexperiment.simd && amd64

package conv3

import (
	"simd/archsimd"
	"unsafe"

	"xent/internal/vmath"
)

func init() {
	if archsimd.X86.AVX512() {
		accumulate, grad, Fast = accumulateAVX512, gradAVX512, true
	}
}

// accumulateAVX512 runs the 4 x 32 tile kernel over every strip of 4 filters (its 9*C*4
// weights stay in L1) and, within it, every tile of 32 pixels.
func accumulateAVX512(p *Plan, y, xp, wp []float32) {
	hw, taps := p.H*p.W, p.C*9
	for s := 0; s*TileRows < p.F; s++ {
		w := wp[s*taps*TileRows : (s+1)*taps*TileRows+wpSlack]
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
	// Reads go through unsafe pointers within these bounds: with slices, Go spends more
	// instructions on bounds checks and reloading the slices than on the arithmetic.
	if x0-width-1 < 0 || x0+(channels-1)*stride+width+1+TileCols > len(x) || len(w) < channels*9*TileRows+wpSlack {
		panic("conv3: tile bounds")
	}
	var c00, c01, c10, c11, c20, c21, c30, c31 archsimd.Float32x16
	var b0, b1 archsimd.Float32x16
	l0, l1 := archsimd.Mask32x16FromBits(ml[0]), archsimd.Mask32x16FromBits(ml[1])
	r0, r1 := archsimd.Mask32x16FromBits(mr[0]), archsimd.Mask32x16FromBits(mr[1])
	pw := unsafe.Pointer(&w[0])
	px := unsafe.Pointer(&x[x0-width]) // pixel q of tap row -1 (its column 0) in channel 0
	rowBytes, planeBytes := uintptr(width)*4, uintptr(stride)*4
	for c := channels; c > 0; c-- {
		pr := px
		for i := 0; i < 3; i++ {
			b0 = archsimd.LoadMaskedFloat32x16((*[16]float32)(unsafe.Add(pr, -4)), l0)
			b1 = archsimd.LoadMaskedFloat32x16((*[16]float32)(unsafe.Add(pr, 60)), l1)
			c00 = vmath.BroadcastAt(pw, 0).MulAdd(b0, c00)
			c01 = vmath.BroadcastAt(pw, 0).MulAdd(b1, c01)
			c10 = vmath.BroadcastAt(pw, 4).MulAdd(b0, c10)
			c11 = vmath.BroadcastAt(pw, 4).MulAdd(b1, c11)
			c20 = vmath.BroadcastAt(pw, 8).MulAdd(b0, c20)
			c21 = vmath.BroadcastAt(pw, 8).MulAdd(b1, c21)
			c30 = vmath.BroadcastAt(pw, 12).MulAdd(b0, c30)
			c31 = vmath.BroadcastAt(pw, 12).MulAdd(b1, c31)
			b0 = archsimd.LoadFloat32x16((*[16]float32)(pr))
			b1 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(pr, 64)))
			c00 = vmath.BroadcastAt(pw, 16).MulAdd(b0, c00)
			c01 = vmath.BroadcastAt(pw, 16).MulAdd(b1, c01)
			c10 = vmath.BroadcastAt(pw, 20).MulAdd(b0, c10)
			c11 = vmath.BroadcastAt(pw, 20).MulAdd(b1, c11)
			c20 = vmath.BroadcastAt(pw, 24).MulAdd(b0, c20)
			c21 = vmath.BroadcastAt(pw, 24).MulAdd(b1, c21)
			c30 = vmath.BroadcastAt(pw, 28).MulAdd(b0, c30)
			c31 = vmath.BroadcastAt(pw, 28).MulAdd(b1, c31)
			b0 = archsimd.LoadMaskedFloat32x16((*[16]float32)(unsafe.Add(pr, 4)), r0)
			b1 = archsimd.LoadMaskedFloat32x16((*[16]float32)(unsafe.Add(pr, 68)), r1)
			c00 = vmath.BroadcastAt(pw, 32).MulAdd(b0, c00)
			c01 = vmath.BroadcastAt(pw, 32).MulAdd(b1, c01)
			c10 = vmath.BroadcastAt(pw, 36).MulAdd(b0, c10)
			c11 = vmath.BroadcastAt(pw, 36).MulAdd(b1, c11)
			c20 = vmath.BroadcastAt(pw, 40).MulAdd(b0, c20)
			c21 = vmath.BroadcastAt(pw, 40).MulAdd(b1, c21)
			c30 = vmath.BroadcastAt(pw, 44).MulAdd(b0, c30)
			c31 = vmath.BroadcastAt(pw, 44).MulAdd(b1, c31)
			pr, pw = unsafe.Add(pr, rowBytes), unsafe.Add(pw, 48)
		}
		px = unsafe.Add(px, planeBytes)
	}
	addTileRow(y, hw, q, 0, rows, c00, c01)
	addTileRow(y, hw, q, 1, rows, c10, c11)
	addTileRow(y, hw, q, 2, rows, c20, c21)
	addTileRow(y, hw, q, 3, rows, c30, c31)
}

// addTileRow adds lo and hi to row row of y (planes of hw pixels) at pixels [q, q+32), those
// below hw; rows past rows are the strip's padding and are dropped.
func addTileRow(y []float32, hw, q, row, rows int, lo, hi archsimd.Float32x16) {
	if row >= rows {
		return
	}
	n := min(TileCols, hw-q)
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

// gradRows is the number of filters the gradient kernel takes at a time.
const gradRows = 2

// gradAVX512 adds one image's weight gradient to dw [F,C,3,3] (gradTaps); planes whose
// pixels are not a multiple of 16 go to gradGo.
func gradAVX512(p *Plan, dw, dy, xp []float32) {
	if hw := p.H * p.W; hw%16 != 0 || p.F < gradRows {
		gradGo(p, dw, dy, xp)
		return
	}
	gradTaps(p, p, p.C, p.F, dw, dy, xp)
}

// gradTaps adds one image's weight gradient to dw [F,C,3,3] from dy [F, hw] (hw a multiple
// of 16, F >= gradRows) and the padded image xp, read through t, out's masks applying:
// gradRows filters and one row of 3 taps at a time (gradDot), the taps' planes found once
// per row.
func gradTaps(t tapper, out *Plan, c, f int, dw, dy, xp []float32) {
	hw := out.H * out.W
	masks := func(off int, masked bool, m []uint16) ([]float32, []uint16) {
		if !masked {
			m = out.ones
		}
		return xp[off : off+hw], m
	}
	var sums [gradRows * 3]float32
	for ci := range c {
		for i := range 3 {
			offL, left, _ := t.tap(ci, i, 0)
			offM, _, _ := t.tap(ci, i, 1)
			offR, _, right := t.tap(ci, i, 2)
			xl, lm := masks(offL, left, out.masks)
			xr, rm := masks(offR, right, out.masks[1:])
			xm := xp[offM : offM+hw]
			for done := 0; done < f; done += gradRows {
				// the last block is the last gradRows filters; of those, only the ones not done yet count
				f0 := min(done, f-gradRows)
				gradDot(dy[f0*hw:], hw, xl, xm, xr, lm, rm, &sums)
				for r := done - f0; r < gradRows; r++ {
					o := dw[((f0+r)*c+ci)*9+i*3:][:3]
					o[0] += sums[3*r]
					o[1] += sums[3*r+1]
					o[2] += sums[3*r+2]
				}
			}
		}
	}
	archsimd.ClearAVXUpperBits()
}

// gradDot writes sums[3r+j] = sum_q d[r*hw+q] * x_j[q], r < gradRows = 2, for the taps x_0 = xl (lanes
// masked by lm[2v] for the v-th 16 pixels), x_1 = xm and x_2 = xr (masked by rm[2v]), for
// d [2*hw] with hw a multiple of 16 and each x [hw]. Two filters, not more: Go keeps SIMD
// values in 15 registers, and with three filters (9 accumulators) it spilled. It reads
// through unsafe pointers, within the bounds checked here: with slices, Go keeps their
// words in memory and reloads them every iteration.
func gradDot(d []float32, hw int, xl, xm, xr []float32, lm, rm []uint16, sums *[gradRows * 3]float32) {
	if hw%16 != 0 || len(d) < gradRows*hw || len(xl) < hw || len(xm) < hw || len(xr) < hw || len(lm) < hw/8 || len(rm) < hw/8-1 {
		panic("conv3: gradDot bounds")
	}
	pd, pl, pm, pr := unsafe.Pointer(&d[0]), unsafe.Pointer(&xl[0]), unsafe.Pointer(&xm[0]), unsafe.Pointer(&xr[0])
	pml, pmr := unsafe.Pointer(&lm[0]), unsafe.Pointer(&rm[0])
	row := uintptr(hw) * 4
	var a00, a01, a02, a10, a11, a12 archsimd.Float32x16
	for n := hw / 16; n > 0; n-- {
		lmask := archsimd.Mask32x16FromBits(*(*uint16)(pml))
		rmask := archsimd.Mask32x16FromBits(*(*uint16)(pmr))
		y0 := archsimd.LoadFloat32x16((*[16]float32)(pd))
		y1 := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(pd, row)))
		x0 := archsimd.LoadMaskedFloat32x16((*[16]float32)(pl), lmask)
		a00 = x0.MulAdd(y0, a00)
		a10 = x0.MulAdd(y1, a10)
		x1 := archsimd.LoadFloat32x16((*[16]float32)(pm))
		a01 = x1.MulAdd(y0, a01)
		a11 = x1.MulAdd(y1, a11)
		x2 := archsimd.LoadMaskedFloat32x16((*[16]float32)(pr), rmask)
		a02 = x2.MulAdd(y0, a02)
		a12 = x2.MulAdd(y1, a12)
		pd, pl, pm, pr = unsafe.Add(pd, 64), unsafe.Add(pl, 64), unsafe.Add(pm, 64), unsafe.Add(pr, 64)
		pml, pmr = unsafe.Add(pml, 4), unsafe.Add(pmr, 4)
	}
	// the lanes of each accumulator summed: halves, quarters, then pairs of pairs by VHADDPS,
	// four accumulators to a vector
	q00, q01, q02, q10, q11, q12 := quarters(a00), quarters(a01), quarters(a02), quarters(a10), quarters(a11), quarters(a12)
	q00.AddPairs(q01).AddPairs(q02.AddPairs(q10)).Store((*[4]float32)(sums[0:4]))
	last := q11.AddPairs(q12)
	last = last.AddPairs(last)
	sums[4], sums[5] = last.GetElem(0), last.GetElem(1)
}

// quarters returns the sums of v's four quarters' lanes lane by lane: v[i] + v[i+4] + v[i+8] + v[i+12], i < 4.
func quarters(v archsimd.Float32x16) archsimd.Float32x4 {
	h := v.GetLo().Add(v.GetHi())
	return h.GetLo().Add(h.GetHi())
}
