package optim

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

// Two steps of each rule, worked by hand from PyTorch's documented updates: p = 1, g = 0.5.
func TestUpdateRulesByHand(t *testing.T) {
	tests := []struct {
		name string
		make func([]Param) (Optimizer, error)
		lr   float64
		want [2]float64
	}{
		// d = g + wd*p; b = d, then 0.9b + d; p -= lr*b
		{"sgd momentum", func(p []Param) (Optimizer, error) {
			return NewSGD(p, SGDConfig{Momentum: 0.9, WeightDecay: 0.1})
		}, 0.1, [2]float64{0.94, 0.8266}},
		// as above, p -= lr*(d + 0.9b)
		{"sgd nesterov", func(p []Param) (Optimizer, error) {
			return NewSGD(p, SGDConfig{Momentum: 0.9, WeightDecay: 0.1, Nesterov: true})
		}, 0.1, [2]float64{0.886, 0.725566}},
		// p *= 1 - lr*wd; the bias-corrected step is lr*0.5/(0.5+eps) = lr at every step here
		{"adamw", func(p []Param) (Optimizer, error) {
			return NewAdamW(p, AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01})
		}, 0.1, [2]float64{0.899, 0.798101}},
	}
	for _, tc := range tests {
		p := []Param{{Name: "w", Data: []float32{1}, Decay: true}}
		opt, err := tc.make(p)
		if err != nil {
			t.Fatal(err)
		}
		for step, want := range tc.want {
			if err := opt.Step(tc.lr, [][]float32{{0.5}}); err != nil {
				t.Fatal(err)
			}
			if got := float64(p[0].Data[0]); !near(got, want, 1e-6) {
				t.Errorf("%s step %d: p = %.7f, want %.7f", tc.name, step+1, got, want)
			}
		}
		if opt.Steps() != 2 {
			t.Errorf("%s: %d steps", tc.name, opt.Steps())
		}
	}
}

// TestAgainstPyTorch replays testdata/torch_optim.json (torch_optim.py): five steps of
// torch.optim.SGD and AdamW, with a second parameter group without weight decay.
func TestAgainstPyTorch(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "torch_optim.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw []map[string]any
	if err := json.Unmarshal(b, &raw); err != nil || len(raw) != 4 {
		t.Fatalf("testdata/torch_optim.json: %d configs, %v", len(raw), err)
	}
	for _, r := range raw {
		name, lr, wd := r["name"].(string), r["lr"].(float64), r["wd"].(float64)
		f := func(k string) []float64 { return floats(r[k]) }
		w, bias := to32(f("w0")), to32(f("b0"))
		params := []Param{{Name: "w", Data: w, Decay: true}, {Name: "b", Data: bias}}
		var opt Optimizer
		if r["opt"] == "sgd" {
			opt, err = NewSGD(params, SGDConfig{Momentum: r["momentum"].(float64), Nesterov: r["nesterov"].(bool), WeightDecay: wd})
		} else {
			betas := floats(r["betas"])
			opt, err = NewAdamW(params, AdamWConfig{Beta1: betas[0], Beta2: betas[1], Eps: r["eps"].(float64), WeightDecay: wd})
		}
		if err != nil {
			t.Fatal(err)
		}
		gw, gb := r["gw"].([]any), r["gb"].([]any)
		for s := range gw {
			if err := opt.Step(lr, [][]float32{to32(floats(gw[s])), to32(floats(gb[s]))}); err != nil {
				t.Fatal(err)
			}
		}
		for p, pair := range map[string][2][]float64{"w": {to64(w), f("w")}, "b": {to64(bias), f("b")}} {
			for i := range pair[0] {
				if !near(pair[0][i], pair[1][i], 2e-6) {
					t.Errorf("%s: %s[%d] = %.7f, PyTorch %.7f", name, p, i, pair[0][i], pair[1][i])
				}
			}
		}
	}
}

