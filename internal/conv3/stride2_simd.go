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
func convolve2AVX512(p *Plan2, y, xp, wp []float32, e Epilogue) {
	o := p.out
	hw, taps := o.H*o.W, p.C*9
	for s := 0; s*TileRows < p.F; s++ {
		w := unsafe.Pointer(&wp[s*taps*TileRows])
		t := tileOut{y: y, e: &e, s: s, hw: hw, rows: min(TileRows, p.F-s*TileRows)}
		t.bias = stripBias(e.Bias, s, t.rows)
		for q := 0; q < hw; q += TileCols {
			x := unsafe.Pointer(&xp[o.before+q])
			t.run(kernelS2, q, x, o.W, o.stride, p.C, w, &o.masks[2*(q/16)])
		}
	}
}

// grad2AVX512 is gradAVX512 for stride 2: the taps of row i of channel c are P[a(i)][1]
// shifted left (masked), P[a(i)][0] and P[a(i)][1].
func grad2AVX512(p *Plan2, dw, dy, xp []float32, images int) {
	if hw := p.out.H * p.out.W; hw%16 != 0 || p.F < TileRows {
		grad2Go(p, dw, dy, xp, images)
		return
	}
	gradTaps(p, p.out, p.C, p.F, p.PaddedLen(), images, dw, dy, xp)
}
