//go:build goexperiment.simd && amd64

package conv3

import (
	"simd/archsimd"
	"unsafe"
)

func init() {
	if archsimd.X86.AVX512() {
		convolve2, grad2 = convolve2AVX512, grad2AVX512
	}
}

// convolve2AVX512 runs tileS2 over every strip of 4 filters and tile of 64 output pixels.
func convolve2AVX512(p *Plan2, y, xp, wp, bias []float32) {
	o := p.out
	hw, taps := o.H*o.W, p.C*9
	for s := 0; s*TileRows < p.F; s++ {
		w := unsafe.Pointer(&wp[s*taps*TileRows])
		rows := min(TileRows, p.F-s*TileRows)
		b := stripBias(bias, s, rows)
		for q := 0; q < hw; q += TileCols {
			x := unsafe.Pointer(&xp[o.before+q])
			runTile(true, y[s*TileRows*hw:], hw, rows, q, x, o.W, o.stride, p.C, w, &o.masks[2*(q/16)], &b)
		}
	}
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
