package model

import (
	"fmt"
	"math/rand/v2"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/internal/graphop"
	"example.com/xent/internal/parallel"
	"example.com/xent/internal/vmath"
)

// reluKernel is y = max(x, 0), dx = dy * [y > 0], on a tensor of any shape, split across
// cores. (Gorgonia's Rectify builds x * (x >= 0) from two full temporaries.)
type reluKernel[T vmath.Float] struct {
	dims         int
	y, dx        *tensor.Dense
	in, out, dyv []T // of the pass under way
	grad         bool
}

func (k *reluKernel[T]) String() string            { return fmt.Sprintf("xent.ReLU{%dd}", k.dims) }
func (k *reluKernel[T]) DiffWRT() []bool           { return []bool{true} }
func (k *reluKernel[T]) Outputs() []**tensor.Dense { return []**tensor.Dense{&k.y, &k.dx} }
func (k *reluKernel[T]) Types() ([]hm.Type, hm.Type) {
	t := gorgonia.TensorType{Dims: k.dims, Of: graphop.A}
	return []hm.Type{t}, t
}
func (k *reluKernel[T]) Shape(in []tensor.Shape) (tensor.Shape, error) { return in[0].Clone(), nil }

// Run does elements [lo, hi) of the pass under way; parallel.For calls it.
func (k *reluKernel[T]) Run(lo, hi int) {
	if k.grad { // in is y, out is dx
		reluGrad(k.out[lo:hi], k.in[lo:hi], k.dyv[lo:hi])
		return
	}
	reluInto(k.out[lo:hi], k.in[lo:hi])
}

// reluInto writes dst = max(x, 0) (dst may be x): vmath.ReLU32 for float32; a NaN stays NaN.
func reluInto[T vmath.Float](dst, x []T) {
	if x32, ok := any(x).([]float32); ok {
		vmath.ReLU32(any(dst).([]float32), x32)
		return
	}
	for i, v := range x {
		dst[i] = max(v, 0) // Go's max keeps a NaN
	}
}

// reluGrad writes dx = dy * [y > 0]: vmath.ReLUGrad32 for float32.
func reluGrad[T vmath.Float](dx, y, dy []T) {
	if dx32, ok := any(dx).([]float32); ok {
		vmath.ReLUGrad32(dx32, any(y).([]float32), any(dy).([]float32))
		return
	}
	for i, v := range y {
		if v > 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
}

func (k *reluKernel[T]) Forward(in []gorgonia.Value) (gorgonia.Value, error) {
	x, err := graphop.Data[T](in[0], "relu input")
	if err != nil {
		return nil, err
	}
	k.y = graphop.Reused[T](k.y, in[0].Shape()...)
	k.in, k.out, k.grad = x, graphop.Slice[T](k.y), false
	parallel.For(len(x), 1<<15, k)
	return k.y, nil
}

func (k *reluKernel[T]) Backward(_ int, in []gorgonia.Value, out, grad gorgonia.Value) (gorgonia.Value, error) {
	y, err := graphop.Data[T](out, "relu output")
	if err != nil {
		return nil, err
	}
	dy, err := graphop.Data[T](grad, "relu output gradient")
	if err != nil {
		return nil, err
	}
	k.dx = graphop.Reused[T](k.dx, in[0].Shape()...)
	k.in, k.out, k.dyv, k.grad = y, graphop.Slice[T](k.dx), dy, true
	parallel.For(len(y), 1<<15, k)
	return k.dx, nil
}

func relu(x *gorgonia.Node) (*gorgonia.Node, error) {
	d := x.Shape().Dims()
	if x.Dtype() == tensor.Float64 {
		return graphop.Apply(&reluKernel[float64]{dims: d}, x)
	}
	return graphop.Apply(&reluKernel[float32]{dims: d}, x)
}

// dropoutKernel zeroes each element with probability p and scales the others by 1/(1-p),
// so that the expected value is unchanged; the gradient goes through the same mask with the
// same scale. (Gorgonia's Dropout scales its gradient by 1/p.) The mask of a pass is drawn
// from a generator seeded by (seed, training step), so a run, and a resumed run, repeats.
type dropoutKernel[T vmath.Float] struct {
	p     float64
	seed  uint64
	dims  int
	step  *uint64 // the model's step counter, which the training loop sets
	mask  []T     // 0 or 1/(1-p)
	y, dx *tensor.Dense
}

func (k *dropoutKernel[T]) String() string {
	return fmt.Sprintf("xent.Dropout{p=%v seed=%d %dd}", k.p, k.seed, k.dims)
}
func (k *dropoutKernel[T]) DiffWRT() []bool           { return []bool{true} }
func (k *dropoutKernel[T]) Outputs() []**tensor.Dense { return []**tensor.Dense{&k.y, &k.dx} }
func (k *dropoutKernel[T]) Types() ([]hm.Type, hm.Type) {
	t := gorgonia.TensorType{Dims: k.dims, Of: graphop.A}
	return []hm.Type{t}, t
}
func (k *dropoutKernel[T]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}

func (k *dropoutKernel[T]) Forward(in []gorgonia.Value) (gorgonia.Value, error) {
	x, err := graphop.Data[T](in[0], "dropout input")
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(k.seed, *k.step))
	if len(k.mask) != len(x) {
		k.mask = make([]T, len(x))
	}
	scale := T(1 / (1 - k.p))
	k.y = graphop.Reused[T](k.y, in[0].Shape()...)
	y := graphop.Slice[T](k.y)
	for i, v := range x {
		k.mask[i] = 0
		if rng.Float64() >= k.p {
			k.mask[i] = scale
		}
		y[i] = v * k.mask[i]
	}
	return k.y, nil
}

