package model

import (
	"fmt"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/internal/graphop"
	"example.com/xent/internal/vmath"
)

// gapKernel is the global average pool y [N,C] = mean over H,W of x [N,C,H,W], with
// dx = dy/(H*W) at every pixel. (Gorgonia's GlobalAveragePool2D cannot be differentiated,
// and its Mean over the middle axes 2,3 gives wrong values.)
type gapKernel[T vmath.Float] struct {
	y, dx *tensor.Dense
}

func (k *gapKernel[T]) String() string            { return "xent.GlobalAvgPool" }
func (k *gapKernel[T]) DiffWRT() []bool           { return []bool{true} }
func (k *gapKernel[T]) Outputs() []**tensor.Dense { return []**tensor.Dense{&k.y, &k.dx} }
func (k *gapKernel[T]) Types() ([]hm.Type, hm.Type) {
	return []hm.Type{graphop.Tensor4A}, graphop.MatrixA
}
func (k *gapKernel[T]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	if in[0].Dims() != 4 {
		return nil, fmt.Errorf("global average pool of %v: want [N,C,H,W]", in[0])
	}
	return tensor.Shape{in[0][0], in[0][1]}, nil
}

func (k *gapKernel[T]) Forward(in []gorgonia.Value) (gorgonia.Value, error) {
	x, err := graphop.Data[T](in[0], "pool input")
	if err != nil {
		return nil, err
	}
	s := in[0].Shape()
	hw := s[2] * s[3]
	k.y = graphop.Reused[T](k.y, s[0], s[1])
	y := graphop.Slice[T](k.y)
	for i := range y {
		var sum float64
		for _, v := range x[i*hw : (i+1)*hw] {
			sum += float64(v)
		}
		y[i] = T(sum / float64(hw))
	}
	return k.y, nil
}

func (k *gapKernel[T]) Backward(_ int, in []gorgonia.Value, _, grad gorgonia.Value) (gorgonia.Value, error) {
	dy, err := graphop.Data[T](grad, "pool output gradient")
	if err != nil {
		return nil, err
	}
	s := in[0].Shape()
	hw := s[2] * s[3]
	k.dx = graphop.Reused[T](k.dx, s...)
	dx := graphop.Slice[T](k.dx)
	for i, g := range dy {
		v := g / T(hw)
		for j := range dx[i*hw : (i+1)*hw] {
			dx[i*hw+j] = v
		}
	}
	return k.dx, nil
}

func globalAvgPool(x *gorgonia.Node) (*gorgonia.Node, error) {
	if x.Dtype() == tensor.Float64 {
		return graphop.Apply(&gapKernel[float64]{}, x)
	}
	return graphop.Apply(&gapKernel[float32]{}, x)
}
