//go:build goexperiment.simd && amd64

package conv3

import "simd/archsimd"

func init() {
	if archsimd.X86.AVX512() {
		convolve2, grad2 = convolve2AVX512, grad2AVX512
	}
}

// convolve2AVX512 runs the stride-2 tile kernel (tileS2) over y from the phase planes,
// which have the output's geometry (p.out).
func convolve2AVX512(p *Plan2, y, xp, wp []float32, e Epilogue) {
	runStrips(kernelS2, y, p.F, p.out, xp, p.C, wp, p.C*9*TileRows, &e)
}

// grad2AVX512 is gradAVX512 for stride 2: the taps of row i of channel c are P[a(i)][1]
// shifted left (masked), P[a(i)][0] and P[a(i)][1].
func grad2AVX512(p *Plan2, dw, dy, xp []float32, images int) {
	hw := p.out.H * p.out.W
	if hw%16 != 0 || p.F < TileRows {
		grad2Go(p, dw, dy, xp, images)
		return
	}
	gradTaps(p, p.out, p.C, p.F, p.PaddedLen(), images, dw, dy, xp, hw)
}
