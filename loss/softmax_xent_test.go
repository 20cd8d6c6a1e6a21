package loss

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

type combo struct {
	name string
	opts []Option
}

// optionCombos returns every combination of reduction, class weights, an ignored label,
// label smoothing and units.
func optionCombos(k int, weighted, ignoring, smoothing bool) []combo {
	weights := make([]float64, k)
	for c := range weights {
		weights[c] = 0.5 + float64(c%3)
	}
	var out []combo
	for _, r := range []Reduction{Mean, Sum, None} {
		for _, w := range []bool{false, true} {
			for _, ig := range []bool{false, true} {
				for _, eps := range []float64{0, 0.2} {
					for _, u := range []Units{Nats, Bits} {
						if w && !weighted || ig && !ignoring || eps > 0 && !smoothing {
							continue
						}
						opts := []Option{WithReduction(r), WithUnits(u)}
						name := fmt.Sprintf("%v/%v", r, u)
						if w {
							opts, name = append(opts, WithWeights(weights)), name+"/weights"
						}
						if ig {
							opts, name = append(opts, WithIgnore(-100)), name+"/ignore"
						}
						if eps > 0 {
							opts, name = append(opts, WithSmoothing(eps)), name+fmt.Sprintf("/eps=%v", eps)
						}
						out = append(out, combo{name, opts})
					}
				}
			}
		}
	}
	return out
}

// labelsFor returns n labels in [0,k), with the ignored label -100 at rows 1 and 4.
func labelsFor(rng *rand.Rand, n, k int, ignoring bool) []int {
	y := make([]int, n)
	for i := range y {
		y[i] = rng.IntN(k)
		if ignoring && i%3 == 1 {
			y[i] = -100
		}
	}
	return y
}

// upstreamFor returns the upstream gradient for reduction r: a scalar, or one per row.
func upstreamFor(rng *rand.Rand, r Reduction, n int) []float64 {
	if r != None {
		return []float64{0.7}
	}
	g := make([]float64, n)
	for i := range g {
		g[i] = rng.Float64() - 0.3
	}
	return g
}

func convert[T Float](x []float64) []T {
	out := make([]T, len(x))
	for i, v := range x {
		out[i] = T(v)
	}
	return out
}

// xentRun runs the kernel in dtype T and returns the loss, the row losses and the gradient.
func xentRun[T Float](t *testing.T, z []float64, y []int, k int, g []float64, opts []Option) (float64, []float64, []float64) {
	t.Helper()
	x, err := NewSoftmaxCrossEntropyKernel[T](k, opts...)
	if err != nil {
		t.Fatal(err)
	}
	zt := convert[T](z)
	l, err := x.Forward(zt, y)
	if err != nil {
		t.Fatal(err)
	}
	rows := append([]float64(nil), x.RowLosses()...)
	dz := make([]T, len(z))
	x.Backward(dz, zt, y, convert[T](g))
	return l, rows, to64(dz)
}

// withUpstream is the scalar whose gradient Backward computes: the loss times g, or for
// None the row losses dotted with g.
func withUpstream(loss float64, rows []float64, r Reduction, g []float64) float64 {
	if r != None {
		return loss * g[0]
	}
	var s float64
	for i, v := range rows {
		s += v * g[i]
	}
	return s
}

// TestSoftmaxXentGradCheck checks every option combination, with and without a z-loss and a
// soft-cap, by finite differences.
func TestSoftmaxXentGradCheck(t *testing.T) {
	const n, k = 7, 5
	for _, tc := range logitCombos(optionCombos(k, true, true, true)) {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, uint64(len(tc.name))))
			o, _ := NewOptions(k, tc.opts...)
			z := randLogits(rng, n, k, 3)
			y := labelsFor(rng, n, k, o.HasIgnore)
			g := upstreamFor(rng, o.Reduction, n)
			_, _, grad := xentRun[float64](t, z, y, k, g, tc.opts)
			f := func(z []float64) float64 {
				x, _ := NewSoftmaxCrossEntropyKernel[float64](k, tc.opts...)
				l, err := x.Forward(z, y)
				if err != nil {
					t.Fatal(err)
				}
				return withUpstream(l, x.RowLosses(), o.Reduction, g)
			}
			num := numGrad(f, z, 1e-5)
			if d := maxAbsDiff(grad, num); d > 1e-8 {
				t.Errorf("max |analytic - numeric| = %.3g, want <= 1e-8\nanalytic %v\nnumeric  %v", d, grad, num)
			}
		})
	}
}

