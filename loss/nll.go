package loss

import (
	"fmt"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/internal/graphop"
)

// NLLLossKernel is NLLLoss over plain slices: the negative log-likelihood over
// log-probabilities a [N,K] (for example the output of LogSoftmax) and labels y [N], as
// PyTorch's nll_loss:
//
//	l_n = -w[y_n]*a[n,y_n],   dL/da[n,j] = -g/D * w[y_n] * [j = y_n],
//
// with the normaliser D of SoftmaxCrossEntropyKernel (sum of w[y_n] over counted rows for Mean, else 1).
// It takes WithReduction, WithWeights, WithIgnore and WithUnits; label smoothing belongs to
// SoftmaxCrossEntropyKernel. The gathered a[n,y_n] must be finite; the others are not read.
type NLLLossKernel[T Float] struct {
	opts Options
	k    int
	rows []float64
	norm float64
}

// NewNLLLossKernel returns the kernel for k classes.
func NewNLLLossKernel[T Float](k int, opts ...Option) (*NLLLossKernel[T], error) {
	if k < 1 {
		return nil, fmt.Errorf("loss: NLL over %d classes: %w", k, ErrShape)
	}
	o, err := NewOptions(k, opts...)
	if err != nil {
		return nil, err
	}
	if err := o.logitOnly("NLL"); err != nil {
		return nil, err
	}
	if o.Smoothing != 0 {
		return nil, fmt.Errorf("loss: NLL takes no label smoothing (use SoftmaxCrossEntropy): %w", ErrOption)
	}
	return &NLLLossKernel[T]{opts: o, k: k}, nil
}

// Forward returns the loss of log-probabilities [N,K] against labels [N].
func (x *NLLLossKernel[T]) Forward(logProbs []T, labels []int) (float64, error) {
	n, k, o := len(labels), x.k, &x.opts
	if len(logProbs) != n*k {
		return 0, fmt.Errorf("loss: NLL: %d log-probabilities for %d labels of %d classes: %w",
			len(logProbs), n, k, ErrShape)
	}
	x.rows = resized(x.rows, n)
	var total float64
	x.norm = 0
	for i, y := range labels {
		x.rows[i] = 0
		if o.ignored(y) {
			continue
		}
		if y < 0 || y >= k {
			return 0, &InputError{Loss: "NLL", Row: i, Col: -1, Value: float64(y), Err: fmt.Errorf("%w [0, %d)", ErrLabel, k)}
		}
		a := float64(logProbs[i*k+y])
		if !finite(a) {
			return 0, &InputError{Loss: "NLL", Row: i, Col: y, Value: a, Err: ErrNonFinite}
		}
		x.rows[i] = -o.weight(y) * a * o.unitScale()
		total += x.rows[i]
		x.norm += o.weight(y)
	}
	if o.Reduction != Mean {
		x.norm = 1
	}
	if x.norm == 0 {
		return 0, nil
	}
	return total / x.norm, nil
}

// RowLosses returns the row losses of the last Forward, reused by the next one.
func (x *NLLLossKernel[T]) RowLosses() []float64 { return x.rows }

// Backward overwrites dlogProbs [N,K] with the gradient of the last Forward's loss.
func (x *NLLLossKernel[T]) Backward(dlogProbs []T, labels []int, g []T) {
	n, k, o := len(labels), x.k, &x.opts
	if len(dlogProbs) != n*k || len(x.rows) != n {
		panic("loss: NLL.Backward: shapes differ from the last Forward")
	}
	checkUpstream("NLL", o.Reduction, len(g), n)
	clear(dlogProbs)
	if x.norm == 0 {
		return
	}
	for i, y := range labels {
		if o.ignored(y) {
			continue
		}
		gi := g[0]
		if o.Reduction == None {
			gi = g[i]
		}
		dlogProbs[i*k+y] = T(-float64(gi) * o.weight(y) * o.unitScale() / x.norm)
	}
}

// NLLLoss adds one node computing the negative log-likelihood of log-probabilities [N,K]
// against labels [N], as NLL documents.
func NLLLoss(logProbs, labels *gorgonia.Node, opts ...Option) (*gorgonia.Node, error) {
	if err := checkFloatNode(logProbs, "log-probabilities", 2); err != nil {
		return nil, err
	}
	n, k := logProbs.Shape()[0], logProbs.Shape()[1]
	if labels == nil || labels.Shape().Dims() != 1 || labels.Shape()[0] != n {
		return nil, fmt.Errorf("loss: labels %v for log-probabilities %v: want shape (%d): %w",
			nodeShape(labels), nodeShape(logProbs), n, ErrShape)
	}
	if logProbs.Dtype() == tensor.Float32 {
		return nllNodeOf[float32](k, opts, logProbs, labels)
	}
	return nllNodeOf[float64](k, opts, logProbs, labels)
}

func nllNodeOf[T Float](k int, opts []Option, logProbs, labels *gorgonia.Node) (*gorgonia.Node, error) {
	x, err := NewNLLLossKernel[T](k, opts...)
	if err != nil {
		return nil, err
	}
	return applyLoss(&nllNode[T]{x: x}, logProbs, labels)
}

// nllNode runs NLL in a graph.
type nllNode[T Float] struct {
	x      *NLLLossKernel[T]
	labels []int
	g      []T
	da     *tensor.Dense
}

func (nk *nllNode[T]) String() string { return fmt.Sprintf("NLL{%v}", &nk.x.opts) }

func (nk *nllNode[T]) Types() ([]hm.Type, hm.Type) {
	return []hm.Type{graphop.MatrixA, graphop.VectorL}, reducedType(nk.x.opts.Reduction)
}

func (nk *nllNode[T]) DiffWRT() []bool { return lossWRT }

func (nk *nllNode[T]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	return reducedShape(nk.x.opts.Reduction, in[0][0]), nil
}

func (nk *nllNode[T]) Forward(in []gorgonia.Value) (gorgonia.Value, error) {
	a, err := graphop.Data[T](in[0], "log-probabilities")
	if err != nil {
		return nil, err
	}
	var y []int
	if y, nk.labels, err = labelsOf(in[1], nk.labels); err != nil {
		return nil, err
	}
	l, err := nk.x.Forward(a, y)
	if err != nil {
		return nil, err
	}
	return reducedValue[T](nk.x.opts.Reduction, l, nk.x.RowLosses()), nil
}

func (nk *nllNode[T]) Backward(_ int, in []gorgonia.Value, _, grad gorgonia.Value) (gorgonia.Value, error) {
	var y []int
	var err error
	if y, nk.labels, err = labelsOf(in[1], nk.labels); err != nil {
		return nil, err
	}
	if nk.g, err = upstreamOf(grad, nk.g); err != nil {
		return nil, err
	}
	nk.da = graphop.Reused[T](nk.da, len(y), nk.x.k)
	nk.x.Backward(graphop.Slice[T](nk.da), y, nk.g)
	return nk.da, nil
}
