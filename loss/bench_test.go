package loss

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The shapes of the issue and of ../shared/peers/torch_bench.py; SetBytes counts the logits.
var benchShapes = [][2]int{{128, 10}, {4096, 10}, {4096, 1000}, {512, 32000}}

func benchInputs(n, k int) ([]float32, []int) {
	rng := rand.New(rand.NewPCG(uint64(n), uint64(k)))
	z := make([]float32, n*k)
	for i := range z {
		z[i] = float32(2 * rng.NormFloat64())
	}
	y := make([]int, n)
	for i := range y {
		y[i] = rng.IntN(k)
	}
	return z, y
}

func BenchmarkSoftmaxXentForward(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(fmt.Sprintf("%dx%d", s[0], s[1]), func(b *testing.B) {
			z, y := benchInputs(s[0], s[1])
			x, _ := NewSoftmaxCrossEntropyKernel[float32](s[1])
			b.SetBytes(int64(4 * len(z)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := x.Forward(z, y); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSoftmaxXentForwardBackward(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(fmt.Sprintf("%dx%d", s[0], s[1]), func(b *testing.B) {
			z, y := benchInputs(s[0], s[1])
			dz := make([]float32, len(z))
			g := []float32{1}
			x, _ := NewSoftmaxCrossEntropyKernel[float32](s[1])
			b.SetBytes(int64(4 * len(z)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := x.Forward(z, y); err != nil {
					b.Fatal(err)
				}
				x.Backward(dz, z, y, g)
			}
		})
	}
}
