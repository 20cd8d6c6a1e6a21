package conv3

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPlan2MatchesDefinition checks the stride-2 forward and weight gradient against
// y[f,oy,ox] = sum w[f,c,i,j] x[c, 2oy+i-1, 2ox+j-1] (0 outside the plane), in float64.
func TestPlan2MatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, s := range []struct{ c, f, h, w int }{
		{1, 1, 2, 2}, {16, 32, 32, 32}, {32, 64, 16, 16}, {3, 5, 6, 10}, {2, 7, 30, 30}, {4, 4, 64, 2},
	} {
		t.Run(fmt.Sprintf("%dx%dx%dx%d", s.c, s.f, s.h, s.w), func(t *testing.T) {
			p, err := NewPlan2(s.c, s.f, s.h, s.w)
			if err != nil {
				t.Fatal(err)
			}
			ho, wo := s.h/2, s.w/2
			x, w, dy := normals(rng, s.c*s.h*s.w), normals(rng, s.f*s.c*9), normals(rng, s.f*ho*wo)
			y, wantY := make([]float32, s.f*ho*wo), make([]float64, s.f*ho*wo)
			dw, wantDW := make([]float32, len(w)), make([]float64, len(w))
			for f := range s.f {
				for c := range s.c {
					for i := range 3 {
						for j := range 3 {
							for oy := range ho {
								for ox := range wo {
									iy, ix := 2*oy+i-1, 2*ox+j-1
									if iy < 0 || iy >= s.h || ix < 0 || ix >= s.w {
										continue
									}
									xv := float64(x[(c*s.h+iy)*s.w+ix])
									wantY[(f*ho+oy)*wo+ox] += float64(w[((f*s.c+c)*3+i)*3+j]) * xv
									wantDW[((f*s.c+c)*3+i)*3+j] += float64(dy[(f*ho+oy)*wo+ox]) * xv
								}
							}
						}
					}
				}
			}
			xp, wp := nans(p.PaddedLen()), make([]float32, p.PackedLen())
			p.Pad(xp, x)
			p.PackWeights(wp, w)
			for _, ep := range epilogues {
				want, e := finished(rng, wantY, s.f, ho*wo, ep.bias, ep.add, ep.relu)
				y := nans(len(y)) // Convolve writes every output
				p.Convolve(y, xp, wp, e)
				for i, v := range y {
					if math.Abs(float64(v)-want[i]) > 1e-5*float64(s.c*9) {
						t.Fatalf("%s: y[%d] = %v, want %v", ep.name, i, v, want[i])
					}
				}
			}
			p.AccumulateGrad(dw, dy, xp)
			for i, v := range dw {
				if math.Abs(float64(v)-wantDW[i]) > 1e-5*float64(ho*wo) {
					t.Fatalf("dw[%d] = %v, want %v", i, v, wantDW[i])
				}
			}
			// a run of three images, the same one: three times the gradient
			dw3 := make([]float32, len(dw))
			p.AccumulateGrad(dw3, slices.Concat(dy, dy, dy), slices.Concat(xp, xp, xp))
			for i, v := range dw3 {
				if math.Abs(float64(v)-3*wantDW[i]) > 3e-5*float64(ho*wo) {
					t.Fatalf("run of 3: dw[%d] = %v, want %v", i, v, 3*wantDW[i])
				}
			}
		})
	}
	if _, err := NewPlan2(3, 4, 5, 6); err == nil {
		t.Error("no error for odd planes")
	}
}

func BenchmarkPlan2(b *testing.B) {
	for _, s := range []struct{ c, f, h, w int }{{16, 32, 32, 32}, {32, 64, 16, 16}} {
		p, _ := NewPlan2(s.c, s.f, s.h, s.w)
		x, w := make([]float32, s.c*s.h*s.w), make([]float32, s.f*s.c*9)
		y, dw := make([]float32, s.f*s.h*s.w/4), make([]float32, len(w))
		xp, wp := make([]float32, p.PaddedLen()), make([]float32, p.PackedLen())
		p.PackWeights(wp, w)
		flops := float64(2 * s.c * 9 * s.f * s.h * s.w / 4)
		b.Run(fmt.Sprintf("forward-%dx%dx%dx%d", s.c, s.f, s.h, s.w), func(b *testing.B) {
			for b.Loop() {
				p.Pad(xp, x)
				p.Convolve(y, xp, wp, Epilogue{})
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(fmt.Sprintf("grad-%dx%dx%dx%d", s.c, s.f, s.h, s.w), func(b *testing.B) {
			for b.Loop() {
				p.Pad(xp, x)
				p.AccumulateGrad(dw, y, xp)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func TestPlan2TMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, s := range []struct{ c, f, h, w int }{
		{1, 1, 2, 2}, {16, 32, 32, 32}, {32, 64, 16, 16}, {3, 5, 6, 10}, {2, 7, 30, 30}, {4, 4, 64, 2}, {6, 3, 4, 34},
	} {
		t.Run(fmt.Sprintf("%dx%dx%dx%d", s.c, s.f, s.h, s.w), func(t *testing.T) {
			p, err := NewPlan2T(s.c, s.f, s.h, s.w)
			if err != nil {
				t.Fatal(err)
			}
			ho, wo := s.h/2, s.w/2
			w, dy := normals(rng, s.f*s.c*9), normals(rng, s.f*ho*wo)
			want := make([]float64, s.c*s.h*s.w)
			for f := range s.f {
				for c := range s.c {
					for i := range 3 {
						for j := range 3 {
							for oy := range ho {
								for ox := range wo {
									iy, ix := 2*oy+i-1, 2*ox+j-1
									if iy >= 0 && iy < s.h && ix >= 0 && ix < s.w {
										want[(c*s.h+iy)*s.w+ix] += float64(w[((f*s.c+c)*3+i)*3+j]) * float64(dy[(f*ho+oy)*wo+ox])
									}
								}
							}
						}
					}
				}
			}
			dyp, wp, scratch := nans(p.PaddedLen()), make([]float32, p.PackedLen()), nans(p.ScratchLen())
			dx := nans(s.c * s.h * s.w) // Convolve writes every element
			p.Pad(dyp, dy)
			p.PackWeights(wp, w)
			p.Convolve(dx, dyp, wp, scratch)
			for i, v := range dx {
				if math.Abs(float64(v)-want[i]) > 1e-5*float64(s.f*9) {
					t.Fatalf("dx[%d] = %v, want %v (fast kernel %v)", i, v, want[i], Fast)
				}
			}
		})
	}
	if _, err := NewPlan2T(3, 4, 5, 6); err == nil {
		t.Error("no error for odd planes")
	}
}
