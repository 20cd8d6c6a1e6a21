package loss

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"example.com/xent/internal/blas"
)

// logitCombos extends each of combos with no logit option, a z-loss, a soft-cap and both.
func logitCombos(combos []combo) []combo {
	var out []combo
	for _, c := range combos {
		out = append(out, c,
			combo{c.name + "/zloss", append(append([]Option{}, c.opts...), WithZLoss(0.05))},
			combo{c.name + "/softcap", append(append([]Option{}, c.opts...), WithSoftcap(2.5))},
			combo{c.name + "/zloss+softcap", append(append([]Option{}, c.opts...), WithZLoss(0.05), WithSoftcap(2.5))})
	}
	return out
}

// linearCase is one problem: h [N,D], w [V,D], b [V] (nil without a bias), labels, upstream g.
type linearCase struct {
	n, d, v int
	h, w, b []float64
	y       []int
	g       []float64
}

func newLinearCase(rng *rand.Rand, n, d, v int, bias bool, o Options) linearCase {
	c := linearCase{n: n, d: d, v: v, h: randLogits(rng, n, d, 1.5), w: randLogits(rng, v, d, 1.5)}
	if bias {
		c.b = randLogits(rng, 1, v, 1)
	}
	c.y = labelsFor(rng, n, v, o.HasIgnore)
	c.g = upstreamFor(rng, o.Reduction, n)
	return c
}

// logits returns h w^T + b [N,V].
func (c *linearCase) logits(h, w, b []float64) []float64 {
	z := make([]float64, c.n*c.v)
	for i := range c.n {
		for j := range c.v {
			var s float64
			for k := range c.d {
				s += h[i*c.d+k] * w[j*c.d+k]
			}
			if b != nil {
				s += b[j]
			}
			z[i*c.v+j] = s
		}
	}
	return z
}

// unfused computes the loss, the row losses and dh, dw, db the long way: the logits, the
// softmax cross-entropy kernel in float64, and the products written out.
func (c *linearCase) unfused(t *testing.T, opts []Option) (l float64, rows, dh, dw, db []float64) {
	t.Helper()
	l, rows, dz := xentRun[float64](t, c.logits(c.h, c.w, c.b), c.y, c.v, c.g, opts)
	dh, dw = make([]float64, c.n*c.d), make([]float64, c.v*c.d)
	if c.b != nil {
		db = make([]float64, c.v)
	}
	for i := range c.n {
		for j := range c.v {
			g := dz[i*c.v+j]
			for k := range c.d {
				dh[i*c.d+k] += g * c.w[j*c.d+k]
				dw[j*c.d+k] += g * c.h[i*c.d+k]
			}
			if db != nil {
				db[j] += g
			}
		}
	}
	return l, rows, dh, dw, db
}

// linearRunWith runs the kernel in dtype T with the given algorithm, chunk being the rows per
// chunk or the classes per block, fused (ForwardBackward, scaled by g as the graph node does)
// or not (Forward, then Backward).
func linearRunWith[T Float](t *testing.T, c linearCase, opts []Option, alg LinearAlgorithm, chunk int, fused bool) (l float64, rows, dh, dw, db []float64) {
	t.Helper()
	x, err := NewLinearCrossEntropyKernel[T](c.v, opts...)
	if err != nil {
		t.Fatal(err)
	}
	x.SetAlgorithm(alg)
	x.SetChunkRows(chunk)
	x.SetBlockClasses(chunk)
	h, w := convert[T](c.h), convert[T](c.w)
	var b, gb []T
	if c.b != nil {
		b, gb = convert[T](c.b), make([]T, c.v)
	}
	gh, gw := make([]T, len(h)), make([]T, len(w))
	if fused {
		if l, err = x.ForwardBackward(gh, gw, gb, h, w, b, c.y); err != nil {
			t.Fatal(err)
		}
		for _, s := range [][]T{gh, gw, gb} {
			for i := range s {
				s[i] *= T(c.g[0])
			}
		}
	} else {
		if l, err = x.Forward(h, w, b, c.y); err != nil {
			t.Fatal(err)
		}
		x.Backward(gh, gw, gb, h, w, b, c.y, convert[T](c.g))
	}
	if gb == nil {
		return l, append([]float64(nil), x.RowLosses()...), to64(gh), to64(gw), nil
	}
	return l, append([]float64(nil), x.RowLosses()...), to64(gh), to64(gw), to64(gb)
}

