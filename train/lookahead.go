package train

import (
	"math"

	"example.com/xent/model"
)

// lookahead is airbench's Lookahead: a slow copy of every tensor of the model (weights and
// BatchNorm statistics) that every lookaheadEvery steps moves toward the fast weights and
// then replaces them,
//
//	slow = d*slow + (1-d)*fast,  fast = slow,  d = 0.95^5 * (step/total)^3
//
// so it does nothing early (d near 0) and averages over the last steps late in training;
// after the last step the model is the slow copy.
type lookahead struct {
	params []*model.Param
	slow   [][]float32
	total  int
}

const lookaheadEvery = 5

func newLookahead(params []*model.Param, total int) *lookahead {
	la := &lookahead{params: params, total: total}
	for _, p := range params {
		la.slow = append(la.slow, append([]float32(nil), p.T.Data().([]float32)...))
	}
	return la
}

// afterStep runs after training step number step (from 1) of the run.
func (la *lookahead) afterStep(step int) {
	switch {
	case step == la.total:
		la.update(1)
	case step%lookaheadEvery == 0:
		la.update(math.Pow(0.95, lookaheadEvery) * math.Pow(float64(step)/float64(la.total), 3))
	}
}

func (la *lookahead) update(decay float64) {
	d := float32(decay)
	for i, p := range la.params {
		fast, slow := p.T.Data().([]float32), la.slow[i]
		for j, v := range fast {
			slow[j] = d*slow[j] + (1-d)*v
			fast[j] = slow[j]
		}
	}
}

// state returns the slow copies by tensor name, for checkpoints.
func (la *lookahead) state() map[string][]float32 {
	st := map[string][]float32{}
	for i, p := range la.params {
		st[p.Name] = la.slow[i]
	}
	return st
}
