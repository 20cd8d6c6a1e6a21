// Package optim updates named float32 parameters from their gradients: SGD with momentum,
// Nesterov and weight decay, AdamW with decoupled weight decay, gradient clipping by global
// norm, and learning-rate schedules as pure functions of the step. It knows nothing of the
// model: parameters are named slices that it changes in place.
package optim

import (
	"fmt"
	"math"
)

// A Param is one parameter tensor, flattened.
type Param struct {
	Name  string
	Data  []float32 // updated in place by Step
	Decay bool      // weight decay applies (false for biases and BatchNorm scale and shift)
	// LRScale multiplies the learning rate of this parameter, as a PyTorch parameter group
	// with its own lr (airbench trains BatchNorm shifts at 64x); 0 means 1.
	LRScale float64
	// Shape is the tensor's shape, for the optimizers that see it as a matrix (Muon: [rows,
	// the product of the rest]); nil for the others.
	Shape []int
}

// scaled returns lr times p's LRScale.
func (p *Param) scaled(lr float64) float64 {
	if p.LRScale == 0 {
		return lr
	}
	return lr * p.LRScale
}

// An Optimizer updates its parameters from one step's gradients.
type Optimizer interface {
	// Step applies grads[i], the gradient of params[i], at learning rate lr.
	Step(lr float64, grads [][]float32) error
	// Steps returns the number of steps taken.
	Steps() int
	// State returns the optimizer's per-parameter buffers by name ("<param>.momentum",
	// "<param>.m", "<param>.v"), for checkpoints; the slices are the live buffers.
	State() map[string][]float32
	// SetState restores buffers saved by State and the step count.
	SetState(state map[string][]float32, steps int) error
}

// checkGrads reports gradients that do not match their parameters.
func checkGrads(params []Param, grads [][]float32) error {
	if len(grads) != len(params) {
		return fmt.Errorf("optim: %d gradients for %d parameters", len(grads), len(params))
	}
	for i, g := range grads {
		if len(g) != len(params[i].Data) {
			return fmt.Errorf("optim: gradient of %s has %d elements, the parameter %d", params[i].Name, len(g), len(params[i].Data))
		}
	}
	return nil
}

// buffers returns one zeroed buffer per parameter.
func buffers(params []Param) [][]float32 {
	b := make([][]float32, len(params))
	for i, p := range params {
		b[i] = make([]float32, len(p.Data))
	}
	return b
}

// named returns the buffers by their parameters' names with suffix, as State gives them.
func named(params []Param, bufs [][]float32, suffix string) map[string][]float32 {
	st := map[string][]float32{}
	for i, b := range bufs {
		st[params[i].Name+suffix] = b
	}
	return st
}

// restore copies state[name+suffix] into each buffer, checking names and sizes.
func restore(params []Param, bufs [][]float32, suffix string, state map[string][]float32) error {
	for i, p := range params {
		s, ok := state[p.Name+suffix]
		if !ok {
			return fmt.Errorf("optim: state has no %s%s", p.Name, suffix)
		}
		if len(s) != len(bufs[i]) {
			return fmt.Errorf("optim: state %s%s has %d elements, want %d", p.Name, suffix, len(s), len(bufs[i]))
		}
		copy(bufs[i], s)
	}
	return nil
}

// ClipGradNorm scales grads in place so that their global L2 norm is at most maxNorm, as
// torch.nn.utils.clip_grad_norm_ does (scale maxNorm/(norm+1e-6) when norm > maxNorm), and
// returns the norm before clipping. A non-finite norm is returned without scaling.
func ClipGradNorm(grads [][]float32, maxNorm float64) float64 {
	var sq float64
	for _, g := range grads {
		for _, v := range g {
			sq += float64(v) * float64(v)
		}
	}
	norm := math.Sqrt(sq)
	if norm > maxNorm && !math.IsInf(norm, 0) && !math.IsNaN(norm) {
		scale := float32(maxNorm / (norm + 1e-6))
		for _, g := range grads {
			for i := range g {
				g[i] *= scale
			}
		}
	}
	return norm
}