func TestLinearXentMatchesUnfused(t *testing.T) {
	const n, d, v = 11, 4, 7
	for _, tc := range logitCombos(optionCombos(v, true, true, true)) {
		t.Run(tc.name, func(t *testing.T) {
			o, _ := NewOptions(v, tc.opts...)
			for _, bias := range []bool{false, true} {
				c := newLinearCase(rand.New(rand.NewPCG(5, uint64(len(tc.name)))), n, d, v, bias, o)
				l0, rows0, dh0, dw0, db0 := c.unfused(t, tc.opts)
				for _, alg := range []LinearAlgorithm{LinearRowChunks, LinearClassBlocks} {
					for _, chunk := range []int{1, 3, 0, n} {
						for _, fused := range []bool{false, true} {
							if fused && o.Reduction == None {
								continue
							}
							what := fmt.Sprintf("algorithm %d bias=%v chunk=%d fused=%v", alg, bias, chunk, fused)
							l, rows, dh, dw, db := linearRunWith[float64](t, c, tc.opts, alg, chunk, fused)
							closeTo(t, what+" float64", l, rows, dh, dw, db, l0, rows0, dh0, dw0, db0, 1e-12)
							l, rows, dh, dw, db = linearRunWith[float32](t, c, tc.opts, alg, chunk, fused)
							closeTo(t, what+" float32", l, rows, dh, dw, db, l0, rows0, dh0, dw0, db0, 2e-5)
						}
					}
				}
			}
		})
	}
}

// closeTo compares every output within tol relative to max(1, |want|).
func closeTo(t *testing.T, what string, l float64, rows, dh, dw, db []float64, l0 float64, rows0, dh0, dw0, db0 []float64, tol float64) {
	t.Helper()
	for _, p := range []struct {
		name      string
		got, want []float64
	}{{"loss", []float64{l}, []float64{l0}}, {"rows", rows, rows0}, {"dh", dh, dh0}, {"dw", dw, dw0}, {"db", db, db0}} {
		if len(p.got) != len(p.want) {
			t.Fatalf("%s: %s has %d values, want %d", what, p.name, len(p.got), len(p.want))
		}
		for i := range p.got {
			if math.Abs(p.got[i]-p.want[i]) > tol*math.Max(1, math.Abs(p.want[i])) {
				t.Fatalf("%s: %s[%d] = %.10g, want %.10g", what, p.name, i, p.got[i], p.want[i])
			}
		}
	}
}

func TestLinearXentGradCheck(t *testing.T) {
	const n, d, v = 6, 3, 5
	for _, tc := range logitCombos(optionCombos(v, true, true, true)) {
		t.Run(tc.name, func(t *testing.T) {
			o, _ := NewOptions(v, tc.opts...)
			c := newLinearCase(rand.New(rand.NewPCG(8, uint64(len(tc.name)))), n, d, v, true, o)
			_, _, dh, dw, db := linearRunWith[float64](t, c, tc.opts, LinearClassBlocks, 2, false)
			loss := func(h, w, b []float64) float64 {
				x, _ := NewLinearCrossEntropyKernel[float64](v, tc.opts...)
				x.SetChunkRows(4)
				l, err := x.Forward(h, w, b, c.y)
				if err != nil {
					t.Fatal(err)
				}
				return withUpstream(l, x.RowLosses(), o.Reduction, c.g)
			}
			for _, p := range []struct {
				name string
				grad []float64
				f    func([]float64) float64
				at   []float64
			}{
				{"dh", dh, func(h []float64) float64 { return loss(h, c.w, c.b) }, c.h},
				{"dw", dw, func(w []float64) float64 { return loss(c.h, w, c.b) }, c.w},
				{"db", db, func(b []float64) float64 { return loss(c.h, c.w, b) }, c.b},
			} {
				num := numGrad(p.f, append([]float64(nil), p.at...), 1e-5)
				if e := maxAbsDiff(p.grad, num); e > 1e-8 {
					t.Errorf("%s: max |analytic - numeric| = %.3g, want <= 1e-8\nanalytic %v\nnumeric  %v", p.name, e, p.grad, num)
				}
			}
		})
	}
}