func floats(v any) []float64 {
	var out []float64
	for _, x := range v.([]any) {
		out = append(out, x.(float64))
	}
	return out
}

func to32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

func to64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func TestStateRoundTrip(t *testing.T) {
	mk := func() ([]Param, Optimizer) {
		p := []Param{{Name: "w", Data: []float32{1, 2}, Decay: true}, {Name: "b", Data: []float32{3}}}
		opt, _ := NewAdamW(p, AdamWConfig{Beta1: 0.9, Beta2: 0.99, Eps: 1e-8, WeightDecay: 0.1})
		return p, opt
	}
	grads := [][]float32{{0.1, -0.2}, {0.3}}
	p1, o1 := mk()
	for range 3 {
		o1.Step(0.01, grads)
	}
	// a second optimizer restored from the first's state takes the same next step
	p2, o2 := mk()
	copy(p2[0].Data, p1[0].Data)
	copy(p2[1].Data, p1[1].Data)
	if err := o2.SetState(o1.State(), o1.Steps()); err != nil {
		t.Fatal(err)
	}
	o1.Step(0.01, grads)
	o2.Step(0.01, grads)
	for i := range p1 {
		for j := range p1[i].Data {
			if p1[i].Data[j] != p2[i].Data[j] {
				t.Errorf("after restore: %s[%d] = %v, uninterrupted %v", p1[i].Name, j, p2[i].Data[j], p1[i].Data[j])
			}
		}
	}
	if err := o2.SetState(map[string][]float32{"w.m": {1}}, 1); err == nil {
		t.Error("SetState accepted a state of the wrong shape")
	}
}

func TestConfigAndGradientErrors(t *testing.T) {
	p := []Param{{Name: "w", Data: []float32{1, 2}}}
	if _, err := NewSGD(p, SGDConfig{Nesterov: true}); err == nil {
		t.Error("Nesterov without momentum accepted")
	}
	if _, err := NewAdamW(p, AdamWConfig{Beta1: 1, Beta2: 0.9, Eps: 1e-8}); err == nil {
		t.Error("beta1 = 1 accepted")
	}
	s, _ := NewSGD(p, SGDConfig{})
	if err := s.Step(0.1, [][]float32{{1}}); err == nil {
		t.Error("a gradient of the wrong size accepted")
	}
}

func TestClipGradNorm(t *testing.T) {
	g := [][]float32{{3, 0}, {4}}
	if n := ClipGradNorm(g, 1); n != 5 {
		t.Errorf("norm %v, want 5", n)
	}
	if got := math.Hypot(float64(g[0][0]), float64(g[1][0])); !near(got, 1, 1e-5) {
		t.Errorf("norm after clipping %v, want 1", got)
	}
	h := [][]float32{{0.3, 0.4}}
	ClipGradNorm(h, 1)
	if h[0][0] != 0.3 {
		t.Error("a gradient under the limit was scaled")
	}
}

func TestSchedules(t *testing.T) {
	tests := []struct {
		s    Schedule
		want map[int]float64
	}{
		{Constant{0.1}, map[int]float64{0: 0.1, 1000: 0.1}},
		{StepDecay{Rate: 1, Every: 10, Gamma: 0.1}, map[int]float64{0: 1, 9: 1, 10: 0.1, 25: 0.01}},
		{Cosine{Peak: 1, Min: 0, Warmup: 10, Total: 110}, map[int]float64{0: 0.1, 9: 1, 10: 1, 60: 0.5, 110: 0, 500: 0}},
		{Triangular{Peak: 2, Total: 100, Warmup: 0.2, Start: 0.1, End: 0}, map[int]float64{0: 0.2, 10: 1.1, 20: 2, 60: 1, 100: 0, 150: 0}},
		// train's linear schedule, airbench94_muon's lr*(1 - step/total)
		{Triangular{Peak: 2, Total: 100, Warmup: 0, Start: 1, End: 0}, map[int]float64{0: 2, 25: 1.5, 50: 1, 99: 0.02, 100: 0}},
	}
	for _, tc := range tests {
		for step, want := range tc.want {
			if got := tc.s.LR(step); !near(got, want, 1e-12) {
				t.Errorf("%v at step %d: %v, want %v", tc.s, step, got, want)
			}
		}
	}
}

