package winograd

import (
	"math"
	"math/rand/v2"
	"testing"
)

// direct returns the convolution of x [n][C,H,W] by w [F,C,3,3] with padding 1 in float64,
// plus bias, and beside it sum |w|*|x| over the same taps (the scale of its rounding).
func direct(x, w, bias []float32, n, c, f, h, wd int) (y, scale []float64) {
	y, scale = make([]float64, n*f*h*wd), make([]float64, n*f*h*wd)
	for img := range n {
		for o := range f {
			for py := range h {
				for px := range wd {
					var s, a float64
					for ch := range c {
						for i := range 3 {
							for j := range 3 {
								yy, xx := py+i-1, px+j-1
								if yy < 0 || yy >= h || xx < 0 || xx >= wd {
									continue
								}
								p := float64(w[((o*c+ch)*3+i)*3+j]) * float64(x[((img*c+ch)*h+yy)*wd+xx])
								s, a = s+p, a+math.Abs(p)
							}
						}
					}
					k := ((img*f+o)*h+py)*wd + px
					y[k], scale[k] = s+float64(bias[o]), a
				}
			}
		}
	}
	return y, scale
}

// convolve runs the plan's three steps on x [images][C,H,W], a chunk of up to Lanes
// images at a time.
func convolve(p *Plan, y, x, w, bias []float32, images int) {
	u := make([]float32, p.WeightsLen())
	v, m, scratch := make([]float32, p.InputLen()), make([]float32, p.OutputLen()), make([]float32, p.ScratchLen())
	p.TransformWeights(u, w)
	in, out := p.C*p.H*p.W, p.F*p.H*p.W
	for n0 := 0; n0 < images; n0 += Lanes {
		n1 := min(images, n0+Lanes)
		p.TransformInput(v, x[n0*in:n1*in], scratch, n1-n0)
		p.Multiply(m, u, v)
		p.TransformOutput(y[n0*out:n1*out], m, bias, scratch, n1-n0)
	}
}

// maxRelErr bounds |y - exact| / (sum |w*x| + 1e-3), and the same for dw: float32 with
// the transforms' rounding (measured at most 6.8e-6 for y, 1.4e-6 for dw).
const maxRelErr = 2e-5

func TestConvolveMatchesDefinition(t *testing.T) {
	for _, simd := range []bool{false, true} {
		wb, in, out, mul := weightBlock, inputBlock, outputBlock, multiplyTile
		if !simd {
			weightBlock, inputBlock, outputBlock, multiplyTile = weightBlockGo, inputBlockGo, outputBlockGo, multiplyTileGo
		}
		for _, tc := range []struct{ c, f, h, w, images int }{
			{1, 1, 1, 1, 1}, {3, 5, 7, 7, 3}, {2, 3, 4, 4, 5}, {4, 3, 15, 15, 2},
			{5, 7, 8, 9, 1}, {16, 32, 31, 31, 1}, {64, 8, 7, 7, 5}, {7, 2, 3, 10, 4}, {3, 13, 7, 7, 37},
		} {
			rng := rand.New(rand.NewPCG(uint64(tc.c), uint64(tc.h*100+tc.w)))
			x := normals(rng, tc.images*tc.c*tc.h*tc.w, 1)
			w := normals(rng, tc.f*tc.c*9, 1/math.Sqrt(float64(9*tc.c)))
			bias := normals(rng, tc.f, 1)
			p, err := NewPlan(tc.c, tc.f, tc.h, tc.w)
			if err != nil {
				t.Fatal(err)
			}
			y := normals(rng, tc.images*tc.f*tc.h*tc.w, 1) // overwritten
			convolve(p, y, x, w, bias, tc.images)
			want, scale := direct(x, w, bias, tc.images, tc.c, tc.f, tc.h, tc.w)
			worst := 0.0
			for i := range want {
				e := math.Abs(float64(y[i])-want[i]) / (scale[i] + 1e-3)
				if !(e <= maxRelErr) {
					t.Fatalf("simd %v %+v: y[%d] = %g, want %g (sum |w*x| %g)", simd, tc, i, y[i], want[i], scale[i])
				}
				worst = max(worst, e)
			}
			t.Logf("simd %v %+v: worst error %.2e of sum |w*x|", simd, tc, worst)
		}
		weightBlock, inputBlock, outputBlock, multiplyTile = wb, in, out, mul
	}
}

func normals(rng *rand.Rand, n int, sd float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64() * sd)
	}
	return s
}

func TestNewPlanRejectsEmpty(t *testing.T) {
	if _, err := NewPlan(0, 1, 7, 7); err == nil {
		t.Fatal("NewPlan(0 channels) gave no error")
	}
}