// TestZLossAndSoftcapFormulas checks the two options' values against their definitions on
// one row: z-loss adds c*lse^2, and the soft-cap is the plain loss of s*tanh(z/s).
func TestZLossAndSoftcapFormulas(t *testing.T) {
	z, y := []float64{1.5, -2, 0.25, 4}, []int{2}
	plain, _, _ := xentRun[float64](t, z, y, 4, []float64{1}, nil)
	lse := 0.0
	for _, v := range z {
		lse += math.Exp(v)
	}
	lse = math.Log(lse)
	zl, _, _ := xentRun[float64](t, z, y, 4, []float64{1}, []Option{WithZLoss(0.1)})
	if want := plain + 0.1*lse*lse; math.Abs(zl-want) > 1e-14 {
		t.Errorf("z-loss: %.17g, want %.17g", zl, want)
	}
	capped := make([]float64, len(z))
	for i, v := range z {
		capped[i] = 3 * math.Tanh(v/3)
	}
	want, _, _ := xentRun[float64](t, capped, y, 4, []float64{1}, nil)
	if got, _, _ := xentRun[float64](t, z, y, 4, []float64{1}, []Option{WithSoftcap(3)}); math.Abs(got-want) > 1e-14 {
		t.Errorf("soft-cap: %.17g, want %.17g", got, want)
	}
}

func TestLinearXentFiniteForHugeLogits(t *testing.T) {
	const n, d, v = 4, 2, 3
	// logits up to ~1e37, whose exponentials overflow any float; with a z-loss, whose
	// gradient grows as lse*w, up to ~1e6, so that the true gradients fit in float32
	huge := func(s float32) ([]float32, []float32) {
		return []float32{3 * s, -3 * s, s, 2 * s, -s, 0, 0, 5 * s}, []float32{s, 1, -s, 2, 0.5 * s, -1}
	}
	for _, opts := range [][]Option{nil, {WithZLoss(1e-4)}, {WithSoftcap(30)}, {WithSmoothing(0.1)}} {
		h, w := huge(1e18)
		if o, _ := NewOptions(v, opts...); o.ZLoss > 0 {
			h, w = huge(1e3)
		}
		x, err := NewLinearCrossEntropyKernel[float32](v, opts...)
		if err != nil {
			t.Fatal(err)
		}
		gh, gw := make([]float32, n*d), make([]float32, v*d)
		l, err := x.ForwardBackward(gh, gw, nil, h, w, nil, []int{0, 1, 2, 1})
		if err != nil {
			t.Fatalf("%v: %v", opts, err)
		}
		if !finite(l) {
			t.Errorf("%v: loss %v", opts, l)
		}
		for i, g := range append(gh, gw...) {
			if !finite(float64(g)) {
				t.Errorf("%v: gradient %d is %v", opts, i, g)
			}
		}
	}
}