// A parameter's LRScale is the same as running it at the scaled rate, for both optimizers.
func TestLRScale(t *testing.T) {
	for _, name := range []string{"sgd", "adamw"} {
		run := func(lr, scale float64) []float32 {
			w := []float32{1, -2, 3}
			p := []Param{{Name: "w", Data: w, Decay: true, LRScale: scale}}
			var o Optimizer
			var err error
			if name == "sgd" {
				o, err = NewSGD(p, SGDConfig{Momentum: 0.9, Nesterov: true, WeightDecay: 0.01})
			} else {
				o, err = NewAdamW(p, AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01})
			}
			if err != nil {
				t.Fatal(err)
			}
			for step := range 3 {
				g := []float32{0.5, float32(step) - 1, -0.25}
				if err := o.Step(lr, [][]float32{g}); err != nil {
					t.Fatal(err)
				}
			}
			return w
		}
		a, b := run(0.01, 4), run(0.04, 0)
		for i := range a {
			if a[i] != b[i] {
				t.Errorf("%s: LRScale 4 at 0.01 gives %v, lr 0.04 gives %v", name, a, b)
				break
			}
		}
		if c := run(0.01, 0); c[0] == a[0] {
			t.Errorf("%s: LRScale had no effect", name)
		}
	}
}

// TestSGDLargeParameter checks an update split across cores against the rule applied
// element by element, bit for bit.
func TestSGDLargeParameter(t *testing.T) {
	const n = 5*minSplitElems + 123
	for _, cfg := range []SGDConfig{{}, {Momentum: 0.9, WeightDecay: 1e-3}, {Momentum: 0.85, Nesterov: true, WeightDecay: 5e-4}} {
		w, g := make([]float32, n), make([]float32, n)
		for i := range w {
			w[i], g[i] = float32(i%17)-8, float32(i%11)/7-0.5
		}
		want, buf := append([]float32(nil), w...), make([]float32, n)
		opt, err := NewSGD([]Param{{Name: "w", Data: w, Decay: true}}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		mu, wd, lr := float32(cfg.Momentum), float32(cfg.WeightDecay), float32(0.1)
		for step := range 3 {
			if err := opt.Step(0.1, [][]float32{g}); err != nil {
				t.Fatal(err)
			}
			for j := range want {
				d := g[j] + wd*want[j]
				if mu != 0 {
					if step == 0 {
						buf[j] = d
					} else {
						buf[j] = mu*buf[j] + d
					}
					if cfg.Nesterov {
						d += mu * buf[j]
					} else {
						d = buf[j]
					}
				}
				want[j] -= lr * d
			}
		}
		for j := range want {
			if w[j] != want[j] {
				t.Fatalf("%+v: w[%d] = %v, want %v", cfg, j, w[j], want[j])
			}
		}
	}
}

// BenchmarkSGDStep times one momentum update of the mlp's 1,578,506 parameters (its largest
// is 512 x 3072): bytes are those read and written (weights, gradients, momentum).
func BenchmarkSGDStep(b *testing.B) {
	sizes := []int{512 * 3072, 512, 10 * 512, 10}
	var params []Param
	var grads [][]float32
	total := 0
	for i, n := range sizes {
		params = append(params, Param{Name: fmt.Sprint("p", i), Data: make([]float32, n), Decay: true})
		grads = append(grads, make([]float32, n))
		total += n
	}
	opt, err := NewSGD(params, SGDConfig{Momentum: 0.9})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(5 * 4 * total))
	b.ReportAllocs()
	for b.Loop() {
		if err := opt.Step(0.01, grads); err != nil {
			b.Fatal(err)
		}
	}
}
