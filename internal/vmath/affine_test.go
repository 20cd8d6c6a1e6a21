package vmath

import (
	"math"
	"testing"
)

// TestAffine32 checks the kernel in use against the Go loop, bit for bit (the product is
// rounded before the sum in both), over the vector steps and the tails, in place too.
func TestAffine32(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 100, 1025} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(math.Sin(float64(i)*0.7)) * 3
		}
		if n > 5 {
			x[5] = float32(math.NaN())
		}
		got, want := make([]float32, n), make([]float32, n)
		Affine32(got, x, 1.37, -0.21)
		affine32Go(want, x, 1.37, -0.21)
		inPlace := append([]float32(nil), x...)
		Affine32(inPlace, inPlace, 1.37, -0.21)
		for i := range want {
			same := math.Float32bits(got[i]) == math.Float32bits(want[i]) && math.Float32bits(inPlace[i]) == math.Float32bits(want[i])
			if !same && !(want[i] != want[i] && got[i] != got[i] && inPlace[i] != inPlace[i]) {
				t.Fatalf("n=%d element %d: %v (in place %v), Go loop %v", n, i, got[i], inPlace[i], want[i])
			}
		}
	}
}

func BenchmarkAffine32(b *testing.B) {
	x := make([]float32, 1<<14)
	y := make([]float32, len(x))
	b.SetBytes(int64(8 * len(x)))
	b.ReportAllocs()
	for b.Loop() {
		Affine32(y, x, 1.5, 0.25)
	}
}
