package loss

import (
	"fmt"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/internal/graphop"
)

// LinearCrossEntropy adds one node computing the cross-entropy of the logits h w^T (+ b with
// WithBias(b)) against labels [N], for h [N,D], w [V,D] and b [V] (float32 or float64, one
// dtype), without ever holding the logits [N,V]: LinearCrossEntropyKernel documents the
// computation, and the options are SoftmaxCrossEntropy's. Its gradients with respect to h, w
// and b come from the same pass over the rows: after a step that asked for them, the forward
// pass computes them with the loss (6NDV flops, where a forward and a recomputing backward
// take 8NDV), and the gradient nodes only scale them by the upstream gradient. Reduction None
// always recomputes, since its gradient weighs each row by its own upstream gradient.
func LinearCrossEntropy(h, w, labels *gorgonia.Node, opts ...Option) (*gorgonia.Node, error) {
	var o Options
	for _, opt := range opts {
		opt(&o)
	}
	b := o.bias
	o.bias = nil
	if err := checkFloatNode(h, "h", 2); err != nil {
		return nil, err
	}
	if err := checkFloatNode(w, "w", 2); err != nil {
		return nil, err
	}
	n, d, v := h.Shape()[0], h.Shape()[1], w.Shape()[0]
	if w.Shape()[1] != d || w.Dtype() != h.Dtype() {
		return nil, fmt.Errorf("loss: linear cross-entropy: w %v (%v) for h %v (%v): want [V,%d] of %v: %w",
			w.Name(), w.Shape(), h.Name(), h.Shape(), d, h.Dtype(), ErrShape)
	}
	inputs := []*gorgonia.Node{h, w}
	if b != nil {
		if b.Shape().Dims() != 1 || b.Shape()[0] != v || b.Dtype() != h.Dtype() {
			return nil, fmt.Errorf("loss: linear cross-entropy: bias %v for w %v of shape %v: want shape (%d) of %v: %w",
				nodeShape(b), w.Name(), w.Shape(), v, h.Dtype(), ErrShape)
		}
		inputs = append(inputs, b)
	}
	if labels == nil || labels.Shape().Dims() != 1 || labels.Shape()[0] != n {
		return nil, fmt.Errorf("loss: labels %v for h %v of shape %v: want shape (%d): %w",
			nodeShape(labels), h.Name(), h.Shape(), n, ErrShape)
	}
	inputs = append(inputs, labels)
	set := func(p *Options) { *p = o }
	if h.Dtype() == tensor.Float32 {
		return newLinearXentNode[float32](v, set, b != nil, inputs)
	}
	return newLinearXentNode[float64](v, set, b != nil, inputs)
}

func newLinearXentNode[T Float](v int, opts Option, bias bool, inputs []*gorgonia.Node) (*gorgonia.Node, error) {
	x, err := NewLinearCrossEntropyKernel[T](v, opts)
	if err != nil {
		return nil, err
	}
	return applyLoss(&linearXentNode[T]{x: x, bias: bias}, inputs...)
}

// linearXentNode runs LinearCrossEntropyKernel in a graph: inputs h, w, [b,] labels.
type linearXentNode[T Float] struct {
	x      *LinearCrossEntropyKernel[T]
	bias   bool
	labels []int
	g      []T
	// step.Asked before a Forward, whether the last forward pass was followed by a gradient,
	// is the forecast that makes this one compute the gradients with the loss (fused): an
	// evaluation-only pass after training computes them once for nothing, and training after
	// evaluation recomputes them once.
	step       graphop.Step
	fused      bool
	dh, dw, db *tensor.Dense
}

func (nk *linearXentNode[T]) String() string {
	return fmt.Sprintf("LinearCrossEntropy{bias=%v %v}", nk.bias, &nk.x.opts)
}

func (nk *linearXentNode[T]) DiffWRT() []bool {
	if nk.bias {
		return []bool{true, true, true, false}
	}
	return []bool{true, true, false}
}

func (nk *linearXentNode[T]) Types() ([]hm.Type, hm.Type) {
	in := []hm.Type{graphop.MatrixA, graphop.MatrixA}
	if nk.bias {
		in = append(in, graphop.VectorA)
	}
	return append(in, graphop.VectorL), reducedType(nk.x.opts.Reduction)
}

func (nk *linearXentNode[T]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	return reducedShape(nk.x.opts.Reduction, in[0][0]), nil
}

// inputs returns the data of h, w, b (nil without a bias) and the labels.
func (nk *linearXentNode[T]) inputs(in []gorgonia.Value) (h, w, b []T, y []int, err error) {
	if h, err = graphop.Data[T](in[0], "h"); err != nil {
		return
	}
	if w, err = graphop.Data[T](in[1], "w"); err != nil {
		return
	}
	if nk.bias {
		if b, err = graphop.Data[T](in[2], "bias"); err != nil {
			return
		}
	}
	y, nk.labels, err = labelsOf(in[len(in)-1], nk.labels)
	return
}

func (nk *linearXentNode[T]) Forward(in []gorgonia.Value) (gorgonia.Value, error) {
	h, w, b, y, err := nk.inputs(in)
	if err != nil {
		return nil, err
	}
	nk.fused = nk.step.Asked() && nk.x.opts.Reduction != None
	nk.step.Forward()
	var l float64
	if nk.fused {
		nk.reuseGrads(len(y), len(h)/max(len(y), 1))
		l, err = nk.x.ForwardBackward(graphop.Slice[T](nk.dh), graphop.Slice[T](nk.dw), nk.biasGrad(), h, w, b, y)
	} else {
		l, err = nk.x.Forward(h, w, b, y)
	}
	if err != nil {
		return nil, err
	}
	return reducedValue[T](nk.x.opts.Reduction, l, nk.x.RowLosses()), nil
}

func (nk *linearXentNode[T]) Backward(wrt int, in []gorgonia.Value, _, grad gorgonia.Value) (gorgonia.Value, error) {
	if nk.step.Backward(wrt) {
		h, w, b, y, err := nk.inputs(in)
		if err != nil {
			return nil, err
		}
		if nk.g, err = upstreamOf(grad, nk.g); err != nil {
			return nil, err
		}
		if nk.fused {
			nk.scaleGrads(nk.g[0])
		} else {
			nk.reuseGrads(len(y), len(h)/max(len(y), 1))
			nk.x.Backward(graphop.Slice[T](nk.dh), graphop.Slice[T](nk.dw), nk.biasGrad(), h, w, b, y, nk.g)
		}
	}
	switch wrt {
	case 0:
		return nk.dh, nil
	case 1:
		return nk.dw, nil
	}
	return nk.db, nil
}

func (nk *linearXentNode[T]) reuseGrads(n, d int) {
	nk.dh = graphop.Reused[T](nk.dh, n, d)
	nk.dw = graphop.Reused[T](nk.dw, nk.x.v, d)
	if nk.bias {
		nk.db = graphop.Reused[T](nk.db, nk.x.v)
	}
}

func (nk *linearXentNode[T]) biasGrad() []T {
	if !nk.bias {
		return nil
	}
	return graphop.Slice[T](nk.db)
}

// scaleGrads multiplies the fused gradients, formed for upstream gradient 1, by g.
func (nk *linearXentNode[T]) scaleGrads(g T) {
	if g == 1 {
		return
	}
	for _, t := range []*tensor.Dense{nk.dh, nk.dw, nk.db} {
		if t == nil {
			continue
		}
		s := graphop.Slice[T](t)
		for i := range s {
			s[i] *= g
		}
	}
}
