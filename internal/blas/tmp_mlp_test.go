package blas

import "testing"

func BenchmarkTmpMLP(b *testing.B) {
	x, w, dy := make([]float32, 128*3072), make([]float32, 512*3072), make([]float32, 128*512)
	y, dw := make([]float32, 128*512), make([]float32, 512*3072)
	for i := range w {
		w[i] = float32(i%7) - 3
	}
	for i := range x {
		x[i] = float32(i%5) - 2
	}
	for _, conv := range []bool{false, true} {
		name := "openblas"
		if conv {
			name = "simd"
		}
		b.Run("fwd-"+name, func(b *testing.B) {
			for b.Loop() {
				gemmSplit(conv, false, true, 128, 512, 3072, 1, x, 3072, w, 3072, 1, y, 512)
			}
		})
		b.Run("dw-"+name, func(b *testing.B) {
			for b.Loop() {
				gemmSplit(conv, true, false, 512, 3072, 128, 1, dy, 512, x, 3072, 0, dw, 3072)
			}
		})
	}
}