func TestLinearXentErrors(t *testing.T) {
	const n, d, v = 10, 3, 4
	rng := rand.New(rand.NewPCG(1, 2))
	c := newLinearCase(rng, n, d, v, true, Options{})
	x, _ := NewLinearCrossEntropyKernel[float64](v)
	x.SetChunkRows(3)
	y := append([]int(nil), c.y...)
	y[7] = v
	var ie *InputError
	h := append([]float64(nil), c.h...)
	h[8*d+1] = math.NaN()
	for _, alg := range []LinearAlgorithm{LinearRowChunks, LinearClassBlocks} {
		x.SetAlgorithm(alg)
		x.SetBlockClasses(2)
		if _, err := x.Forward(c.h, c.w, c.b, y); !errors.As(err, &ie) || ie.Row != 7 || !errors.Is(err, ErrLabel) {
			t.Errorf("algorithm %d: label out of range at row 7: got %v", alg, err)
		}
		if _, err := x.Forward(h, c.w, c.b, c.y); !errors.As(err, &ie) || ie.Row != 8 || !errors.Is(err, ErrNonFinite) {
			t.Errorf("algorithm %d: NaN in row 8 of h: got %v", alg, err)
		}
	}
	x.SetAlgorithm(LinearAuto)
	if _, err := x.Forward(c.h, c.w[1:], c.b, c.y); !errors.Is(err, ErrShape) {
		t.Errorf("w of the wrong size: got %v", err)
	}
	if _, err := x.ForwardBackward(make([]float64, 1), make([]float64, v*d), make([]float64, v), c.h, c.w, c.b, c.y); !errors.Is(err, ErrShape) {
		t.Errorf("dh of the wrong size: got %v", err)
	}
	none, _ := NewLinearCrossEntropyKernel[float64](v, WithReduction(None))
	if _, err := none.ForwardBackward(make([]float64, n*d), make([]float64, v*d), nil, c.h, c.w, nil, c.y); !errors.Is(err, ErrOption) {
		t.Errorf("ForwardBackward with reduction none: got %v", err)
	}
	for name, opts := range map[string][]Option{
		"negative z-loss": {WithZLoss(-1)}, "NaN z-loss": {WithZLoss(math.NaN())},
		"negative soft-cap": {WithSoftcap(-2)}, "infinite soft-cap": {WithSoftcap(math.Inf(1))},
	} {
		if _, err := NewLinearCrossEntropyKernel[float64](v, opts...); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, err := NewSoftmaxCrossEntropyKernel[float64](v, opts...); err == nil {
			t.Errorf("%s: softmax cross-entropy accepted it", name)
		}
	}
	if _, err := NewNLLLossKernel[float64](v, WithZLoss(0.1)); !errors.Is(err, ErrOption) {
		t.Errorf("NLL with a z-loss: got %v", err)
	}
	if _, err := NewCrossEntropyWithProbsKernel[float64](v, WithSoftcap(3)); !errors.Is(err, ErrOption) {
		t.Errorf("cross-entropy with probabilities and a soft-cap: got %v", err)
	}
}

func TestSoftcapRefusesInfiniteLogits(t *testing.T) {
	x, _ := NewSoftmaxCrossEntropyKernel[float32](3, WithSoftcap(5))
	_, err := x.Forward([]float32{0, 1, 2, 1, float32(math.Inf(1)), 0}, []int{0, 2})
	var ie *InputError
	if !errors.As(err, &ie) || ie.Row != 1 || ie.Col != 1 || !errors.Is(err, ErrNonFinite) {
		t.Errorf("an infinite logit under a soft-cap: got %v, want row 1, column 1", err)
	}
}

func TestLinearXentScratch(t *testing.T) {
	for _, tc := range []struct {
		n, d, v int
		alg     LinearAlgorithm
	}{{2304, 8, 1000, LinearRowChunks}, {1152, 4, 20000, LinearClassBlocks}} {
		testScratch(t, tc.n, tc.d, tc.v, tc.alg)
	}
}

