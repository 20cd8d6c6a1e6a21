package main

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/loss"
)

// An impl is one softmax cross-entropy implementation (mean over the batch, float32).
// Setup gets the logits [N,K] and labels [N] that every later call reads; Forward returns
// the loss, ForwardBackward also the gradient dL/dlogits [N,K] (valid until the next call).
type impl interface {
	Setup(logits []float32, labels []int, k int) error
	Forward() (float64, error)
	ForwardBackward() (float64, []float32, error)
}

var impls = map[string]func() impl{
	"kernel":   func() impl { return &kernelImpl{} },
	"node":     func() impl { return &graphImpl{build: fusedLoss} },
	"gorgonia": func() impl { return &graphImpl{build: stockLoss} },
}

// kernelImpl calls loss.SoftmaxCrossEntropyKernel on the slices directly.
type kernelImpl struct {
	x       *loss.SoftmaxCrossEntropyKernel[float32]
	logits  []float32
	labels  []int
	dlogits []float32
	one     []float32
}

func (p *kernelImpl) Setup(logits []float32, labels []int, k int) error {
	x, err := loss.NewSoftmaxCrossEntropyKernel[float32](k)
	p.x, p.logits, p.labels = x, logits, labels
	p.dlogits, p.one = make([]float32, len(logits)), []float32{1}
	return err
}

func (p *kernelImpl) Forward() (float64, error) { return p.x.Forward(p.logits, p.labels) }

func (p *kernelImpl) ForwardBackward() (float64, []float32, error) {
	l, err := p.x.Forward(p.logits, p.labels)
	if err != nil {
		return 0, nil, err
	}
	p.x.Backward(p.dlogits, p.logits, p.labels, p.one)
	return l, p.dlogits, nil
}

// graphImpl runs a loss built by build in a Gorgonia graph: one machine for the loss alone,
// and one, on a second graph, for the loss and its gradient.
type graphImpl struct {
	build       func(z *G.Node, labels []int, k int) (*G.Node, error)
	fwd, both   G.VM
	cost, cost2 *G.Node
	grad        *G.Node
}

func (p *graphImpl) Setup(logits []float32, labels []int, k int) error {
	var err error
	if p.cost, _, err = p.graph(logits, labels, k); err != nil {
		return err
	}
	p.fwd = G.NewTapeMachine(p.cost.Graph().SubgraphRoots(p.cost))
	var z *G.Node
	if p.cost2, z, err = p.graph(logits, labels, k); err != nil {
		return err
	}
	grads, err := G.Grad(p.cost2, z)
	if err != nil {
		return err
	}
	p.grad = grads[0]
	p.both = G.NewTapeMachine(p.cost2.Graph().SubgraphRoots(p.cost2, p.grad))
	return nil
}

func (p *graphImpl) graph(logits []float32, labels []int, k int) (*G.Node, *G.Node, error) {
	g := G.NewGraph()
	n := len(labels)
	z := G.NewMatrix(g, tensor.Float32, G.WithShape(n, k), G.WithName("logits"),
		G.WithValue(tensor.New(tensor.WithShape(n, k), tensor.WithBacking(logits))))
	cost, err := p.build(z, labels, k)
	return cost, z, err
}

func (p *graphImpl) Forward() (float64, error) {
	p.fwd.Reset()
	if err := p.fwd.RunAll(); err != nil {
		return 0, loss.FromMachine(err)
	}
	return float64(p.cost.Value().Data().(float32)), nil
}

func (p *graphImpl) ForwardBackward() (float64, []float32, error) {
	p.both.Reset()
	if err := p.both.RunAll(); err != nil {
		return 0, nil, loss.FromMachine(err)
	}
	return float64(p.cost2.Value().Data().(float32)), p.grad.Value().Data().([]float32), nil
}

func fusedLoss(z *G.Node, labels []int, _ int) (*G.Node, error) {
	y := G.NewVector(z.Graph(), tensor.Int, G.WithShape(len(labels)), G.WithName("labels"),
		G.WithValue(tensor.New(tensor.WithShape(len(labels)), tensor.WithBacking(labels))))
	return loss.SoftmaxCrossEntropy(z, y)
}

// stockLoss is what Gorgonia v0.9.18 users write: -Mean(Sum(onehot ⊙ Log(SoftMax(z)), 1)).
func stockLoss(z *G.Node, labels []int, k int) (*G.Node, error) {
	n := len(labels)
	onehot := make([]float32, n*k)
	for i, y := range labels {
		onehot[i*k+y] = 1
	}
	oh := G.NewMatrix(z.Graph(), tensor.Float32, G.WithShape(n, k), G.WithName("onehot"),
		G.WithValue(tensor.New(tensor.WithShape(n, k), tensor.WithBacking(onehot))))
	sm, err := G.SoftMax(z)
	if err != nil {
		return nil, fmt.Errorf("softmax: %w", err)
	}
	logp, err := G.Log(sm)
	if err != nil {
		return nil, err
	}
	picked, err := G.HadamardProd(logp, oh)
	if err != nil {
		return nil, err
	}
	rows, err := G.Sum(picked, 1)
	if err != nil {
		return nil, err
	}
	mean, err := G.Mean(rows)
	if err != nil {
		return nil, err
	}
	return G.Neg(mean)
}
