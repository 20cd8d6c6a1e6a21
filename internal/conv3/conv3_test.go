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

// epilogues are the ways the tests finish a convolution: nothing, a bias, and a bias or
// not with a residual and a ReLU.
var epilogues = []struct {
	name            string
	bias, add, relu bool
}{{"plain", false, false, false}, {"bias", true, false, false}, {"bias+add+relu", true, true, true}, {"relu", false, false, true}, {"add", false, true, false}}

// finished returns want (the sums of y [f, hw]) finished as the epilogue e says, and e.
func finished(rng *rand.Rand, want []float64, f, hw int, bias, add, relu bool) ([]float64, Epilogue) {
	out := append([]float64{}, want...)
	e := Epilogue{ReLU: relu}
	if bias {
		e.Bias = normals(rng, f)
	}
	if add {
		e.Add = normals(rng, f*hw)
	}
	for i := range out {
		if bias {
			out[i] += float64(e.Bias[i/hw])
		}
		if add {
			out[i] += float64(e.Add[i])
		}
		if relu {
			out[i] = max(out[i], 0)
		}
	}
	return out, e
}

func TestConvolveMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range []struct{ c, f, h, w int }{
		{1, 4, 3, 3}, {3, 16, 32, 32}, {16, 16, 32, 32}, {32, 64, 16, 16}, {64, 64, 8, 8},
		{5, 7, 31, 31}, {8, 12, 15, 15}, {4, 8, 7, 7}, {2, 5, 1, 40}, {2, 4, 40, 1}, {3, 4, 5, 17},
	} {
		p, err := NewPlan(s.c, s.f, s.h, s.w)
		if err != nil {
			t.Fatal(err)
		}
		x, w := normals(rng, s.c*s.h*s.w), normals(rng, s.f*s.c*9)
		sums := make([]float64, s.f*s.h*s.w)
		naive(sums, x, w, s.c, s.f, s.h, s.w)
		// a padded buffer with garbage in it first: Pad must set every margin
		xp, wp := nans(p.PaddedLen()), make([]float32, p.PackedLen())
		p.Pad(xp, x)
		p.PackWeights(wp, w)
		for _, ep := range epilogues {
			t.Run(fmt.Sprintf("%dx%dx%dx%d-%s", s.c, s.f, s.h, s.w, ep.name), func(t *testing.T) {
				want, e := finished(rng, sums, s.f, s.h*s.w, ep.bias, ep.add, ep.relu)
				y := nans(s.f * s.h * s.w) // Convolve writes every output
				p.Convolve(y, xp, wp, e)
				for i, v := range y {
					tol := 1e-5 * float64(s.c*9)
					if math.Abs(float64(v)-want[i]) > tol {
						t.Fatalf("y[%d] = %v, want %v (fast kernel %v)", i, v, want[i], Fast)
					}
				}
			})
		}
	}
}

// TestReLUKeepsNaN: a NaN sum stays NaN through the fused ReLU, as through vmath.ReLU32.
func TestReLUKeepsNaN(t *testing.T) {
	p, _ := NewPlan(2, 4, 8, 8)
	x, w := make([]float32, 2*64), make([]float32, 4*2*9)
	x[10] = float32(math.NaN())
	xp, wp, y := make([]float32, p.PaddedLen()), make([]float32, p.PackedLen()), make([]float32, 4*64)
	p.Pad(xp, x)
	p.PackWeights(wp, w)
	p.Convolve(y, xp, wp, Epilogue{ReLU: true})
	if !math.IsNaN(float64(y[10])) || y[0] != 0 {
		t.Fatalf("y[10] = %v, y[0] = %v, want NaN and 0", y[10], y[0])
	}
}

func TestAccumulateGradMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range []struct{ c, f, h, w, images int }{
		{1, 1, 3, 3, 1}, {3, 16, 32, 32, 1}, {16, 16, 32, 32, 2}, {32, 32, 16, 16, 3}, {64, 64, 8, 8, 5},
		{5, 7, 31, 31, 1}, {8, 4, 15, 15, 2}, {4, 8, 7, 7, 1}, {2, 5, 1, 40, 2}, {2, 2, 40, 1, 1}, {3, 4, 5, 17, 1},
		{3, 6, 4, 8, 4}, {2, 9, 8, 2, 3}, // 32 and 16 pixels: the fast kernel, filters not a multiple of 4
	} {
		t.Run(fmt.Sprintf("%dx%dx%dx%dx%d", s.images, s.c, s.f, s.h, s.w), func(t *testing.T) {
			p, err := NewPlan(s.c, s.f, s.h, s.w)
			if err != nil {
				t.Fatal(err)
			}
			hw := s.h * s.w
			x, dy := normals(rng, s.images*s.c*hw), normals(rng, s.images*s.f*hw)
			dw, want := make([]float32, s.f*s.c*9), make([]float64, s.f*s.c*9)
			for i := range dw {
				dw[i], want[i] = float32(i%5), float64(i%5)
			}
			for n := range s.images {
				for f := range s.f {
					for c := range s.c {
						for i := range 3 {
							for j := range 3 {
								for oy := range s.h {
									for ox := range s.w {
										iy, ix := oy+i-1, ox+j-1
										if iy >= 0 && iy < s.h && ix >= 0 && ix < s.w {
											want[((f*s.c+c)*3+i)*3+j] += float64(dy[(n*s.f+f)*hw+oy*s.w+ox]) * float64(x[((n*s.c+c)*s.h+iy)*s.w+ix])
										}
									}
								}
							}
						}
					}
				}
			}
			xp := nans(s.images * p.PaddedLen())
			for n := range s.images {
				p.Pad(xp[n*p.PaddedLen():(n+1)*p.PaddedLen()], x[n*s.c*hw:(n+1)*s.c*hw])
			}
			p.AccumulateGrad(dw, dy, xp)
			for i, v := range dw {
				if math.Abs(float64(v)-want[i]) > 1e-5*float64(s.images*hw) {
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
				p.Convolve(y, xp, wp, Epilogue{})
			}
			b.ReportMetric(float64(flops)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkAccumulateGrad takes runs of at least 1024 output pixels, as model does.
func BenchmarkAccumulateGrad(b *testing.B) {
	for _, s := range []struct{ c, f, h, w int }{{3, 16, 32, 32}, {16, 16, 32, 32}, {32, 32, 16, 16}, {64, 64, 8, 8}, {64, 256, 15, 15}} {
		b.Run(fmt.Sprintf("%dx%dx%dx%d", s.c, s.f, s.h, s.w), func(b *testing.B) {
			p, _ := NewPlan(s.c, s.f, s.h, s.w)
			images := (1024 + s.h*s.w - 1) / (s.h * s.w)
			x, dy, dw := make([]float32, s.c*s.h*s.w), make([]float32, images*s.f*s.h*s.w), make([]float32, s.f*s.c*9)
			xp := make([]float32, images*p.PaddedLen())
			flops := 2 * s.c * 9 * s.f * s.h * s.w * images
			b.SetBytes(int64(4 * images * (len(x) + s.f*s.h*s.w)))
			b.ReportAllocs()
			for b.Loop() {
				for n := range images {
					p.Pad(xp[n*p.PaddedLen():(n+1)*p.PaddedLen()], x)
				}
				p.AccumulateGrad(dw, dy, xp)
			}
			b.ReportMetric(float64(flops)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
