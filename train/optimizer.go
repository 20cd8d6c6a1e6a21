package train

import (
	"cmp"
	"fmt"
	"strings"

	"example.com/xent/model"
	"example.com/xent/optim"
)

// OptimizerParams returns net's trainable tensors as the optimizer's parameters, with
// their weight decay and learning-rate multiplier (airbench's BatchNorm shifts at 64x),
// in the order of the training graph's gradients.
func OptimizerParams(net *model.Net) []optim.Param {
	var params []optim.Param
	for _, p := range net.Trainable() {
		params = append(params, optim.Param{Name: p.Name, Data: p.T.Data().([]float32), Decay: p.Decay, LRScale: p.LRScale,
			Shape: append([]int(nil), p.T.Shape()...)})
	}
	return params
}

// buildOptimizer makes -optimizer over the model's parameters and -schedule's learning
// rates over the run's steps.
func (r *runner) buildOptimizer() error {
	params := OptimizerParams(r.net)
	var err error
	if r.cfg.WhitenBiasEpochs > 0 {
		r.opt, err = r.whitenBiasGroup(params)
	} else {
		r.opt, err = newOptimizer(params, r.cfg)
	}
	if err != nil {
		return err
	}
	total := r.cfg.Epochs * r.train.BatchesPerEpoch()
	switch r.cfg.Schedule {
	case Constant:
		r.sched = optim.Constant{Rate: r.cfg.LR}
	case StepDecay:
		r.sched = optim.StepDecay{Rate: r.cfg.LR, Every: max(total/3, 1), Gamma: 0.1}
	case Cosine:
		r.sched = optim.Cosine{Peak: r.cfg.LR, Warmup: total / 20, Total: total}
	case Triangular:
		r.sched = optim.Triangular{Peak: r.cfg.LR, Total: total, Warmup: 0.2, Start: 0.1, End: 0}
	case Linear:
		r.sched = optim.Triangular{Peak: r.cfg.LR, Total: total, Warmup: 0, Start: 1, End: 0}
	default:
		return fmt.Errorf("-schedule %q: want constant, step, cosine, triangular or linear", r.cfg.Schedule)
	}
	return nil
}

// newOptimizer is -optimizer over params.
func newOptimizer(params []optim.Param, cfg Config) (optim.Optimizer, error) {
	switch cfg.Optimizer {
	case SGD:
		return optim.NewSGD(params, optim.SGDConfig{Momentum: cfg.Momentum, Nesterov: cfg.Nesterov, WeightDecay: cfg.WD})
	case AdamW:
		return optim.NewAdamW(params, optim.AdamWConfig{Beta1: cfg.Momentum, Beta2: 0.999, Eps: 1e-8, WeightDecay: cfg.WD})
	case Muon:
		return muonGroup(params, cfg)
	}
	return nil, fmt.Errorf("-optimizer %q: want sgd, adamw or muon", cfg.Optimizer)
}

// whitenBiasGroup is -whiten-bias-epochs N: the biases of the model's whitening layers on
// SGD (-momentum, -nesterov, -wd) at r0 x (1 - step/S) for the first S = N epochs' steps
// and 0 after (frozen), as airbench94_muon trains its whitening bias, r0 being
// -whiten-bias-lr or else -lr; -optimizer over the rest, on the schedule. From step S on
// (without -clip, whose norm includes them) the biases are model.Param.Frozen: their
// gradients, now zero, no longer cost the first convolution's dx; every other tensor
// trains to the same bits.
func (r *runner) whitenBiasGroup(params []optim.Param) (optim.Optimizer, error) {
	biases := map[string]bool{}
	for _, l := range r.net.Layers {
		if strings.HasPrefix(l.Kind, "whiten") {
			biases[l.Name+".bias"] = true
		}
	}
	bias, bi, rest, ri := splitParams(params, func(p optim.Param) bool { return biases[p.Name] })
	if len(bias) == 0 {
		return nil, fmt.Errorf("-whiten-bias-epochs %d: -model %s has no whitening layer", r.cfg.WhitenBiasEpochs, r.cfg.Model)
	}
	inner, err := newOptimizer(rest, r.cfg)
	if err != nil {
		return nil, err
	}
	sgd, err := optim.NewSGD(bias, optim.SGDConfig{Momentum: r.cfg.Momentum, Nesterov: r.cfg.Nesterov, WeightDecay: r.cfg.WD})
	if err != nil {
		return nil, err
	}
	g := optim.NewGroup(len(params))
	if err := g.Add(inner, ri, 1); err != nil {
		return nil, err
	}
	steps, peak := float64(r.cfg.WhitenBiasEpochs*r.train.BatchesPerEpoch()), cmp.Or(r.cfg.WhitenBiasLR, r.cfg.LR)
	if r.cfg.Clip == 0 { // (-clip's norm would lose the biases' gradients)
		r.frozen, r.frozenFrom = nil, int(steps) // rate 0 from then on: their gradients are not needed
		for name := range biases {
			r.frozen = append(r.frozen, r.net.Params.Get(name))
		}
	}
	return g, g.AddRate(sgd, bi, func(step int) float64 { return peak * max(1-float64(step)/steps, 0) })
}

// muonGroup is -optimizer muon: optim.Muon on the convolution filters (the trainable tensors
// of 4 dimensions), at -muon-lr with Nesterov momentum -muon-momentum, renormalised each step
// as airbench94_muon does; SGD with -momentum, -nesterov and -wd on the rest, at -lr. The two
// follow one schedule: the filters' rate is -muon-lr/-lr times the schedule's.
func muonGroup(params []optim.Param, cfg Config) (*optim.Group, error) {
	filters, fi, rest, ri := splitParams(params, func(p optim.Param) bool { return len(p.Shape) == 4 })
	if len(filters) == 0 {
		return nil, fmt.Errorf("-optimizer muon: -model %s has no convolution filters for Muon", cfg.Model)
	}
	muon, err := optim.NewMuon(filters, optim.MuonConfig{Momentum: cfg.MuonMomentum, Nesterov: true, NewtonSteps: cfg.MuonSteps, Renormalize: true})
	if err != nil {
		return nil, err
	}
	g := optim.NewGroup(len(params))
	if err := g.Add(muon, fi, cfg.MuonLR/cfg.LR); err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		sgd, err := optim.NewSGD(rest, optim.SGDConfig{Momentum: cfg.Momentum, Nesterov: cfg.Nesterov, WeightDecay: cfg.WD})
		if err != nil {
			return nil, err
		}
		if err := g.Add(sgd, ri, 1); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// splitParams parts params into those of which in is true and the rest, each with their
// indices in params (an optim.Group's member indices).
func splitParams(params []optim.Param, in func(optim.Param) bool) (yes []optim.Param, yi []int, no []optim.Param, ni []int) {
	for i, p := range params {
		if in(p) {
			yes, yi = append(yes, p), append(yi, i)
		} else {
			no, ni = append(no, p), append(ni, i)
		}
	}
	return yes, yi, no, ni
}
