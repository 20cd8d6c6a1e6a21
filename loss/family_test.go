package loss

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// probRun runs ProbXent (or KL) in dtype T; it returns the loss, rows and gradient.
func probRun[T Float](t *testing.T, z, p []float64, k int, kl bool, g []float64, opts []Option) (float64, []float64, []float64) {
	t.Helper()
	x, err := newProbKernel[T](k, kl, opts)
	if err != nil {
		t.Fatal(err)
	}
	zt, pt := convert[T](z), convert[T](p)
	l, err := x.Forward(zt, pt)
	if err != nil {
		t.Fatal(err)
	}
	rows := append([]float64(nil), x.RowLosses()...)
	dz := make([]T, len(z))
	x.Backward(dz, zt, pt, convert[T](g))
	return l, rows, to64(dz)
}

func TestProbXentAndKL(t *testing.T) {
	const n, k = 6, 5
	for _, kl := range []bool{false, true} {
		for _, tc := range optionCombos(k, !kl, false, !kl) {
			for _, dtype := range []string{"float32", "float64"} {
				t.Run(probName(kl)+"/"+tc.name+"/"+dtype, func(t *testing.T) {
					rng := rand.New(rand.NewPCG(7, uint64(len(tc.name))))
					o, _ := NewOptions(k, tc.opts...)
					z, p := randLogits(rng, n, k, 3), randProbs(rng, n, k)
					if dtype == "float32" {
						z, p = to64(to32(z)), to64(to32(p))
					}
					g := upstreamFor(rng, o.Reduction, n)
					run, tol := probRun[float64], 1e-12
					if dtype == "float32" {
						run, tol = probRun[float32], 5e-6
					}
					l, rows, grad := run(t, z, p, k, kl, g, tc.opts)
					wantL, wantRows := refProbXent(z, p, k, kl, o)
					if math.Abs(l-wantL) > tol*math.Max(1, math.Abs(wantL)) || maxAbsDiff(rows, wantRows) > 10*tol {
						t.Errorf("loss %v rows %v, reference %v rows %v", l, rows, wantL, wantRows)
					}
					num := numGrad(func(z []float64) float64 {
						l, rows := refProbXent(z, p, k, kl, o)
						return withUpstream(l, rows, o.Reduction, g)
					}, z, 1e-6)
					if d := maxAbsDiff(grad, num); d > 1e-6 {
						t.Errorf("gradient differs from central differences by %g", d)
					}
				})
			}
		}
	}
}

func TestProbXentErrors(t *testing.T) {
	z := []float64{0, 1, 2, 3, 4, 5}
	tests := []struct {
		name     string
		z, p     []float64
		want     error
		row, col int
	}{
		{"negative target", z, []float64{0.5, 0.5, 0, 1.5, -0.5, 0}, ErrNegative, 1, 1},
		{"NaN target", z, []float64{math.NaN(), 0.5, 0.5, 1, 0, 0}, ErrNonFinite, 0, 0},
		{"Inf logit", []float64{0, 1, 2, 3, math.Inf(1), 5}, []float64{1, 0, 0, 1, 0, 0}, ErrNonFinite, 1, 1},
	}
	for _, tc := range tests {
		for _, kl := range []bool{false, true} {
			x, _ := newProbKernel[float64](3, kl, nil)
			_, err := x.Forward(tc.z, tc.p)
			var ie *InputError
			if !errors.Is(err, tc.want) || !errors.As(err, &ie) || ie.Row != tc.row || ie.Col != tc.col {
				t.Errorf("%s (kl=%v): err = %v, want %v at row %d col %d", tc.name, kl, err, tc.want, tc.row, tc.col)
			}
		}
	}
	if _, err := NewKLDivergenceKernel[float32](3, WithWeights([]float64{1, 1, 1})); !errors.Is(err, ErrOption) {
		t.Errorf("KL with weights: err = %v, want ErrOption", err)
	}
}

func TestNLL(t *testing.T) {
	const n, k = 7, 4
	for _, tc := range optionCombos(k, true, true, false) {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(8, uint64(len(tc.name))))
			o, _ := NewOptions(k, tc.opts...)
			z := randLogits(rng, n, k, 2)
			y := labelsFor(rng, n, k, o.HasIgnore)
			a := make([]float64, 0, n*k) // log-probabilities
			for i := range n {
				a = append(a, refLogSoftmax(z[i*k:(i+1)*k])...)
			}
			x, err := NewNLLLossKernel[float64](k, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			l, err := x.Forward(a, y)
			if err != nil {
				t.Fatal(err)
			}
			// NLL of log-softmax is the cross-entropy.
			wantL, wantRows := refXent(z, y, k, o)
			if math.Abs(l-wantL) > 1e-12 || maxAbsDiff(x.RowLosses(), wantRows) > 1e-12 {
				t.Errorf("loss %v rows %v, want %v rows %v", l, x.RowLosses(), wantL, wantRows)
			}
			g := upstreamFor(rng, o.Reduction, n)
			da := make([]float64, n*k)
			x.Backward(da, y, g)
			num := numGrad(func(a []float64) float64 {
				x, _ := NewNLLLossKernel[float64](k, tc.opts...)
				l, _ := x.Forward(a, y)
				return withUpstream(l, x.RowLosses(), o.Reduction, g)
			}, a, 1e-6)
			if d := maxAbsDiff(da, num); d > 1e-8 {
				t.Errorf("gradient differs from central differences by %g", d)
			}
		})
	}
	x, _ := NewNLLLossKernel[float32](3)
	if _, err := x.Forward([]float32{0, float32(math.Inf(-1)), 0}, []int{1}); !errors.Is(err, ErrNonFinite) {
		t.Errorf("NLL of a -Inf log-probability: err = %v, want ErrNonFinite", err)
	}
}

func TestLogSoftmaxKernel(t *testing.T) {
	const n, k = 5, 7
	rng := rand.New(rand.NewPCG(4, 4))
	z := randLogits(rng, n, k, 5)
	z[k] = 100 // a row with its max in column 0 after another row
	x, _ := NewLogSoftmaxKernel[float64](k)
	y := make([]float64, n*k)
	if err := x.Forward(y, z); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if d := maxAbsDiff(y[i*k:(i+1)*k], refLogSoftmax(z[i*k:(i+1)*k])); d > 1e-12 {
			t.Errorf("row %d differs from the reference by %g", i, d)
		}
	}
	up := randLogits(rng, n, k, 1)
	dz := make([]float64, n*k)
	x.Backward(dz, z, up)
	num := numGrad(func(z []float64) float64 {
		var s float64
		for i := range n {
			for c, v := range refLogSoftmax(z[i*k : (i+1)*k]) {
				s += v * up[i*k+c]
			}
		}
		return s
	}, z, 1e-6)
	if d := maxAbsDiff(dz, num); d > 1e-7 {
		t.Errorf("gradient differs from central differences by %g", d)
	}
	x32, _ := NewLogSoftmaxKernel[float32](3)
	y32 := make([]float32, 6)
	if err := x32.Forward(y32, []float32{0, 0, 0, 100, 0, 0}); err != nil || y32[3] != 0 || math.IsInf(float64(y32[4]), 0) {
		t.Errorf("log-softmax of [0 0 0; 100 0 0] = %v, %v", y32, err)
	}
	if err := x32.Forward(y32, []float32{0, 0, 0, 1, float32(math.NaN()), 0}); !errors.Is(err, ErrNonFinite) {
		t.Errorf("NaN logit: err = %v", err)
	}
}
