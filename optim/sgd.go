package optim

import (
	"fmt"

	"example.com/xent/internal/parallel"
	"example.com/xent/internal/vmath"
)

// SGDConfig holds SGD's options, as torch.optim.SGD's.
type SGDConfig struct {
	Momentum    float64 // e.g. 0.9; 0 for plain SGD
	Dampening   float64 // usually 0
	Nesterov    bool    // needs Momentum > 0 and Dampening 0
	WeightDecay float64 // L2 penalty added to the gradient of Decay parameters, e.g. 5e-4
}

// SGD is stochastic gradient descent with momentum, PyTorch's update rule: with g the
// gradient plus WeightDecay*p (for Decay parameters),
//
//	b = g (first step),  b = Momentum*b + (1-Dampening)*g (later steps)
//	d = g + Momentum*b (Nesterov),  d = b (otherwise)
//	p = p - lr*d
type SGD struct {
	cfg    SGDConfig
	params []Param
	buf    [][]float32
	steps  int
	task   sgdTask
}

// NewSGD returns SGD over params.
func NewSGD(params []Param, cfg SGDConfig) (*SGD, error) {
	if cfg.Momentum < 0 || cfg.WeightDecay < 0 || cfg.Dampening < 0 {
		return nil, fmt.Errorf("optim: SGD momentum %v, dampening %v, weight decay %v: want >= 0", cfg.Momentum, cfg.Dampening, cfg.WeightDecay)
	}
	if cfg.Nesterov && (cfg.Momentum == 0 || cfg.Dampening != 0) {
		return nil, fmt.Errorf("optim: Nesterov momentum needs momentum > 0 and dampening 0")
	}
	s := &SGD{cfg: cfg, params: params}
	if cfg.Momentum != 0 {
		s.buf = buffers(params)
	}
	return s, nil
}

// Step applies one update. Large parameters are split across cores (each element's update
// is independent, so the result does not depend on the split).
func (s *SGD) Step(lr float64, grads [][]float32) error {
	if err := checkGrads(s.params, grads); err != nil {
		return err
	}
	t := &s.task
	t.mu, t.damp, t.nesterov, t.first = float32(s.cfg.Momentum), float32(1-s.cfg.Dampening), s.cfg.Nesterov, s.steps == 0
	for i, p := range s.params {
		t.lr, t.wd = float32(p.scaled(lr)), 0
		if p.Decay {
			t.wd = float32(s.cfg.WeightDecay)
		}
		t.w, t.g, t.b = p.Data, grads[i], nil
		if s.buf != nil {
			t.b = s.buf[i]
		}
		parallel.For(len(t.w), minSplitElems, t)
	}
	*t = sgdTask{}
	s.steps++
	return nil
}

// minSplitElems is the fewest elements of a parameter per core in an update.
const minSplitElems = 1 << 15

// sgdTask updates elements [lo, hi) of one parameter w with gradient g and momentum buffer
// b (nil without momentum).
type sgdTask struct {
	w, g, b          []float32
	lr, wd, mu, damp float32
	nesterov, first  bool
}

func (t *sgdTask) Run(lo, hi int) {
	w, g, lr, wd := t.w[lo:hi], t.g[lo:hi], t.lr, t.wd
	if t.b == nil {
		for j := range w {
			w[j] -= lr * (g[j] + wd*w[j])
		}
		return
	}
	vmath.SGDMomentum32(w, g, t.b[lo:hi], lr, wd, t.mu, t.damp, t.nesterov, t.first)
}

// Steps returns the number of steps taken.
func (s *SGD) Steps() int { return s.steps }

// State returns the momentum buffers, named "<param>.momentum".
func (s *SGD) State() map[string][]float32 { return named(s.params, s.buf, ".momentum") }

// SetState restores momentum buffers and the step count.
func (s *SGD) SetState(state map[string][]float32, steps int) error {
	if s.buf != nil {
		if err := restore(s.params, s.buf, ".momentum", state); err != nil {
			return err
		}
	}
	s.steps = steps
	return nil
}
