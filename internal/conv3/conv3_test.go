package conv3

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naive is the definition: y [F,H,W] += w [F,C,3,3] * x [C,H,W], zero padding 1, in float64.
func naive(y []float64, x, w []float32, c, f, h, wd int) {
	for o := range f {
		for oy := range h {
			for ox := range wd {
				var s float64
				for ch := range c {
					for i := range 3 {
						for j := range 3 {
							iy, ix := oy+i-1, ox+j-1
							if iy < 0 || iy >= h || ix < 0 || ix >= wd {
								continue
							}
							s += float64(w[((o*c+ch)*3+i)*3+j]) * float64(x[(ch*h+iy)*wd+ix])
						}
					}
				}
				y[(o*h+oy)*wd+ox] += s
			}
		}
	}
}

func TestAccumulateMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range []struct{ c, f, h, w int }{
		{1, 4, 3, 3}, {3, 16, 32, 32}, {16, 16, 32, 32}, {32, 64, 16, 16}, {64, 64, 8, 8},
		{5, 7, 31, 31}, {8, 12, 15, 15}, {4, 8, 7, 7}, {2, 5, 1, 40}, {2, 4, 40, 1}, {3, 4, 5, 17},
	} {
		t.Run(fmt.Sprintf("%dx%dx%dx%d", s.c, s.f, s.h, s.w), func(t *testing.T) {
			p, err := NewPlan(s.c, s.f, s.h, s.w)
			if err != nil {
				t.Fatal(err)
			}
			x, w := normals(rng, s.c*s.h*s.w), normals(rng, s.f*s.c*9)
			y, want := nans(s.f*s.h*s.w), make([]float64, s.f*s.h*s.w) // Convolve writes every output
			var bias []float32
			if s.f%2 == 0 { // odd filter counts check a nil bias
				bias = normals(rng, s.f)
				for i := range want {
					want[i] = float64(bias[i/(s.h*s.w)])
				}
			}
			naive(want, x, w, s.c, s.f, s.h, s.w)
			// a padded buffer with garbage in it first: Pad must set every margin
			xp, wp := nans(p.PaddedLen()), make([]float32, p.PackedLen())
			p.Pad(xp, x)
			p.PackWeights(wp, w)
			p.Convolve(y, xp, wp, bias)
			for i, v := range y {
				tol := 1e-5 * float64(s.c*9)
				if math.Abs(float64(v)-want[i]) > tol {
					t.Fatalf("y[%d] = %v, want %v (fast kernel %v)", i, v, want[i], Fast)
				}
			}
		})
	}
}

func TestAccumulateGradMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range []struct{ c, f, h, w int }{
		{1, 1, 3, 3}, {3, 16, 32, 32}, {16, 16, 32, 32}, {32, 32, 16, 16}, {64, 64, 8, 8},
		{5, 7, 31, 31}, {8, 4, 15, 15}, {4, 8, 7, 7}, {2, 5, 1, 40}, {2, 2, 40, 1}, {3, 4, 5, 17},
	} {
		t.Run(fmt.Sprintf("%dx%dx%dx%d", s.c, s.f, s.h, s.w), func(t *testing.T) {
			p, err := NewPlan(s.c, s.f, s.h, s.w)
			if err != nil {
				t.Fatal(err)
			}
			hw := s.h * s.w
			x, dy := normals(rng, s.c*hw), normals(rng, s.f*hw)
			dw, want := make([]float32, s.f*s.c*9), make([]float64, s.f*s.c*9)
			for i := range dw {
				dw[i], want[i] = float32(i%5), float64(i%5)
			}
			for f := range s.f {
				for c := range s.c {
					for i := range 3 {
						for j := range 3 {
							for oy := range s.h {
								for ox := range s.w {
									iy, ix := oy+i-1, ox+j-1
									if iy >= 0 && iy < s.h && ix >= 0 && ix < s.w {
										want[((f*s.c+c)*3+i)*3+j] += float64(dy[f*hw+oy*s.w+ox]) * float64(x[(c*s.h+iy)*s.w+ix])
									}
								}
							}
						}
					}
				}
			}
			xp := nans(p.PaddedLen())
			p.Pad(xp, x)
			p.AccumulateGrad(dw, dy, xp)
			for i, v := range dw {
				if math.Abs(float64(v)-want[i]) > 1e-5*float64(hw) {
					t.Fatalf("dw[%d] = %v, want %v (fast kernel %v)", i, v, want[i], Fast)
				}
			}
		})
	}
}

// normals returns n draws of a standard normal.
func normals(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// nans returns n NaNs: a padded buffer's garbage, which Pad must overwrite wherever a
// kernel reads.
func nans(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.NaN())
	}
	return v
}

func TestNewPlanRejectsEmpty(t *testing.T) {
	if _, err := NewPlan(0, 4, 3, 3); err == nil {
		t.Fatal("no error for 0 channels")
	}
}

func BenchmarkConvolve(b *testing.B) {
	for _, s := range []struct{ c, f, h, w int }{{16, 16, 32, 32}, {32, 32, 16, 16}, {64, 64, 8, 8}, {64, 256, 15, 15}} {
		b.Run(fmt.Sprintf("%dx%dx%dx%d", s.c, s.f, s.h, s.w), func(b *testing.B) {
			p, _ := NewPlan(s.c, s.f, s.h, s.w)
			x, w, y := make([]float32, s.c*s.h*s.w), make([]float32, s.f*s.c*9), make([]float32, s.f*s.h*s.w)
			xp, wp := make([]float32, p.PaddedLen()), make([]float32, p.PackedLen())
			p.PackWeights(wp, w)
			flops := 2 * s.c * 9 * s.f * s.h * s.w
			b.SetBytes(int64(4 * len(x)))
			b.ReportAllocs()
			for b.Loop() {
				p.Pad(xp, x)
				p.Convolve(y, xp, wp, nil)
			}
			b.ReportMetric(float64(flops)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func BenchmarkAccumulateGrad(b *testing.B) {
	for _, s := range []struct{ c, f, h, w int }{{16, 16, 32, 32}, {32, 32, 16, 16}, {64, 64, 8, 8}, {64, 256, 15, 15}} {
		b.Run(fmt.Sprintf("%dx%dx%dx%d", s.c, s.f, s.h, s.w), func(b *testing.B) {
			p, _ := NewPlan(s.c, s.f, s.h, s.w)
			x, dy, dw := make([]float32, s.c*s.h*s.w), make([]float32, s.f*s.h*s.w), make([]float32, s.f*s.c*9)
			xp := make([]float32, p.PaddedLen())
			flops := 2 * s.c * 9 * s.f * s.h * s.w
			b.SetBytes(int64(4 * (len(x) + len(dy))))
			b.ReportAllocs()
			for b.Loop() {
				p.Pad(xp, x)
				p.AccumulateGrad(dw, dy, xp)
			}
			b.ReportMetric(float64(flops)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