func TestSoftmaxXentMatchesReference(t *testing.T) {
	const n, k = 9, 6
	for _, tc := range optionCombos(k, true, true, true) {
		for _, dtype := range []string{"float32", "float64"} {
			t.Run(tc.name+"/"+dtype, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(5, uint64(len(tc.name))))
				o, _ := NewOptions(k, tc.opts...)
				z := randLogits(rng, n, k, 4)
				y := labelsFor(rng, n, k, o.HasIgnore)
				g := upstreamFor(rng, o.Reduction, n)
				var l float64
				var rows, grad []float64
				tol := 1e-12
				if dtype == "float32" {
					l, rows, grad = xentRun[float32](t, to64(to32(z)), y, k, g, tc.opts)
					tol = 5e-6
				} else {
					l, rows, grad = xentRun[float64](t, z, y, k, g, tc.opts)
				}
				wantL, wantRows := refXent(to64(convert[float32](z)), y, k, o)
				if dtype == "float64" {
					wantL, wantRows = refXent(z, y, k, o)
				}
				if math.Abs(l-wantL) > tol*math.Max(1, math.Abs(wantL)) {
					t.Errorf("loss = %.9g, reference %.9g", l, wantL)
				}
				if d := maxAbsDiff(rows, wantRows); d > tol*10 {
					t.Errorf("row losses differ from the reference by %.3g", d)
				}
				wantGrad := numGrad(func(z []float64) float64 {
					l, rows := refXent(z, y, k, o)
					return withUpstream(l, rows, o.Reduction, g)
				}, z, 1e-5)
				if d := maxAbsDiff(grad, wantGrad); d > 1e-6 {
					t.Errorf("gradient differs from the reference's numeric gradient by %.3g", d)
				}
			})
		}
	}
}

func TestSoftmaxXentStability(t *testing.T) {
	tests := []struct {
		name     string
		z        []float64
		y        []int
		k        int
		opts     []Option
		wantLoss float64 // NaN: only check finiteness against the reference
	}{
		{"max in column 0 after a row of zeros", []float64{0, 0, 0, 100, 0, 0}, []int{1, 0}, 3, nil, math.Log(3) / 2},
		{"exact zero", []float64{-100, 100, -100, -100}, []int{1}, 4, nil, 0},
		{"exact zero, float rows after", []float64{-100, 100, -100, -100, 0, 0, 0, 0}, []int{1, 2}, 4,
			[]Option{WithReduction(Sum)}, math.Log(4)},
		{"logits +-1e4", []float64{1e4, -1e4, 0, -1e4, 1e4, 1e4}, []int{1, 0}, 3, nil, 2e4 + math.Ln2/2},
		// row losses 0.9*2e4 + 0.1/3*(2e4+1e4), and 0.9*(2e4+ln2) + 0.1/3*(2e4+ln2 + 2*ln2)
		{"logits +-1e4 smoothed", []float64{1e4, -1e4, 0, -1e4, 1e4, 1e4}, []int{1, 0}, 3,
			[]Option{WithSmoothing(0.1)}, (0.9*2e4 + 0.1/3*3e4 + 0.9*(2e4+math.Ln2) + 0.1/3*(2e4+3*math.Ln2)) / 2},
		{"K = 1", []float64{3, -7, 1e4}, []int{0, 0, 0}, 1, nil, 0},
		{"K = 1 smoothed", []float64{3, -7}, []int{0, 0}, 1, []Option{WithSmoothing(0.3)}, 0},
		{"uniform", []float64{5, 5, 5, 5, 5}, []int{2}, 5, nil, math.Log(5)},
		{"uniform smoothed", []float64{5, 5, 5, 5, 5}, []int{2}, 5, []Option{WithSmoothing(0.4)}, math.Log(5)},
		{"uniform bits", []float64{1, 1, 1, 1}, []int{2}, 4, []Option{WithUnits(Bits)}, 2},
	}
	for _, tc := range tests {
		for _, dtype := range []string{"float32", "float64"} {
			t.Run(tc.name+"/"+dtype, func(t *testing.T) {
				o, _ := NewOptions(tc.k, tc.opts...)
				g := upstreamFor(rand.New(rand.NewPCG(1, 1)), o.Reduction, len(tc.y))
				var l float64
				var grad []float64
				if dtype == "float32" {
					l, _, grad = xentRun[float32](t, tc.z, tc.y, tc.k, g, tc.opts)
				} else {
					l, _, grad = xentRun[float64](t, tc.z, tc.y, tc.k, g, tc.opts)
				}
				want := tc.wantLoss
				tol := 1e-6 * math.Max(1, math.Abs(want))
				if tc.wantLoss == 0 {
					tol = 0 // exactly
				}
				if math.Abs(l-want) > tol {
					t.Errorf("loss = %.10g, want %.10g", l, want)
				}
				for i, v := range grad {
					if !finite(v) {
						t.Fatalf("gradient[%d] = %v", i, v)
					}
				}
				for i := range tc.y {
					var s float64
					for _, v := range grad[i*tc.k : (i+1)*tc.k] {
						s += v
					}
					if math.Abs(s) > 1e-6 {
						t.Errorf("row %d of the gradient sums to %g, want 0", i, s)
					}
				}
				if tc.wantLoss == 0 {
					for i, v := range grad { // softmax of the others is e^-200: 0 in float32
						if math.Abs(v) > 1e-80 {
							t.Errorf("gradient[%d] = %g, want 0", i, v)
						}
					}
				}
			})
		}
	}
}

