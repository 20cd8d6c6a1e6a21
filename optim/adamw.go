package optim

import (
	"fmt"
	"math"
)

// AdamWConfig holds AdamW's options, as torch.optim.AdamW's.
type AdamWConfig struct {
	Beta1, Beta2 float64 // e.g. 0.9, 0.999
	Eps          float64 // e.g. 1e-8
	WeightDecay  float64 // decoupled decay of Decay parameters, e.g. 0.01
}

// AdamW is Adam with decoupled weight decay (Loshchilov and Hutter), PyTorch's update rule
// at step t (from 1):
//
//	p = p*(1 - lr*WeightDecay)                    (Decay parameters)
//	m = Beta1*m + (1-Beta1)*g,  v = Beta2*v + (1-Beta2)*g^2
//	p = p - lr * (m/(1-Beta1^t)) / (sqrt(v/(1-Beta2^t)) + Eps)
type AdamW struct {
	cfg    AdamWConfig
	params []Param
	m, v   [][]float32
	steps  int
}

// NewAdamW returns AdamW over params.
func NewAdamW(params []Param, cfg AdamWConfig) (*AdamW, error) {
	if !(cfg.Beta1 >= 0 && cfg.Beta1 < 1 && cfg.Beta2 >= 0 && cfg.Beta2 < 1) || !(cfg.Eps > 0) || cfg.WeightDecay < 0 {
		return nil, fmt.Errorf("optim: AdamW betas (%v, %v) want [0, 1), eps %v want > 0, weight decay %v want >= 0",
			cfg.Beta1, cfg.Beta2, cfg.Eps, cfg.WeightDecay)
	}
	return &AdamW{cfg: cfg, params: params, m: buffers(params), v: buffers(params)}, nil
}

// Step applies one update.
func (a *AdamW) Step(lr float64, grads [][]float32) error {
	if err := checkGrads(a.params, grads); err != nil {
		return err
	}
	a.steps++
	b1, b2 := a.cfg.Beta1, a.cfg.Beta2
	c1 := 1 - math.Pow(b1, float64(a.steps))
	c2 := 1 - math.Pow(b2, float64(a.steps))
	sqrtC2 := float32(math.Sqrt(c2))
	for i, p := range a.params {
		w, g, m, v := p.Data, grads[i], a.m[i], a.v[i]
		plr := p.scaled(lr)
		stepSize, decay := float32(plr/c1), float32(1)
		if p.Decay {
			decay = float32(1 - plr*a.cfg.WeightDecay)
		}
		for j := range w {
			m[j] = float32(b1)*m[j] + float32(1-b1)*g[j]
			v[j] = float32(b2)*v[j] + float32(1-b2)*g[j]*g[j]
			denom := float32(math.Sqrt(float64(v[j])))/sqrtC2 + float32(a.cfg.Eps)
			w[j] = w[j]*decay - stepSize*m[j]/denom
		}
	}
	return nil
}

// Steps returns the number of steps taken.
func (a *AdamW) Steps() int { return a.steps }

// State returns the moment buffers, named "<param>.m" and "<param>.v".
func (a *AdamW) State() map[string][]float32 {
	st := map[string][]float32{}
	for i, p := range a.params {
		st[p.Name+".m"], st[p.Name+".v"] = a.m[i], a.v[i]
	}
	return st
}

// SetState restores the moments and the step count.
func (a *AdamW) SetState(state map[string][]float32, steps int) error {
	if err := restore(a.params, a.m, ".m", state); err != nil {
		return err
	}
	if err := restore(a.params, a.v, ".v", state); err != nil {
		return err
	}
	a.steps = steps
	return nil
}