// weightGrad returns the weight gradient of the convolution, dw [F,C,3,3] = sum over
// images and pixels of dy[n,f,p] x[n,c,p+(i-1,j-1)] (0 outside the plane), in float64,
// and beside it the sum of the terms' magnitudes.
func weightGrad(x, dy []float32, n, c, f, h, wd int) (dw, scale []float64) {
	dw, scale = make([]float64, f*c*9), make([]float64, f*c*9)
	for img := range n {
		for o := range f {
			for ch := range c {
				for i := range 3 {
					for j := range 3 {
						var s, a float64
						for py := range h {
							for px := range wd {
								yy, xx := py+i-1, px+j-1
								if yy < 0 || yy >= h || xx < 0 || xx >= wd {
									continue
								}
								p := float64(dy[((img*f+o)*h+py)*wd+px]) * float64(x[((img*c+ch)*h+yy)*wd+xx])
								s, a = s+p, a+math.Abs(p)
							}
						}
						k := (o*c+ch)*9 + i*3 + j
						dw[k], scale[k] = dw[k]+s, scale[k]+a
					}
				}
			}
		}
	}
	return dw, scale
}

// TestWeightGradMatchesDefinition checks dw by the plan's steps (a chunk of up to Lanes
// images at a time into one DW), with the AVX-512 kernels and with the pure-Go ones.
func TestWeightGradMatchesDefinition(t *testing.T) {
	for _, simd := range []bool{false, true} {
		ga, gb, mg, wg, ib := gatherRows, gradBlock, multiplyGradTile, weightGradBlock, inputBlock
		if !simd {
			gatherRows, gradBlock, multiplyGradTile, weightGradBlock, inputBlock = gatherRowsGo, gradBlockGo, multiplyGradTileGo, weightGradBlockGo, inputBlockGo
		}
		for _, tc := range []struct{ c, f, h, w, images int }{
			{16, 1, 1, 1, 1}, {16, 5, 7, 7, 3}, {32, 7, 15, 15, 2}, {16, 3, 8, 9, 20}, {64, 13, 7, 7, 37}, {80, 6, 5, 11, 4},
		} {
			rng := rand.New(rand.NewPCG(uint64(tc.c*7+tc.f), uint64(tc.h*100+tc.w)))
			x := normals(rng, tc.images*tc.c*tc.h*tc.w, 1)
			dy := normals(rng, tc.images*tc.f*tc.h*tc.w, 1)
			p, err := NewPlan(tc.c, tc.f, tc.h, tc.w)
			if err != nil {
				t.Fatal(err)
			}
			if !p.WeightGradOK() {
				t.Fatalf("%+v: WeightGradOK is false", tc)
			}
			v, vt, d := make([]float32, p.InputLen()), make([]float32, p.TransposedLen()), make([]float32, p.GradOutputLen())
			dwt, scratch := make([]float32, p.WeightGradLen()), make([]float32, p.ScratchLen())
			in, out := p.C*p.H*p.W, p.F*p.H*p.W
			for n0 := 0; n0 < tc.images; n0 += Lanes {
				n1 := min(tc.images, n0+Lanes)
				p.TransformInput(v, x[n0*in:n1*in], scratch, n1-n0)
				p.TransposeInput(vt, v)
				p.TransformGradOutput(d, dy[n0*out:n1*out], scratch, n1-n0)
				p.AccumulateWeightGrad(dwt, d, vt)
			}
			got := make([]float32, tc.f*9*tc.c) // [F,9,C]
			p.TransformWeightGrad(got, dwt)
			want, scale := weightGrad(x, dy, tc.images, tc.c, tc.f, tc.h, tc.w)
			worst := 0.0
			for f := range tc.f {
				for c := range tc.c {
					for k := range 9 {
						g, i := got[(f*9+k)*tc.c+c], (f*tc.c+c)*9+k
						e := math.Abs(float64(g)-want[i]) / (scale[i] + 1e-3)
						if !(e <= maxRelErr) {
							t.Fatalf("simd %v %+v: dw[%d,%d,%d] = %g, want %g (sum |dy*x| %g)", simd, tc, f, c, k, g, want[i], scale[i])
						}
						worst = max(worst, e)
					}
				}
			}
			t.Logf("simd %v %+v: worst error %.2e of sum |dy*x|", simd, tc, worst)
		}
		gatherRows, gradBlock, multiplyGradTile, weightGradBlock, inputBlock = ga, gb, mg, wg, ib
	}
}
