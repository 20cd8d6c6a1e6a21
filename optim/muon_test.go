package optim

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestMuonAgainstPyTorch replays testdata/torch_muon.json (torch_muon.py): five steps of the
// record's Muon in float64, against this float32 Muon.
func TestMuonAgainstPyTorch(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "torch_muon.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name        string                 `json:"name"`
		LR          float64                `json:"lr"`
		Momentum    float64                `json:"momentum"`
		Nesterov    bool                   `json:"nesterov"`
		Steps       int                    `json:"steps"`
		Renormalize bool                   `json:"renormalize"`
		Shapes      map[string][]int       `json:"shapes"`
		P0          map[string][]float64   `json:"p0"`
		Grads       []map[string][]float64 `json:"grads"`
		P           map[string][]float64   `json:"p"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) != 2 {
		t.Fatalf("%d cases, want 2", len(cases))
	}
	names := []string{"conv", "tall", "vec"}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			var params []Param
			for _, n := range names {
				params = append(params, Param{Name: n, Data: to32(c.P0[n]), Shape: c.Shapes[n], Decay: true})
			}
			opt, err := NewMuon(params, MuonConfig{Momentum: c.Momentum, Nesterov: c.Nesterov, NewtonSteps: c.Steps, Renormalize: c.Renormalize})
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range c.Grads {
				var grads [][]float32
				for _, n := range names {
					grads = append(grads, to32(g[n]))
				}
				if err := opt.Step(c.LR, grads); err != nil {
					t.Fatal(err)
				}
			}
			for i, n := range names {
				for j, want := range c.P[n] {
					if got := float64(params[i].Data[j]); math.Abs(got-want) > 2e-5*math.Max(1, math.Abs(want)) {
						t.Errorf("%s[%d] = %.8f, PyTorch %.8f", n, j, got, want)
					}
				}
			}
		})
	}
}

// TestNewtonSchulzOrthogonalizes checks the iteration's promise: singular values near 1.
// With 5 steps every singular value of NS(G) lies in [0.6, 1.25] (the map's fixed band),
// so X X^T is near the identity and its trace near m.
func TestNewtonSchulzOrthogonalizes(t *testing.T) {
	const m, n = 8, 20
	g := make([]float32, m*n)
	for i := range g {
		g[i] = float32(math.Sin(float64(i)*0.7) + 0.3*math.Cos(float64(i*i)))
	}
	for _, shape := range [][2]int{{m, n}, {n, m}} {
		var ns newtonSchulz
		x := ns.orthogonalize(g, shape[0], shape[1], 5, 1e-7)
		r, c := shape[0], shape[1]
		k := min(r, c)
		// the Gram matrix of the short side: X X^T [r,r] or X^T X [c,c]
		for i := range k {
			for j := range k {
				var s float64
				for l := range max(r, c) {
					if r <= c {
						s += float64(x[i*c+l]) * float64(x[j*c+l])
					} else {
						s += float64(x[l*c+i]) * float64(x[l*c+j])
					}
				}
				if i == j && (s < 0.6*0.6 || s > 1.25*1.25+0.2) {
					t.Errorf("%v: Gram[%d][%d] = %.3f, want a squared singular value in [0.36, 1.76]", shape, i, j, s)
				}
			}
		}
	}
}

func TestMuonStateAndErrors(t *testing.T) {
	p := []Param{{Name: "w", Data: []float32{1, 2, 3, 4, 5, 6}, Shape: []int{2, 3}}}
	opt, err := NewMuon(p, MuonConfig{Momentum: 0.6, Nesterov: true, NewtonSteps: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := opt.Step(0.1, [][]float32{{1, 0, 0, 0, 1, 0}}); err != nil {
		t.Fatal(err)
	}
	// a second optimizer restored from the first's state takes the same next step
	q := []Param{{Name: "w", Data: append([]float32(nil), p[0].Data...), Shape: []int{2, 3}}}
	opt2, _ := NewMuon(q, MuonConfig{Momentum: 0.6, Nesterov: true, NewtonSteps: 3})
	if err := opt2.SetState(opt.State(), opt.Steps()); err != nil {
		t.Fatal(err)
	}
	g := [][]float32{{0.5, -1, 0, 2, 0, 1}}
	opt.Step(0.1, g)
	opt2.Step(0.1, g)
	for j := range p[0].Data {
		if p[0].Data[j] != q[0].Data[j] || opt2.Steps() != 2 {
			t.Fatalf("resumed Muon differs: %v against %v", q[0].Data, p[0].Data)
		}
	}
	for name, cfg := range map[string]MuonConfig{
		"momentum 1": {Momentum: 1, NewtonSteps: 3}, "Nesterov without momentum": {Nesterov: true, NewtonSteps: 3},
		"0 steps": {Momentum: 0.5}, "NaN eps": {Momentum: 0.5, NewtonSteps: 3, Eps: math.NaN()},
	} {
		if _, err := NewMuon(p, cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewMuon([]Param{{Name: "w", Data: make([]float32, 5), Shape: []int{2, 3}}}, MuonConfig{NewtonSteps: 3}); err == nil {
		t.Error("shape [2 3] for 5 elements: accepted")
	}
	if err := opt.SetState(map[string][]float32{}, 1); err == nil {
		t.Error("SetState without the momentum buffer: accepted")
	}
}

// TestGroupRoutesGradients runs Muon on one parameter and SGD on the other through a group
// and checks each against the optimizer run alone.
func TestGroupRoutesGradients(t *testing.T) {
	mk := func() []Param {
		return []Param{{Name: "b", Data: []float32{0.5, -1}}, {Name: "w", Data: []float32{1, 2, 3, 4, 5, 6}, Shape: []int{2, 3}}}
	}
	grads := [][]float32{{0.1, 0.2}, {1, 0, -1, 0.5, 0, 2}}
	p := mk()
	muon, _ := NewMuon(p[1:], MuonConfig{Momentum: 0.6, Nesterov: true, NewtonSteps: 3})
	sgd, _ := NewSGD(p[:1], SGDConfig{Momentum: 0.9})
	g := NewGroup(2)
	if err := g.Add(muon, []int{1}, 2.5); err != nil {
		t.Fatal(err)
	}
	if err := g.Step(0.1, grads); err == nil {
		t.Fatal("a group with parameter 0 in no member stepped")
	}
	if err := g.Add(sgd, []int{0}, 1); err != nil {
		t.Fatal(err)
	}
	if err := g.Add(sgd, []int{0}, 1); err == nil {
		t.Fatal("parameter 0 in two members: accepted")
	}
	for range 2 {
		if err := g.Step(0.1, grads); err != nil {
			t.Fatal(err)
		}
	}
	q := mk()
	muon2, _ := NewMuon(q[1:], MuonConfig{Momentum: 0.6, Nesterov: true, NewtonSteps: 3})
	sgd2, _ := NewSGD(q[:1], SGDConfig{Momentum: 0.9})
	for range 2 {
		muon2.Step(0.25, grads[1:])
		sgd2.Step(0.1, grads[:1])
	}
	for i := range p {
		for j := range p[i].Data {
			if p[i].Data[j] != q[i].Data[j] {
				t.Fatalf("%s: group %v, alone %v", p[i].Name, p[i].Data, q[i].Data)
			}
		}
	}
	if st := g.State(); len(st) != 2 || st["w.momentum"] == nil || st["b.momentum"] == nil || g.Steps() != 2 {
		t.Errorf("group state %v, steps %d", st, g.Steps())
	}
}

// A member added with AddRate steps at its own rate of the group's step, whatever the
// group's rate: here 0.2, then 0.1, then 0 (frozen: SGD at rate 0 leaves its parameter).
func TestGroupMemberRate(t *testing.T) {
	p := []Param{{Name: "b", Data: []float32{0.5, -1}}}
	q := []Param{{Name: "b", Data: []float32{0.5, -1}}}
	sgd, _ := NewSGD(p, SGDConfig{Momentum: 0.9})
	alone, _ := NewSGD(q, SGDConfig{Momentum: 0.9})
	g := NewGroup(1)
	if err := g.AddRate(sgd, []int{0}, func(step int) float64 { return max(0.2-0.1*float64(step), 0) }); err != nil {
		t.Fatal(err)
	}
	grads := [][]float32{{0.1, 0.2}}
	for step, lr := range []float64{0.2, 0.1, 0, 0} {
		if err := g.Step(7, grads); err != nil {
			t.Fatal(err)
		}
		alone.Step(lr, grads)
		if !slices.Equal(p[0].Data, q[0].Data) {
			t.Fatalf("step %d: %v in the group, %v alone at rate %v", step, p[0].Data, q[0].Data, lr)
		}
	}
}