func (k *dropoutKernel[T]) Backward(_ int, in []gorgonia.Value, _, grad gorgonia.Value) (gorgonia.Value, error) {
	dy, err := graphop.Data[T](grad, "dropout output gradient")
	if err != nil {
		return nil, err
	}
	k.dx = graphop.Reused[T](k.dx, in[0].Shape()...)
	dx := graphop.Slice[T](k.dx)
	for i, v := range dy {
		dx[i] = v * k.mask[i]
	}
	return k.dx, nil
}

func dropout(x *gorgonia.Node, p float64, seed uint64, step *uint64) (*gorgonia.Node, error) {
	d := x.Shape().Dims()
	if x.Dtype() == tensor.Float64 {
		return graphop.Apply(&dropoutKernel[float64]{p: p, seed: seed, dims: d, step: step}, x)
	}
	return graphop.Apply(&dropoutKernel[float32]{p: p, seed: seed, dims: d, step: step}, x)
}

// addKernel is the residual sum z = x + y of two tensors of one shape, with dx = dy = dz,
// written into tensors it keeps from step to step. (Gorgonia's Add allocates its result
// and its gradients every step.)
type addKernel[T vmath.Float] struct {
	dims      int
	z, dx, dy *tensor.Dense
}

func (k *addKernel[T]) String() string            { return fmt.Sprintf("xent.Add{%dd}", k.dims) }
func (k *addKernel[T]) DiffWRT() []bool           { return []bool{true, true} }
func (k *addKernel[T]) Outputs() []**tensor.Dense { return []**tensor.Dense{&k.z, &k.dx, &k.dy} }
func (k *addKernel[T]) Types() ([]hm.Type, hm.Type) {
	t := gorgonia.TensorType{Dims: k.dims, Of: graphop.A}
	return []hm.Type{t, t}, t
}

func (k *addKernel[T]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	if !in[0].Eq(in[1]) {
		return nil, fmt.Errorf("add of %v and %v", in[0], in[1])
	}
	return in[0].Clone(), nil
}

func (k *addKernel[T]) Forward(in []gorgonia.Value) (gorgonia.Value, error) {
	x, err := graphop.Data[T](in[0], "add input")
	if err != nil {
		return nil, err
	}
	y, err := graphop.Data[T](in[1], "add input")
	if err != nil {
		return nil, err
	}
	k.z = graphop.Reused[T](k.z, in[0].Shape()...)
	z := graphop.Slice[T](k.z)
	for i := range z {
		z[i] = x[i] + y[i]
	}
	return k.z, nil
}

func (k *addKernel[T]) Backward(wrt int, in []gorgonia.Value, _, grad gorgonia.Value) (gorgonia.Value, error) {
	g, err := graphop.Data[T](grad, "add output gradient")
	if err != nil {
		return nil, err
	}
	out := &k.dx
	if wrt == 1 {
		out = &k.dy
	}
	*out = graphop.Reused[T](*out, in[wrt].Shape()...)
	copy(graphop.Slice[T](*out), g)
	return *out, nil
}

func add(x, y *gorgonia.Node) (*gorgonia.Node, error) {
	d := x.Shape().Dims()
	if x.Dtype() == tensor.Float64 {
		return graphop.Apply(&addKernel[float64]{dims: d}, x, y)
	}
	return graphop.Apply(&addKernel[float32]{dims: d}, x, y)
}
