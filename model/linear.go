package model

import (
	"fmt"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/internal/blas"
	"example.com/xent/internal/graphop"
	"example.com/xent/internal/vmath"
)

// linearKernel is a fully connected layer with PyTorch's weight layout:
//
//	y [N,O] = x [N,I] x w^T + b,  w [O,I], b [O]
//	dx = dy x w,  dw = dy^T x x,  db = sum_n dy[n,:]
type linearKernel[T vmath.Float] struct {
	y, dx, dw, db *tensor.Dense
}

func (k *linearKernel[T]) String() string { return "xent.Linear" }
func (k *linearKernel[T]) Types() ([]hm.Type, hm.Type) {
	return []hm.Type{graphop.MatrixA, graphop.MatrixA, graphop.VectorA}, graphop.MatrixA
}
func (k *linearKernel[T]) DiffWRT() []bool           { return []bool{true, true, true} }
func (k *linearKernel[T]) Outputs() []**tensor.Dense { return []**tensor.Dense{&k.y, &k.dx, nil, nil} }

func (k *linearKernel[T]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	x, w, b := in[0], in[1], in[2]
	if x.Dims() != 2 || w.Dims() != 2 || b.Dims() != 1 || x[1] != w[1] || b[0] != w[0] {
		return nil, fmt.Errorf("linear of x %v with w %v, b %v: want [N,I], [O,I], [O]", x, w, b)
	}
	return tensor.Shape{x[0], w[0]}, nil
}

func (k *linearKernel[T]) inputs(in []gorgonia.Value) (x, w, b []T, n, i, o int, err error) {
	if x, err = graphop.Data[T](in[0], "linear input"); err != nil {
		return
	}
	if w, err = graphop.Data[T](in[1], "linear weight"); err != nil {
		return
	}
	b, err = graphop.Data[T](in[2], "linear bias")
	s := in[1].Shape()
	o, i = s[0], s[1]
	n = len(x) / i
	return
}

func (k *linearKernel[T]) Forward(in []gorgonia.Value) (gorgonia.Value, error) {
	x, w, b, n, i, o, err := k.inputs(in)
	if err != nil {
		return nil, err
	}
	k.y = graphop.Reused[T](k.y, n, o)
	y := graphop.Slice[T](k.y)
	for r := range n {
		copy(y[r*o:(r+1)*o], b)
	}
	blas.Gemm(false, true, n, o, i, 1, x, i, w, i, 1, y, o)
	return k.y, nil
}

func (k *linearKernel[T]) Backward(wrt int, in []gorgonia.Value, _, grad gorgonia.Value) (gorgonia.Value, error) {
	x, w, _, n, i, o, err := k.inputs(in)
	if err != nil {
		return nil, err
	}
	dy, err := graphop.Data[T](grad, "linear output gradient")
	if err != nil {
		return nil, err
	}
	switch wrt {
	case 0:
		k.dx = graphop.Reused[T](k.dx, n, i)
		blas.Gemm(false, false, n, i, o, 1, dy, o, w, i, 0, graphop.Slice[T](k.dx), i)
		return k.dx, nil
	case 1:
		k.dw = graphop.Reused[T](k.dw, o, i)
		blas.Gemm(true, false, o, i, n, 1, dy, o, x, i, 0, graphop.Slice[T](k.dw), i)
		return k.dw, nil
	}
	k.db = graphop.Reused[T](k.db, o)
	db := graphop.Slice[T](k.db)
	clear(db)
	for r := range n {
		for c, v := range dy[r*o : (r+1)*o] {
			db[c] += v
		}
	}
	return k.db, nil
}

func linear(x, w, b *gorgonia.Node) (*gorgonia.Node, error) {
	if x.Dtype() == tensor.Float64 {
		return graphop.Apply(&linearKernel[float64]{}, x, w, b)
	}
	return graphop.Apply(&linearKernel[float32]{}, x, w, b)
}
