package vmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestThinConv32 checks the kernel in use against a float64 convolution on geometries
// with rows narrower and wider than 16, with and without a bias.
func TestThinConv32(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct{ c, h, w, k, f int }{{3, 32, 32, 2, 24}, {3, 8, 9, 2, 5}, {2, 20, 17, 3, 4}, {1, 18, 40, 1, 3}, {3, 5, 33, 2, 2}} {
		for _, withBias := range []bool{true, false} {
			ho, wo := tc.h-tc.k+1, tc.w-tc.k+1
			x, w := make([]float32, tc.c*tc.h*tc.w), make([]float32, tc.f*tc.c*tc.k*tc.k)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			for i := range w {
				w[i] = float32(rng.NormFloat64())
			}
			var bias []float32
			if withBias {
				bias = make([]float32, tc.f)
				for i := range bias {
					bias[i] = float32(rng.NormFloat64())
				}
			}
			y := make([]float32, tc.f*ho*wo+7)
			for i := range y {
				y[i] = float32(math.NaN())
			}
			ThinConv32(y, x, w, bias, tc.c, tc.h, tc.w, tc.k, tc.f)
			for f := range tc.f {
				for oy := range ho {
					for ox := range wo {
						want, abs := 0.0, 0.0
						if bias != nil {
							want, abs = float64(bias[f]), math.Abs(float64(bias[f]))
						}
						for c := range tc.c {
							for i := range tc.k {
								for j := range tc.k {
									p := float64(w[((f*tc.c+c)*tc.k+i)*tc.k+j]) * float64(x[(c*tc.h+oy+i)*tc.w+ox+j])
									want += p
									abs += math.Abs(p)
								}
							}
						}
						got := y[(f*ho+oy)*wo+ox]
						if math.Abs(float64(got)-want) > 1e-6*abs+1e-30 || math.IsNaN(float64(got)) {
							t.Fatalf("%+v bias %v: y[%d,%d,%d] = %v, want %v", tc, withBias, f, oy, ox, got, want)
						}
					}
				}
			}
			for i := tc.f * ho * wo; i < len(y); i++ {
				if !math.IsNaN(float64(y[i])) {
					t.Fatalf("%+v: wrote past y at %d", tc, i)
				}
			}
		}
	}
}

// BenchmarkThinConv32 is airbench's whitening of one image: 3x32x32 by 24 filters 2x2.
func BenchmarkThinConv32(b *testing.B) {
	x, w, bias, y := make([]float32, 3*32*32), make([]float32, 24*12), make([]float32, 24), make([]float32, 24*31*31)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	b.SetBytes(int64(4 * (len(x) + len(y))))
	b.ReportAllocs()
	for b.Loop() {
		ThinConv32(y, x, w, bias, 3, 32, 32, 2, 24)
	}
}
