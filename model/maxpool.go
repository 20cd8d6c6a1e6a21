package model

import (
	"fmt"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/internal/graphop"
	"example.com/xent/internal/parallel"
	"example.com/xent/internal/vmath"
)

// maxPoolKernel is a k x k max pool with stride k over x [N,C,H,W] -> y [N,C,H/k,W/k]
// (rows and columns past the last whole window are dropped, as PyTorch's floor mode). The
// forward keeps the index of each window's max; the backward sends dy there. Planes are
// split across cores. (Gorgonia's MaxPool2D is correct but single-threaded; it took a
// quarter of cnn-small's training step.)
//
// With lanes (float32, k = 2) x and y are in the lanes layout (lanes.go): a plane is a
// chunk's channel, [H][W][16], pooled lane by lane (vmath.MaxPoolLanes2x2), and arg holds
// each lane's position in its window.
type maxPoolKernel[T vmath.Float] struct {
	k            int
	lanes        bool
	arg          []int32 // per output element: the flat index of its max within the plane
	x, y, dy, dx []T
	h, w, ho, wo int
	grad         bool
	yT, dxT      *tensor.Dense
}

func (p *maxPoolKernel[T]) String() string {
	return fmt.Sprintf("xent.MaxPool2d{%d lanes=%v}", p.k, p.lanes)
}
func (p *maxPoolKernel[T]) DiffWRT() []bool           { return []bool{true} }
func (p *maxPoolKernel[T]) Outputs() []**tensor.Dense { return []**tensor.Dense{&p.yT, &p.dxT} }
func (p *maxPoolKernel[T]) Types() ([]hm.Type, hm.Type) {
	return []hm.Type{graphop.Tensor4A}, graphop.Tensor4A
}

func (p *maxPoolKernel[T]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	s := in[0]
	if s.Dims() != 4 || s[2] < p.k || s[3] < p.k {
		return nil, fmt.Errorf("max pool %d of %v: want [N,C,H,W] with H, W >= %d", p.k, s, p.k)
	}
	return tensor.Shape{s[0], s[1], s[2] / p.k, s[3] / p.k}, nil
}

// Run does planes [lo, hi); parallel.For calls it.
func (p *maxPoolKernel[T]) Run(lo, hi int) {
	hw, ohw := p.h*p.w, p.ho*p.wo
	if p.lanes {
		p.runLanes(lo, hi)
		return
	}
	for pl := lo; pl < hi; pl++ {
		x, arg := p.x[pl*hw:(pl+1)*hw], p.arg[pl*ohw:(pl+1)*ohw]
		if p.grad {
			dx, dy := p.dx[pl*hw:(pl+1)*hw], p.dy[pl*ohw:(pl+1)*ohw]
			if dx32, ok := any(dx).([]float32); ok && p.k == 2 {
				vmath.MaxPool2x2Grad(dx32, any(dy).([]float32), arg, p.w, p.h, p.ho, p.wo)
				continue
			}
			clear(dx)
			for o, i := range arg {
				dx[i] += dy[o]
			}
			continue
		}
		y := p.y[pl*ohw : (pl+1)*ohw]
		if x32, ok := any(x).([]float32); ok && p.k == 2 {
			vmath.MaxPool2x2(any(y).([]float32), arg, x32, p.w, p.ho, p.wo)
			continue
		}
		for oy := range p.ho {
			for ox := range p.wo {
				best := (oy*p.k)*p.w + ox*p.k
				for i := range p.k {
					row := (oy*p.k+i)*p.w + ox*p.k
					for j := range p.k {
						if x[row+j] > x[best] {
							best = row + j
						}
					}
				}
				o := oy*p.wo + ox
				y[o], arg[o] = x[best], int32(best)
			}
		}
	}
}

// runLanes is Run on planes of the lanes layout, 16 times the size.
func (p *maxPoolKernel[T]) runLanes(lo, hi int) {
	hw, ohw := p.h*p.w*vmath.LaneCount, p.ho*p.wo*vmath.LaneCount
	x, y, dx, dy := any(p.x).([]float32), any(p.y).([]float32), any(p.dx).([]float32), any(p.dy).([]float32)
	for pl := lo; pl < hi; pl++ {
		arg := p.arg[pl*ohw : (pl+1)*ohw]
		if p.grad {
			vmath.MaxPoolLanes2x2Grad(dx[pl*hw:(pl+1)*hw], dy[pl*ohw:(pl+1)*ohw], arg, p.w, p.h, p.ho, p.wo)
		} else {
			vmath.MaxPoolLanes2x2(y[pl*ohw:(pl+1)*ohw], arg, x[pl*hw:(pl+1)*hw], p.w, p.ho, p.wo)
		}
	}
}

// planes is the number of planes of x [N,C,H,W] that Run splits: a chunk's channel with lanes.
func (p *maxPoolKernel[T]) planes(s tensor.Shape) int {
	if p.lanes {
		return s[0] / vmath.LaneCount * s[1]
	}
	return s[0] * s[1]
}

func (p *maxPoolKernel[T]) Forward(in []gorgonia.Value) (gorgonia.Value, error) {
	x, err := graphop.Data[T](in[0], "max pool input")
	if err != nil {
		return nil, err
	}
	s := in[0].Shape()
	planes := p.planes(s)
	p.h, p.w, p.ho, p.wo = s[2], s[3], s[2]/p.k, s[3]/p.k
	p.yT = graphop.Reused[T](p.yT, s[0], s[1], p.ho, p.wo)
	p.x, p.y, p.grad = x, graphop.Slice[T](p.yT), false
	if len(p.arg) != s[0]*s[1]*p.ho*p.wo {
		p.arg = make([]int32, s[0]*s[1]*p.ho*p.wo)
	}
	parallel.For(planes, 16, p)
	return p.yT, nil
}

func (p *maxPoolKernel[T]) Backward(_ int, in []gorgonia.Value, _, grad gorgonia.Value) (gorgonia.Value, error) {
	dy, err := graphop.Data[T](grad, "max pool output gradient")
	if err != nil {
		return nil, err
	}
	s := in[0].Shape()
	p.dxT = graphop.Reused[T](p.dxT, s...)
	p.dy, p.dx, p.grad = dy, graphop.Slice[T](p.dxT), true
	parallel.For(p.planes(s), 16, p)
	return p.dxT, nil
}

func maxPool(x *gorgonia.Node, k int, lanes bool) (*gorgonia.Node, error) {
	if lanes {
		if x.Dtype() != tensor.Float32 || k != 2 || x.Shape()[0]%vmath.LaneCount != 0 {
			return nil, fmt.Errorf("max pool %d of %v %v in the lanes layout: want float32, 2x2 and N a multiple of %d", k, x.Dtype(), x.Shape(), vmath.LaneCount)
		}
		return graphop.Apply(&maxPoolKernel[float32]{k: k, lanes: true}, x)
	}
	if x.Dtype() == tensor.Float64 {
		return graphop.Apply(&maxPoolKernel[float64]{k: k}, x)
	}
	return graphop.Apply(&maxPoolKernel[float32]{k: k}, x)
}