func testScratch(t *testing.T, n, d, v int, alg LinearAlgorithm) {
	rng := rand.New(rand.NewPCG(3, 3))
	h, w := to32(randLogits(rng, n, d, 1)), to32(randLogits(rng, v, d, 1))
	y := labelsFor(rng, n, v, false)
	for _, opts := range [][]Option{nil, {WithSoftcap(10)}} {
		x, _ := NewLinearCrossEntropyKernel[float32](v, opts...)
		x.SetAlgorithm(alg)
		gh, gw, gb := make([]float32, n*d), make([]float32, v*d), make([]float32, v)
		run := func() {
			if _, err := x.ForwardBackward(gh, gw, gb, h, w, make([]float32, v), y); err != nil {
				t.Fatal(err)
			}
		}
		run()
		if got, limit := x.ScratchBytes(), 4*n*v/32; got > limit {
			t.Errorf("algorithm %d %v: scratch %d bytes, want <= 1/32 of the logits' %d", alg, opts, got, 4*n*v)
		}
		if blas.Allocates() {
			continue // gonum's GEMM allocates its buffers per call
		}
		if a := testing.AllocsPerRun(3, run); a > 1 { // the bias slice made by run
			t.Errorf("algorithm %d %v: %v allocations a reused step, want none", alg, opts, a)
		}
	}
}

// torchLinearCase is one entry of testdata/linear_torch.json (made by linear_torch.py).
type torchLinearCase struct {
	Name      string    `json:"name"`
	N         int       `json:"n"`
	D         int       `json:"d"`
	V         int       `json:"v"`
	Reduction string    `json:"reduction"`
	Smoothing float64   `json:"label_smoothing"`
	ZLoss     float64   `json:"zloss"`
	Softcap   float64   `json:"softcap"`
	Bits      bool      `json:"bits"`
	Ignore    *int      `json:"ignore_index"`
	Weights   []float64 `json:"weights"`
	H         []float64 `json:"h"`
	W         []float64 `json:"w"`
	B         []float64 `json:"b"`
	Labels    []int     `json:"labels"`
	Upstream  []float64 `json:"upstream"`
	Loss      []float64 `json:"loss"`
	DH        []float64 `json:"dh"`
	DW        []float64 `json:"dw"`
	DB        []float64 `json:"db"`
	DZ        []float64 `json:"dz"`
}

// TestLinearXentAgainstPyTorch compares the linear cross-entropy, and the softmax
// cross-entropy on the same logits, with PyTorch 1.13 in float64, the z-loss and the
// soft-cap written out in torch.
func TestLinearXentAgainstPyTorch(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "linear_torch.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []torchLinearCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 9 {
		t.Fatalf("testdata/linear_torch.json has %d cases, want 9", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			r := map[string]Reduction{"mean": Mean, "sum": Sum, "none": None}[c.Reduction]
			golden := goldenCase{Reduction: c.Reduction, Weights: c.Weights, Ignore: c.Ignore, Smoothing: c.Smoothing, Bits: c.Bits}
			opts := append(golden.options(), WithZLoss(c.ZLoss), WithSoftcap(c.Softcap))
			lc := linearCase{n: c.N, d: c.D, v: c.V, h: c.H, w: c.W, b: c.B, y: c.Labels, g: c.Upstream}
			for _, run := range []struct {
				alg   LinearAlgorithm
				chunk int
			}{{LinearRowChunks, 2}, {LinearRowChunks, 0}, {LinearClassBlocks, 3}, {LinearClassBlocks, 0}} {
				l, rows, dh, dw, db := linearRunWith[float64](t, lc, opts, run.alg, run.chunk, false)
				got := []float64{l}
				if r == None {
					got = rows
				}
				checkClose(t, "loss", got, c.Loss, 1e-12)
				checkClose(t, "dh", dh, c.DH, 1e-12)
				checkClose(t, "dw", dw, c.DW, 1e-12)
				checkClose(t, "db", db, c.DB, 1e-12)
			}
			l, rows, dz := xentRun[float64](t, lc.logits(c.H, c.W, c.B), c.Labels, c.V, c.Upstream, opts)
			got := []float64{l}
			if r == None {
				got = rows
			}
			checkClose(t, "softmax cross-entropy loss", got, c.Loss, 1e-12)
			checkClose(t, "softmax cross-entropy dz", dz, c.DZ, 1e-12)
		})
	}
}
