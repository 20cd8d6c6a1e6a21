package model

import (
	"os"
	"sync"

	"example.com/xent/internal/conv3"
	"example.com/xent/internal/parallel"
	"example.com/xent/internal/winograd"
)

// winogradMinChannels is the fewest input channels and filters a convolution has for
// Winograd to run it: the GEMMs' depth is the channels, and thin ones run slowly (airbench
// with its 24-channel first convolution by Winograd too trained at 446-455 img/s against
// 454-512, Zen 5, 2026-12-07).
const winogradMinChannels = 64

// winogradOff is XENT_WINOGRAD=off: every convolution on the direct kernels, to compare.
var winogradOff = os.Getenv("XENT_WINOGRAD") == "off"

// winogradConv runs the forward and dx of a float32 3x3 convolution with padding 1 and
// stride 1 by Winograd's F(4x4, 3x3) (package winograd), chunks of 16 images across cores:
//
//	y = conv(x, w) + b:   U = G w G^T [36,F,C], then per chunk V = B^T x B [36,C,T],
//	                      M[ξ] = U[ξ] V[ξ] (36 GEMMs), y = A^T M A + b
//	dx = conv(dy, flipped(w))  the same with C and F swapped
//
// dw stays with the direct kernel (dw's field).
type winogradConv struct {
	fwd, bwd *winograd.Plan // x [C,H,W] -> y [F,H,W]; dy [F,H,W] -> dx [C,H,W]
	uF, uB   []float32      // the transformed weights for y and for dx
	flippedW []float32      // w flipped, [C,F,3,3]
	dw       *directConv
	bufs     sync.Pool // *winogradBufs, one per running chunk

	// the call under way, for Run
	plan       *winograd.Plan
	u          []float32
	src, dst   []float32 // x and y, or dy and dx
	n, in, out int       // images, floats per image of src and dst
	e          epilogue[float32]
}

// winogradBufs is a chunk's V, M and the transforms' scratch.
type winogradBufs struct{ v, m, scratch []float32 }

// winogradFor returns the Winograd convolution for geometry g, or nil where it does not
// apply: not float32 3x3 with padding 1 and stride 1, fewer than winogradMinChannels
// channels or filters, no direct kernel for dw (no AVX-512, whose absence leaves the
// transforms in scalar Go), or XENT_WINOGRAD=off.
func winogradFor(g *convGeom, dw *directConv) (*winogradConv, error) {
	if winogradOff || dw == nil || !dw.grad || g.stride != 1 || g.kh != 3 || g.kw != 3 || g.pad != 1 || !conv3.Fast ||
		min(g.c, g.f) < winogradMinChannels {
		return nil, nil
	}
	fwd, err := winograd.NewPlan(g.c, g.f, g.h, g.w)
	if err != nil {
		return nil, err
	}
	bwd, err := winograd.NewPlan(g.f, g.c, g.h, g.w)
	if err != nil {
		return nil, err
	}
	return &winogradConv{fwd: fwd, bwd: bwd, dw: dw,
		uF: make([]float32, fwd.WeightsLen()), uB: make([]float32, bwd.WeightsLen()), flippedW: make([]float32, g.f*g.ckk)}, nil
}

// Forward writes y = e(conv(x, w)): the bias in the output transform, the residual and the
// ReLU after it, image by image.
func (c *winogradConv) Forward(g *convGeom, y, x, w []float32, e epilogue[float32]) {
	c.fwd.TransformWeights(c.uF, w)
	c.start(c.fwd, c.uF, x, y, g.n, e)
}

func (c *winogradConv) InputGrad(g *convGeom, dx, dy, w []float32) {
	flipped(c.flippedW, w, g)
	c.bwd.TransformWeights(c.uB, c.flippedW)
	c.start(c.bwd, c.uB, dy, dx, g.n, epilogue[float32]{})
}

func (c *winogradConv) WeightGrad(g *convGeom, dw, dy, x []float32) { c.dw.WeightGrad(g, dw, dy, x) }

func (c *winogradConv) start(p *winograd.Plan, u, src, dst []float32, n int, e epilogue[float32]) {
	c.plan, c.u, c.src, c.dst, c.n, c.e = p, u, src, dst, n, e
	c.in, c.out = p.C*p.H*p.W, p.F*p.H*p.W
	parallel.For((n+winograd.Lanes-1)/winograd.Lanes, 1, c)
	c.src, c.dst, c.e = nil, nil, epilogue[float32]{}
}

// Run does chunks [lo, hi) of the call under way; parallel.For calls it.
func (c *winogradConv) Run(lo, hi int) {
	p := c.plan
	b, _ := c.bufs.Get().(*winogradBufs)
	if b == nil {
		b = &winogradBufs{v: make([]float32, max(c.fwd.InputLen(), c.bwd.InputLen())),
			m:       make([]float32, max(c.fwd.OutputLen(), c.bwd.OutputLen())),
			scratch: make([]float32, max(c.fwd.ScratchLen(), c.bwd.ScratchLen()))}
	}
	defer c.bufs.Put(b)
	for k := lo; k < hi; k++ {
		n0 := k * winograd.Lanes
		n1 := min(c.n, n0+winograd.Lanes)
		p.TransformInput(b.v, c.src[n0*c.in:n1*c.in], b.scratch, n1-n0)
		p.Multiply(b.m, c.u, b.v)
		p.TransformOutput(c.dst[n0*c.out:n1*c.out], b.m, c.e.bias, b.scratch, n1-n0)
		if c.e.add != nil || c.e.relu {
			c.e.finish(c.dst, n0*c.out, n1*c.out)
		}
	}
}