func TestSoftmaxXentAllIgnored(t *testing.T) {
	for _, r := range []Reduction{Mean, Sum, None} {
		opts := []Option{WithIgnore(-1), WithReduction(r)}
		z := []float64{1, 2, 3, 4, 5, 6}
		l, rows, grad := xentRun[float32](t, z, []int{-1, -1}, 3, upstreamFor(rand.New(rand.NewPCG(1, 1)), r, 2), opts)
		if l != 0 || maxAbsDiff(rows, make([]float64, 2)) != 0 || maxAbsDiff(grad, make([]float64, 6)) != 0 {
			t.Errorf("%v: all ignored gives loss %v, rows %v, gradient %v; want all 0", r, l, rows, grad)
		}
	}
}

func TestSoftmaxXentErrors(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name    string
		z       []float64
		y       []int
		opts    []Option
		wantErr error
		wantRow int
		wantCol int
	}{
		{"label too big", []float64{0, 0, 0, 0, 0, 0}, []int{0, 3}, nil, ErrLabel, 1, -1},
		{"negative label", []float64{0, 0, 0, 0, 0, 0}, []int{-1, 0}, nil, ErrLabel, 0, -1},
		{"label next to the ignored one", []float64{0, 0, 0, 0, 0, 0}, []int{-100, -99}, []Option{WithIgnore(-100)}, ErrLabel, 1, -1},
		{"NaN", []float64{0, 0, 0, 0, nan, 0}, []int{0, 0}, nil, ErrNonFinite, 1, 1},
		{"+Inf", []float64{inf, 0, 0, 0, 0, 0}, []int{0, 0}, nil, ErrNonFinite, 0, 0},
		{"-Inf", []float64{0, 0, 0, 0, 0, -inf}, []int{0, 0}, nil, ErrNonFinite, 1, 2},
		{"first bad row wins", []float64{0, nan, 0, 0, 0, 0}, []int{0, 7}, nil, ErrNonFinite, 0, 1},
	}
	for _, tc := range tests {
		for _, dtype := range []string{"float32", "float64"} {
			t.Run(tc.name+"/"+dtype, func(t *testing.T) {
				var err error
				if dtype == "float32" {
					x, _ := NewSoftmaxCrossEntropyKernel[float32](3, tc.opts...)
					_, err = x.Forward(to32(tc.z), tc.y)
				} else {
					x, _ := NewSoftmaxCrossEntropyKernel[float64](3, tc.opts...)
					_, err = x.Forward(tc.z, tc.y)
				}
				var ie *InputError
				if !errors.Is(err, tc.wantErr) || !errors.As(err, &ie) {
					t.Fatalf("err = %v, want an *InputError wrapping %v", err, tc.wantErr)
				}
				if ie.Row != tc.wantRow || ie.Col != tc.wantCol {
					t.Errorf("error at row %d col %d, want row %d col %d (%v)", ie.Row, ie.Col, tc.wantRow, tc.wantCol, err)
				}
			})
		}
	}
}

