package model

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/internal/graphop"
	"example.com/xent/internal/parallel"
	"example.com/xent/internal/vmath"
)

// geluKernel is y = x*Phi(x) (Phi the standard normal CDF: PyTorch's exact nn.GELU) and
// dx = dy*(Phi(x) + x*phi(x)), on a tensor of any shape, split across cores. float32 runs
// vmath's kernels (AVX-512 where built in); float64 uses math.Erf.
type geluKernel[T vmath.Float] struct {
	dims        int
	y, dx       *tensor.Dense
	x, out, dyv []T // of the pass under way
	grad        bool
}

func (k *geluKernel[T]) String() string            { return fmt.Sprintf("xent.GELU{%dd}", k.dims) }
func (k *geluKernel[T]) DiffWRT() []bool           { return []bool{true} }
func (k *geluKernel[T]) Outputs() []**tensor.Dense { return []**tensor.Dense{&k.y, &k.dx} }
func (k *geluKernel[T]) Types() ([]hm.Type, hm.Type) {
	t := gorgonia.TensorType{Dims: k.dims, Of: graphop.A}
	return []hm.Type{t}, t
}
func (k *geluKernel[T]) Shape(in []tensor.Shape) (tensor.Shape, error) { return in[0].Clone(), nil }

// Run does elements [lo, hi) of the pass under way; parallel.For calls it.
func (k *geluKernel[T]) Run(lo, hi int) {
	if k.grad {
		geluGradInto(k.out[lo:hi], k.x[lo:hi], k.dyv[lo:hi])
	} else {
		geluInto(k.out[lo:hi], k.x[lo:hi])
	}
}

// geluInto writes y = GELU(x); y may be x.
func geluInto[T vmath.Float](y, x []T) {
	if x32, ok := any(x).([]float32); ok {
		vmath.GELU32(any(y).([]float32), x32)
		return
	}
	for i, v := range x {
		x := float64(v)
		cdf := 0.5 * math.Erfc(-x/math.Sqrt2)
		y[i] = T(x * cdf)
	}
}

// geluGradInto writes dx = dy*GELU'(x); dx may be x or dy.
func geluGradInto[T vmath.Float](dx, x, dy []T) {
	if x32, ok := any(x).([]float32); ok {
		vmath.GELUGrad32(any(dx).([]float32), x32, any(dy).([]float32))
		return
	}
	for i, v := range x {
		x := float64(v)
		cdf := 0.5 * math.Erfc(-x/math.Sqrt2)
		dx[i] = dy[i] * T(cdf+x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi))
	}
}

func (k *geluKernel[T]) Forward(in []gorgonia.Value) (gorgonia.Value, error) {
	x, err := graphop.Data[T](in[0], "gelu input")
	if err != nil {
		return nil, err
	}
	k.y = graphop.Reused[T](k.y, in[0].Shape()...)
	k.x, k.out, k.grad = x, graphop.Slice[T](k.y), false
	parallel.For(len(x), 1<<14, k)
	return k.y, nil
}

func (k *geluKernel[T]) Backward(_ int, in []gorgonia.Value, _, grad gorgonia.Value) (gorgonia.Value, error) {
	x, err := graphop.Data[T](in[0], "gelu input")
	if err != nil {
		return nil, err
	}
	dy, err := graphop.Data[T](grad, "gelu output gradient")
	if err != nil {
		return nil, err
	}
	k.dx = graphop.Reused[T](k.dx, in[0].Shape()...)
	k.x, k.out, k.dyv, k.grad = x, graphop.Slice[T](k.dx), dy, true
	parallel.For(len(x), 1<<14, k)
	return k.dx, nil
}

func gelu(x *gorgonia.Node) (*gorgonia.Node, error) {
	d := x.Shape().Dims()
	if x.Dtype() == tensor.Float64 {
		return graphop.Apply(&geluKernel[float64]{dims: d}, x)
	}
	return graphop.Apply(&geluKernel[float32]{dims: d}, x)
}
