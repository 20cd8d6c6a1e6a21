package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"
)

// A Param is a named tensor of a model: a weight the optimizer trains, or a buffer such as
// BatchNorm's running statistics, which it does not.
type Param struct {
	Name      string
	T         *tensor.Dense
	Trainable bool
	Decay     bool    // weight decay applies (weights of conv and linear layers; not biases or BatchNorm)
	LRScale   float64 // multiplies the learning rate for this tensor; 0 means 1
	// Frozen says that the tensor's gradient is not needed (a trainer sets it from the step
	// on which its rate stays 0): a convolution whose input comes only from frozen tensors'
	// layers skips its input gradient, which is then zero, and so is every gradient
	// computed from it, this tensor's included.
	Frozen bool
}

// Params holds a model's tensors by name, in the order they were made. The training and
// evaluation graphs of a model bind the same tensors, so they always see the same weights.
type Params struct {
	list   []*Param
	byName map[string]*Param
	// data-dependent initialisations (Whiten's), by layer name, run by Net.InitFromData
	inits     map[string]func(images []float32, n int) error
	initOrder []string
}

// set writes element i of the tensor from a float64.
func (p *Param) set(i int, v float64) {
	switch d := p.T.Data().(type) {
	case []float32:
		d[i] = float32(v)
	case []float64:
		d[i] = v
	}
}

// NewParams returns an empty store.
func NewParams() *Params { return &Params{byName: map[string]*Param{}} }

// List returns the tensors in the order they were made.
func (p *Params) List() []*Param { return p.list }

// Get returns the tensor of the given name, or nil.
func (p *Params) Get(name string) *Param { return p.byName[name] }

// Count returns the number of trainable scalars.
func (p *Params) Count() int {
	n := 0
	for _, q := range p.list {
		if q.Trainable {
			n += q.T.Shape().TotalSize()
		}
	}
	return n
}

// Init is how a weight tensor starts.
type Init int

const (
	// PyTorchDefault draws weights and biases from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), what
	// torch.nn.Conv2d and Linear do by default (kaiming_uniform with a = sqrt(5)).
	PyTorchDefault Init = iota
	// He draws weights from N(0, 2/fan_out) (kaiming_normal, mode fan_out, for ReLU
	// networks) and starts biases at 0.
	He
)

// get returns the tensor named name, making it with fill if it does not exist, and checks
// that an existing one has the shape asked for.
func (p *Params) get(name string, shape []int, fill func([]float64), trainable, decay bool) (*Param, error) {
	if q, ok := p.byName[name]; ok {
		if !q.T.Shape().Eq(tensor.Shape(shape)) {
			return nil, fmt.Errorf("model: %s has shape %v, asked for %v", name, q.T.Shape(), shape)
		}
		return q, nil
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float64, n)
	fill(v)
	f := make([]float32, n)
	for i, x := range v {
		f[i] = float32(x)
	}
	q := &Param{Name: name, T: tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f)), Trainable: trainable, Decay: decay}
	p.list = append(p.list, q)
	p.byName[name] = q
	return q, nil
}

func uniform(rng *rand.Rand, bound float64) func([]float64) {
	return func(v []float64) {
		for i := range v {
			v[i] = (rng.Float64()*2 - 1) * bound
		}
	}
}

func normal(rng *rand.Rand, std float64) func([]float64) {
	return func(v []float64) {
		for i := range v {
			v[i] = rng.NormFloat64() * std
		}
	}
}

func constant(c float64) func([]float64) {
	return func(v []float64) {
		for i := range v {
			v[i] = c
		}
	}
}

// weightInit returns the fills of a layer's weight and bias for fan-in and fan-out.
func weightInit(init Init, rng *rand.Rand, fanIn, fanOut int) (w, b func([]float64)) {
	if init == He {
		return normal(rng, math.Sqrt(2/float64(fanOut))), constant(0)
	}
	bound := 1 / math.Sqrt(float64(fanIn))
	return uniform(rng, bound), uniform(rng, bound)
}

// dirac wraps the fill of a weight [out,in,k,k] so that filter i < min(out, in) is the
// identity on channel i: a 1 at its centre tap, 0 elsewhere.
func dirac(fill func([]float64), out, in, k int) func([]float64) {
	return func(v []float64) {
		fill(v)
		for i := range min(out, in) {
			w := v[i*in*k*k : (i+1)*in*k*k]
			clear(w)
			w[(i*k+k/2)*k+k/2] = 1
		}
	}
}
