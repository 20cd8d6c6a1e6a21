package loss

import (
	"encoding/json"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.json from the current kernels")

// goldenCase is one entry of testdata/golden.json: inputs, options and the float64 results.
// testdata/torch.json holds PyTorch 1.13's F.cross_entropy on the same inputs, made by
// testdata/torch_golden.py from golden.json.
type goldenCase struct {
	Name      string    `json:"name"`
	N         int       `json:"n"`
	K         int       `json:"k"`
	Logits    []float64 `json:"logits"`
	Labels    []int     `json:"labels"`
	Reduction string    `json:"reduction"`
	Weights   []float64 `json:"weights,omitempty"`
	Ignore    *int      `json:"ignore_index,omitempty"`
	Smoothing float64   `json:"label_smoothing"`
	Bits      bool      `json:"bits"`
	Loss      []float64 `json:"loss"` // one value, or N for reduction none
	Grad      []float64 `json:"grad"` // d(sum of loss)/d logits
}

func (c *goldenCase) options() []Option {
	r := map[string]Reduction{"mean": Mean, "sum": Sum, "none": None}[c.Reduction]
	opts := []Option{WithReduction(r), WithSmoothing(c.Smoothing)}
	if c.Weights != nil {
		opts = append(opts, WithWeights(c.Weights))
	}
	if c.Ignore != nil {
		opts = append(opts, WithIgnore(*c.Ignore))
	}
	if c.Bits {
		opts = append(opts, WithUnits(Bits))
	}
	return opts
}

// compute fills Loss and Grad from the kernel in dtype T.
func computeGolden[T Float](t *testing.T, c goldenCase) ([]float64, []float64) {
	o, _ := NewOptions(c.K, c.options()...)
	g := []float64{1}
	if o.Reduction == None {
		g = make([]float64, c.N)
		for i := range g {
			g[i] = 1
		}
	}
	l, rows, grad := xentRun[T](t, c.Logits, c.Labels, c.K, g, c.options())
	if o.Reduction == None {
		return rows, grad
	}
	return []float64{l}, grad
}

func goldenInputs() []goldenCase {
	rng := rand.New(rand.NewPCG(2026, 11))
	ignore := -100
	mk := func(name string, n, k int, scale float64, c goldenCase) goldenCase {
		c.Name, c.N, c.K = name, n, k
		c.Logits = randLogits(rng, n, k, scale)
		c.Labels = labelsFor(rng, n, k, c.Ignore != nil)
		if c.Reduction == "" {
			c.Reduction = "mean"
		}
		return c
	}
	return []goldenCase{
		mk("plain", 4, 3, 2, goldenCase{}),
		mk("sum", 5, 4, 3, goldenCase{Reduction: "sum"}),
		mk("none", 3, 5, 3, goldenCase{Reduction: "none"}),
		mk("weights", 6, 4, 2, goldenCase{Weights: []float64{0.5, 2, 1, 3}}),
		mk("ignore", 6, 3, 2, goldenCase{Ignore: &ignore}),
		mk("smoothing", 5, 6, 4, goldenCase{Smoothing: 0.2}),
		mk("weights ignore smoothing", 7, 4, 3, goldenCase{Weights: []float64{1, 0.25, 2, 1.5}, Ignore: &ignore, Smoothing: 0.1}),
		mk("none weights smoothing", 4, 3, 2, goldenCase{Reduction: "none", Weights: []float64{2, 1, 0.5}, Smoothing: 0.3}),
		mk("large logits", 3, 4, 300, goldenCase{}),
		mk("bits", 4, 10, 2, goldenCase{Bits: true}),
	}
}

func TestGolden(t *testing.T) {
	path := filepath.Join("testdata", "golden.json")
	if *update {
		cases := goldenInputs()
		for i := range cases {
			cases[i].Loss, cases[i].Grad = computeGolden[float64](t, cases[i])
		}
		b, err := json.MarshalIndent(cases, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := readGolden(t, path)
	for _, c := range cases {
		for _, dtype := range []string{"float32", "float64"} {
			t.Run(c.Name+"/"+dtype, func(t *testing.T) {
				loss, grad := computeGolden[float64](t, c)
				tol := 1e-12
				if dtype == "float32" {
					loss, grad = computeGolden[float32](t, c)
					tol = 1e-5
				}
				checkClose(t, "loss", loss, c.Loss, tol)
				checkClose(t, "gradient", grad, c.Grad, tol)
			})
		}
	}
}

// TestAgainstPyTorch compares with PyTorch 1.13's F.cross_entropy (float64) on the golden
// inputs, converted to bits where the case asks.
func TestAgainstPyTorch(t *testing.T) {
	torch := readGolden(t, filepath.Join("testdata", "torch.json"))
	if len(torch) != len(readGolden(t, filepath.Join("testdata", "golden.json"))) {
		t.Fatalf("testdata/torch.json is stale: run testdata/torch_golden.py")
	}
	for _, c := range torch {
		t.Run(c.Name, func(t *testing.T) {
			loss, grad := computeGolden[float64](t, c)
			checkClose(t, "loss", loss, c.Loss, 1e-12)
			checkClose(t, "gradient", grad, c.Grad, 1e-12)
		})
	}
}

func readGolden(t *testing.T, path string) []goldenCase {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (regenerate with go test ./loss -run TestGolden -update)", err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cases
}

func checkClose(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol*math.Max(1, math.Abs(want[i])) {
			t.Errorf("%s[%d] = %.15g, want %.15g", what, i, got[i], want[i])
		}
	}
}