func TestOptionErrors(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		want error
	}{
		{"weights of the wrong length", []Option{WithWeights([]float64{1, 2})}, ErrShape},
		{"NaN weight", []Option{WithWeights([]float64{1, math.NaN(), 1})}, ErrNonFinite},
	}
	for _, tc := range tests {
		if _, err := NewSoftmaxCrossEntropyKernel[float32](3, tc.opts...); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	for _, opts := range [][]Option{{WithSmoothing(-0.1)}, {WithSmoothing(1.5)}, {WithReduction(7)}, {WithUnits(3)}} {
		if _, err := NewSoftmaxCrossEntropyKernel[float32](3, opts...); err == nil {
			t.Errorf("options %v accepted", opts)
		}
	}
	if _, err := NewSoftmaxCrossEntropyKernel[float32](0); !errors.Is(err, ErrShape) {
		t.Errorf("K = 0: err = %v, want ErrShape", err)
	}
	if _, err := NewSoftmaxCrossEntropyKernel[float32](3); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// TestSoftmaxXentIsIndependentOfCores: the rows are split across as many cores as
// GOMAXPROCS allows; the loss and the gradient must be bit for bit the same for 1, 2 and 4,
// and the loss that of the rows done one at a time.
func TestSoftmaxXentIsIndependentOfCores(t *testing.T) {
	const n, k = 2048, 100 // large enough that rows are split
	rng := rand.New(rand.NewPCG(9, 9))
	z := to32(randLogits(rng, n, k, 5))
	y := labelsFor(rng, n, k, false)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var l1 float64
	var dz1 []float32
	for _, procs := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(procs)
		x, _ := NewSoftmaxCrossEntropyKernel[float32](k, WithSmoothing(0.1))
		l, err := x.Forward(z, y)
		if err != nil {
			t.Fatal(err)
		}
		dz := make([]float32, n*k)
		x.Backward(dz, z, y, []float32{1})
		if procs == 1 {
			l1, dz1 = l, dz
			continue
		}
		if math.Float64bits(l) != math.Float64bits(l1) {
			t.Errorf("GOMAXPROCS %d: loss %v, with 1 %v", procs, l, l1)
		}
		for i := range dz {
			if math.Float32bits(dz[i]) != math.Float32bits(dz1[i]) {
				t.Fatalf("GOMAXPROCS %d: gradient [%d] = %v, with 1 %v", procs, i, dz[i], dz1[i])
			}
		}
	}
	ref, _ := NewSoftmaxCrossEntropyKernel[float32](k, WithSmoothing(0.1))
	var rows float64
	for i := range n { // one row at a time: never split
		l, _ := ref.Forward(z[i*k:(i+1)*k], y[i:i+1])
		rows += l
	}
	if math.Abs(l1-rows/n) > 1e-12*math.Abs(l1) {
		t.Errorf("split loss %v, row-by-row %v", l1, rows/n)
	}
}

func TestSoftmaxXentAllocatesNothing(t *testing.T) {
	const n, k = 4096, 10
	rng := rand.New(rand.NewPCG(1, 2))
	z := to32(randLogits(rng, n, k, 2))
	y := labelsFor(rng, n, k, false)
	dz := make([]float32, n*k)
	g := []float32{1}
	x, _ := NewSoftmaxCrossEntropyKernel[float32](k, WithSmoothing(0.1))
	step := func() {
		if _, err := x.Forward(z, y); err != nil {
			t.Fatal(err)
		}
		x.Backward(dz, z, y, g)
	}
	step()
	if a := testing.AllocsPerRun(20, step); a != 0 {
		t.Errorf("forward+backward allocated %v times per call, want 0", a)
	}
}
