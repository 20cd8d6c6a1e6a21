//go:build goexperiment.simd && amd64

package conv3

import (
	"simd/archsimd"
	"unsafe"

	"xent/internal/vmath"
)

func init() {
	if archsimd.X86.AVX512() {
		accumulate2, grad2 = accumulate2AVX512, grad2AVX512
	}
}

// accumulate2AVX512 runs tile2 over every strip of 4 filters and tile of 32 output pixels.
func accumulate2AVX512(p *Plan2, y, xp, wp []float32) {
	o := p.out
	hw, taps := o.H*o.W, p.C*9
	for s := 0; s*TileRows < p.F; s++ {
		w := wp[s*taps*TileRows : (s+1)*taps*TileRows+wpSlack]
		rows := min(TileRows, p.F-s*TileRows)
		for q := 0; q < hw; q += TileCols {
			v := q / 16
			ml := [2]uint16{o.masks[2*v], o.masks[2*v+2]}
			tile2(y[s*TileRows*hw:], hw, rows, q, xp, o.before+q, o.stride, o.W, p.C, w, ml)
		}
	}
	archsimd.ClearAVXUpperBits()
}

// tile2 is tile for stride 2: channel c's taps read its four phase planes (P[a][b] is
// padded plane 4c+2a+b), shifted up a row for i = 0 and left a column (masked) for j = 0.
func tile2(y []float32, hw, rows, q int, x []float32, x0, stride, width, channels int, w []float32, ml [2]uint16) {
	if x0-width-1 < 0 || x0+(4*channels-1)*stride+TileCols > len(x) || len(w) < channels*9*TileRows+wpSlack {
		panic("conv3: tile2 bounds")
	}
	var c00, c01, c10, c11, c20, c21, c30, c31 archsimd.Float32x16
	var b0, b1 archsimd.Float32x16
	l0, l1 := archsimd.Mask32x16FromBits(ml[0]), archsimd.Mask32x16FromBits(ml[1])
	pw := unsafe.Pointer(&w[0])
	pc := unsafe.Pointer(&x[x0]) // pixel q of P[0][0] of channel 0
	rowBytes, planeBytes := width*4, stride*4
	for c := channels; c > 0; c-- {
		// tap (0, 0): P11 shifted by (-1, -1)
		b0 = archsimd.LoadMaskedFloat32x16((*[16]float32)(unsafe.Add(unsafe.Add(pc, 3*planeBytes), -rowBytes-4)), l0)
		b1 = archsimd.LoadMaskedFloat32x16((*[16]float32)(unsafe.Add(unsafe.Add(unsafe.Add(pc, 3*planeBytes), -rowBytes-4), 64)), l1)
		c00 = vmath.BroadcastAt(pw, 0).MulAdd(b0, c00)
		c01 = vmath.BroadcastAt(pw, 0).MulAdd(b1, c01)
		c10 = vmath.BroadcastAt(pw, 4).MulAdd(b0, c10)
		c11 = vmath.BroadcastAt(pw, 4).MulAdd(b1, c11)
		c20 = vmath.BroadcastAt(pw, 8).MulAdd(b0, c20)
		c21 = vmath.BroadcastAt(pw, 8).MulAdd(b1, c21)
		c30 = vmath.BroadcastAt(pw, 12).MulAdd(b0, c30)
		c31 = vmath.BroadcastAt(pw, 12).MulAdd(b1, c31)
		// tap (0, 1): P10 shifted by (-1, 0)
		b0 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(unsafe.Add(pc, 2*planeBytes), -rowBytes)))
		b1 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(unsafe.Add(unsafe.Add(pc, 2*planeBytes), -rowBytes), 64)))
		c00 = vmath.BroadcastAt(pw, 16).MulAdd(b0, c00)
		c01 = vmath.BroadcastAt(pw, 16).MulAdd(b1, c01)
		c10 = vmath.BroadcastAt(pw, 20).MulAdd(b0, c10)
		c11 = vmath.BroadcastAt(pw, 20).MulAdd(b1, c11)
		c20 = vmath.BroadcastAt(pw, 24).MulAdd(b0, c20)
		c21 = vmath.BroadcastAt(pw, 24).MulAdd(b1, c21)
		c30 = vmath.BroadcastAt(pw, 28).MulAdd(b0, c30)
		c31 = vmath.BroadcastAt(pw, 28).MulAdd(b1, c31)
		// tap (0, 2): P11 shifted by (-1, 0)
		b0 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(unsafe.Add(pc, 3*planeBytes), -rowBytes)))
		b1 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(unsafe.Add(unsafe.Add(pc, 3*planeBytes), -rowBytes), 64)))
		c00 = vmath.BroadcastAt(pw, 32).MulAdd(b0, c00)
		c01 = vmath.BroadcastAt(pw, 32).MulAdd(b1, c01)
		c10 = vmath.BroadcastAt(pw, 36).MulAdd(b0, c10)
		c11 = vmath.BroadcastAt(pw, 36).MulAdd(b1, c11)
		c20 = vmath.BroadcastAt(pw, 40).MulAdd(b0, c20)
		c21 = vmath.BroadcastAt(pw, 40).MulAdd(b1, c21)
		c30 = vmath.BroadcastAt(pw, 44).MulAdd(b0, c30)
		c31 = vmath.BroadcastAt(pw, 44).MulAdd(b1, c31)
		// tap (1, 0): P01 shifted by (0, -1)
		b0 = archsimd.LoadMaskedFloat32x16((*[16]float32)(unsafe.Add(unsafe.Add(pc, planeBytes), -4)), l0)
		b1 = archsimd.LoadMaskedFloat32x16((*[16]float32)(unsafe.Add(unsafe.Add(unsafe.Add(pc, planeBytes), -4), 64)), l1)
		c00 = vmath.BroadcastAt(pw, 48).MulAdd(b0, c00)
		c01 = vmath.BroadcastAt(pw, 48).MulAdd(b1, c01)
		c10 = vmath.BroadcastAt(pw, 52).MulAdd(b0, c10)
		c11 = vmath.BroadcastAt(pw, 52).MulAdd(b1, c11)
		c20 = vmath.BroadcastAt(pw, 56).MulAdd(b0, c20)
		c21 = vmath.BroadcastAt(pw, 56).MulAdd(b1, c21)
		c30 = vmath.BroadcastAt(pw, 60).MulAdd(b0, c30)
		c31 = vmath.BroadcastAt(pw, 60).MulAdd(b1, c31)
		// tap (1, 1): P00 shifted by (0, 0)
		b0 = archsimd.LoadFloat32x16((*[16]float32)(pc))
		b1 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(pc, 64)))
		c00 = vmath.BroadcastAt(pw, 64).MulAdd(b0, c00)
		c01 = vmath.BroadcastAt(pw, 64).MulAdd(b1, c01)
		c10 = vmath.BroadcastAt(pw, 68).MulAdd(b0, c10)
		c11 = vmath.BroadcastAt(pw, 68).MulAdd(b1, c11)
		c20 = vmath.BroadcastAt(pw, 72).MulAdd(b0, c20)
		c21 = vmath.BroadcastAt(pw, 72).MulAdd(b1, c21)
		c30 = vmath.BroadcastAt(pw, 76).MulAdd(b0, c30)
		c31 = vmath.BroadcastAt(pw, 76).MulAdd(b1, c31)
		// tap (1, 2): P01 shifted by (0, 0)
		b0 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(pc, planeBytes)))
		b1 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(unsafe.Add(pc, planeBytes), 64)))
		c00 = vmath.BroadcastAt(pw, 80).MulAdd(b0, c00)
		c01 = vmath.BroadcastAt(pw, 80).MulAdd(b1, c01)
		c10 = vmath.BroadcastAt(pw, 84).MulAdd(b0, c10)
		c11 = vmath.BroadcastAt(pw, 84).MulAdd(b1, c11)
		c20 = vmath.BroadcastAt(pw, 88).MulAdd(b0, c20)
		c21 = vmath.BroadcastAt(pw, 88).MulAdd(b1, c21)
		c30 = vmath.BroadcastAt(pw, 92).MulAdd(b0, c30)
		c31 = vmath.BroadcastAt(pw, 92).MulAdd(b1, c31)
		// tap (2, 0): P11 shifted by (0, -1)
		b0 = archsimd.LoadMaskedFloat32x16((*[16]float32)(unsafe.Add(unsafe.Add(pc, 3*planeBytes), -4)), l0)
		b1 = archsimd.LoadMaskedFloat32x16((*[16]float32)(unsafe.Add(unsafe.Add(unsafe.Add(pc, 3*planeBytes), -4), 64)), l1)
		c00 = vmath.BroadcastAt(pw, 96).MulAdd(b0, c00)
		c01 = vmath.BroadcastAt(pw, 96).MulAdd(b1, c01)
		c10 = vmath.BroadcastAt(pw, 100).MulAdd(b0, c10)
		c11 = vmath.BroadcastAt(pw, 100).MulAdd(b1, c11)
		c20 = vmath.BroadcastAt(pw, 104).MulAdd(b0, c20)
		c21 = vmath.BroadcastAt(pw, 104).MulAdd(b1, c21)
		c30 = vmath.BroadcastAt(pw, 108).MulAdd(b0, c30)
		c31 = vmath.BroadcastAt(pw, 108).MulAdd(b1, c31)
		// tap (2, 1): P10 shifted by (0, 0)
		b0 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(pc, 2*planeBytes)))
		b1 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(unsafe.Add(pc, 2*planeBytes), 64)))
		c00 = vmath.BroadcastAt(pw, 112).MulAdd(b0, c00)
		c01 = vmath.BroadcastAt(pw, 112).MulAdd(b1, c01)
		c10 = vmath.BroadcastAt(pw, 116).MulAdd(b0, c10)
		c11 = vmath.BroadcastAt(pw, 116).MulAdd(b1, c11)
		c20 = vmath.BroadcastAt(pw, 120).MulAdd(b0, c20)
		c21 = vmath.BroadcastAt(pw, 120).MulAdd(b1, c21)
		c30 = vmath.BroadcastAt(pw, 124).MulAdd(b0, c30)
		c31 = vmath.BroadcastAt(pw, 124).MulAdd(b1, c31)
		// tap (2, 2): P11 shifted by (0, 0)
		b0 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(pc, 3*planeBytes)))
		b1 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(unsafe.Add(pc, 3*planeBytes), 64)))
		c00 = vmath.BroadcastAt(pw, 128).MulAdd(b0, c00)
		c01 = vmath.BroadcastAt(pw, 128).MulAdd(b1, c01)
		c10 = vmath.BroadcastAt(pw, 132).MulAdd(b0, c10)
		c11 = vmath.BroadcastAt(pw, 132).MulAdd(b1, c11)
		c20 = vmath.BroadcastAt(pw, 136).MulAdd(b0, c20)
		c21 = vmath.BroadcastAt(pw, 136).MulAdd(b1, c21)
		c30 = vmath.BroadcastAt(pw, 140).MulAdd(b0, c30)
		c31 = vmath.BroadcastAt(pw, 140).MulAdd(b1, c31)
		pc, pw = unsafe.Add(pc, 4*planeBytes), unsafe.Add(pw, 9*TileRows*4)
	}
	addTileRow(y, hw, q, 0, rows, c00, c01)
	addTileRow(y, hw, q, 1, rows, c10, c11)
	addTileRow(y, hw, q, 2, rows, c20, c21)
	addTileRow(y, hw, q, 3, rows, c30, c31)
}

// grad2AVX512 is gradAVX512 for stride 2: the taps of row i of channel c are P[a(i)][1]
// shifted left (masked), P[a(i)][0] and P[a(i)][1].
func grad2AVX512(p *Plan2, dw, dy, xp []float32) {
	if hw := p.out.H * p.out.W; hw%16 != 0 || p.F < gradRows {
		grad2Go(p, dw, dy, xp)
		return
	}
	gradTaps(p, p.out, p.C, p.F, dw, dy, xp)
}
