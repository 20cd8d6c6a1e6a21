package loss

import (
	"fmt"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/internal/graphop"

	"example.com/xent/internal/parallel"
)

// LogSoftmaxKernel computes log-softmax along the rows of z [N,K], stable in every row:
//
//	y[n,k] = (z[n,k] - m_n) - log sum_j exp(z[n,j] - m_n),   m_n = max_j z[n,j],
//	dL/dz[n,k] = g[n,k] - softmax(z_n)[k] * sum_j g[n,j].
//
// (Gorgonia's stock LogSoftMax starts every row's max from the first element of the whole
// tensor, and shares a hash with SoftMax.)
type LogSoftmaxKernel[T Float] struct {
	k     int
	stats rowStats[T]
	n     int
	fault firstFault
	grad  bool
	z     []T
	out   []T // y in the forward pass, dz in the backward
	g     []T
}

// NewLogSoftmaxKernel returns the kernel for rows of k elements.
func NewLogSoftmaxKernel[T Float](k int) (*LogSoftmaxKernel[T], error) {
	if k < 1 {
		return nil, fmt.Errorf("loss: log-softmax over %d classes: %w", k, ErrShape)
	}
	return &LogSoftmaxKernel[T]{k: k}, nil
}

// Forward writes y [N,K] = log-softmax(z) row by row. A non-finite logit is an *InputError.
func (x *LogSoftmaxKernel[T]) Forward(y, z []T) error {
	if len(y) != len(z) || len(z)%x.k != 0 {
		return fmt.Errorf("loss: log-softmax: %d outputs for %d logits of %d classes: %w", len(y), len(z), x.k, ErrShape)
	}
	n := len(z) / x.k
	x.stats.resize(n)
	x.n = n
	x.z, x.out, x.grad = z, y, false
	x.fault.reset(n)
	parallel.For(n, minRows(x.k), x)
	x.z, x.out = nil, nil
	if r := x.fault.at(n); r >= 0 {
		c := max(firstNonFinite(z[r*x.k:(r+1)*x.k]), 0)
		return &InputError{Loss: "log-softmax", Row: r, Col: c, Value: float64(z[r*x.k+c]), Err: ErrNonFinite}
	}
	return nil
}

// Backward overwrites dz [N,K] with the gradient given upstream g [N,K], for the z of the
// last Forward.
func (x *LogSoftmaxKernel[T]) Backward(dz, z, g []T) {
	if len(dz) != len(z) || len(g) != len(z) || len(z) != x.n*x.k {
		panic("loss: LogSoftmaxKernel.Backward: shapes differ from the last Forward")
	}
	x.z, x.out, x.g, x.grad = z, dz, g, true
	parallel.For(x.n, minRows(x.k), x)
	x.z, x.out, x.g = nil, nil, nil
}

// Run computes rows [lo, hi) of the current pass; parallel.For calls it.
func (x *LogSoftmaxKernel[T]) Run(lo, hi int) {
	k, st := x.k, &x.stats
	if x.grad { // dz = g - softmax(z)*sum(g): the exponentials in one block, then + g
		for n := lo; n < hi; n++ {
			var sumG float64
			for _, v := range x.g[n*k : (n+1)*k] {
				sumG += float64(v)
			}
			st.a[n], st.b[n] = -sumG/st.s[n], 0
		}
		st.expAffine(x.out, x.z, k, lo, hi)
		for i := lo * k; i < hi*k; i++ {
			x.out[i] += x.g[i]
		}
		return
	}
	st.compute(x.z, k, lo, hi)
	for n := lo; n < hi; n++ {
		if st.bad(n) {
			x.fault.report(n)
			continue
		}
		m, logS := st.m[n], T(st.l[n])
		out := x.out[n*k : (n+1)*k]
		for j, v := range x.z[n*k : (n+1)*k] {
			out[j] = (v - m) - logS
		}
	}
}

// LogSoftmax adds one node computing log-softmax along the rows of z [N,K].
func LogSoftmax(z *gorgonia.Node) (*gorgonia.Node, error) {
	if err := checkFloatNode(z, "logits", 2); err != nil {
		return nil, err
	}
	k := z.Shape()[1]
	if z.Dtype() == tensor.Float32 {
		return logSoftmaxNodeOf[float32](k, z)
	}
	return logSoftmaxNodeOf[float64](k, z)
}

func logSoftmaxNodeOf[T Float](k int, z *gorgonia.Node) (*gorgonia.Node, error) {
	x, err := NewLogSoftmaxKernel[T](k)
	if err != nil {
		return nil, err
	}
	return applyLoss(&logSoftmaxNode[T]{x: x}, z)
}

// logSoftmaxNode runs LogSoftmaxKernel in a graph.
type logSoftmaxNode[T Float] struct {
	x  *LogSoftmaxKernel[T]
	dz *tensor.Dense
}

func (nk *logSoftmaxNode[T]) String() string { return "xent.LogSoftmax{rows}" }

func (nk *logSoftmaxNode[T]) Types() ([]hm.Type, hm.Type) {
	return []hm.Type{graphop.MatrixA}, graphop.MatrixA
}

func (nk *logSoftmaxNode[T]) DiffWRT() []bool { return []bool{true} }

func (nk *logSoftmaxNode[T]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}

func (nk *logSoftmaxNode[T]) Forward(in []gorgonia.Value) (gorgonia.Value, error) {
	z, err := graphop.Data[T](in[0], "logits")
	if err != nil {
		return nil, err
	}
	y := make([]T, len(z))
	if err := nk.x.Forward(y, z); err != nil {
		return nil, err
	}
	return tensor.New(tensor.WithShape(len(z)/nk.x.k, nk.x.k), tensor.WithBacking(y)), nil
}

func (nk *logSoftmaxNode[T]) Backward(_ int, in []gorgonia.Value, _, grad gorgonia.Value) (gorgonia.Value, error) {
	z, err := graphop.Data[T](in[0], "logits")
	if err != nil {
		return nil, err
	}
	g, err := graphop.Data[T](grad, "upstream gradient")
	if err != nil {
		return nil, err
	}
	nk.dz = graphop.Reused[T](nk.dz, len(z)/nk.x.k, nk.x.k)
	nk.x.Backward(graphop.Slice[T](nk.dz), z, g)
	return nk.dz, nil
}
