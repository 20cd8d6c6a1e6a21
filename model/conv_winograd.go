package model

import (
	"fmt"
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

// winogradEnv is XENT_WINOGRAD: "off" puts every convolution on the direct kernels, to
// compare; unset is Winograd where it applies; any other value is an error.
var winogradEnv = os.Getenv("XENT_WINOGRAD")

// winogradConv runs the forward and dx of a float32 3x3 convolution with padding 1 and
// stride 1 by Winograd's F(4x4, 3x3) (package winograd), chunks of 16 images across cores:
//
//	y = conv(x, w) + b:   U = G w G^T [36,F,C], then per chunk V = B^T x B [36,C,T],
//	                      M[ξ] = U[ξ] V[ξ] (36 GEMMs), y = A^T M A + b
//	dx = conv(dy, flipped(w))  the same with C and F swapped
//	dw = G^T [sum over chunks of (A dy A^T) V^T] G   in dwGroups fixed groups of images
//
// dw falls back on the direct kernel (dw's field) where C is not a multiple of 16.
type winogradConv struct {
	fwd, bwd *winograd.Plan // x [C,H,W] -> y [F,H,W]; dy [F,H,W] -> dx [C,H,W]
	dw       *directConv

	// the call under way, for Run
	pass       winogradPass
	plan       *winograd.Plan
	u          []float32 // the transformed weights, U
	parts      []float32 // [dwGroups, F, 9, C]: each dw group's share
	src, dst   []float32 // x and y, dy and dx, or x and dy
	n, in, out int       // images, floats per image of src and dst
	e          epilogue[float32]
	lanes      bool // src and dst are in the lanes layout (lanes.go), whole chunks of 16 images
}

type winogradPass int

const (
	winogradApply winogradPass = iota // rows: chunks of images (y, or dx)
	winogradDW                        // the dwGroups groups of images
)

// winogradBufs is a running chunk's V, M and the transforms' scratch, and for dw Vt, D and
// DW. Every Winograd convolution shares them (they run one at a time, a chunk or group per
// core), each buffer grown to the largest plan it served: one set per core, not per layer.
type winogradBufs struct{ v, m, scratch, vt, d, dwt []float32 }

// winogradFree holds the sets not in use. A set is made when every one is in use, so
// there are as many as cores ever ran chunks at once; none is dropped (a sync.Pool's
// sets, dropped and remade around collections, held 130 MB at airbench's batch 256
// against ~76 MB for two).
var winogradFree struct {
	sync.Mutex
	bufs []*winogradBufs
}

func getWinogradBufs() *winogradBufs {
	winogradFree.Lock()
	defer winogradFree.Unlock()
	if n := len(winogradFree.bufs); n > 0 {
		b := winogradFree.bufs[n-1]
		winogradFree.bufs = winogradFree.bufs[:n-1]
		return b
	}
	return new(winogradBufs)
}

func putWinogradBufs(b *winogradBufs) {
	winogradFree.Lock()
	winogradFree.bufs = append(winogradFree.bufs, b)
	winogradFree.Unlock()
}

// winogradCall is what a Winograd convolution needs for the length of one call: the
// transformed weights U (y or dx), w flipped [C,F,3,3] (dx) and dw's group shares. Layers
// run one call at a time, so they share one set, grown to the largest layer (a set per
// layer held 94 MB of airbench's training graph); the lock keeps the calls of two Nets
// that run at once apart.
var winogradCall struct {
	sync.Mutex
	u, flipped, parts []float32
}

// sized returns b with length n, reallocated if its capacity is less.
func sized[E any](b []E, n int) []E {
	if cap(b) < n {
		return make([]E, n)
	}
	return b[:n]
}

// winogradFor returns the Winograd convolution for geometry g, or nil where it does not
// apply: not float32 3x3 with padding 1 and stride 1, fewer than winogradMinChannels
// channels or filters, no direct kernel for dw (no AVX-512, whose absence leaves the
// transforms in scalar Go), or XENT_WINOGRAD=off.
func winogradFor(g *convGeom, dw *directConv) (*winogradConv, error) {
	switch winogradEnv {
	case "":
	case "off":
		return nil, nil
	default:
		return nil, fmt.Errorf("XENT_WINOGRAD=%q: want off, or unset", winogradEnv)
	}
	if dw == nil || !dw.grad || g.stride != 1 || g.kh != 3 || g.kw != 3 || g.pad != 1 || !conv3.Fast ||
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
	return &winogradConv{fwd: fwd, bwd: bwd, dw: dw}, nil
}

// lanesOK reports whether the convolution can run in the lanes layout: its dw by
// Winograd too (the direct kernel's is NCHW).
func (c *winogradConv) lanesOK() bool { return c.fwd.WeightGradOK() }

// Forward writes y = e(conv(x, w)): the bias in the output transform, the residual and the
// ReLU after it, image by image.
func (c *winogradConv) Forward(g *convGeom, y, x, w []float32, e epilogue[float32]) {
	m := &winogradCall
	m.Lock()
	defer m.Unlock()
	m.u = sized(m.u, c.fwd.WeightsLen())
	c.fwd.TransformWeights(m.u, w)
	c.start(c.fwd, m.u, x, y, g.n, e)
}

func (c *winogradConv) InputGrad(g *convGeom, dx, dy, w []float32) {
	m := &winogradCall
	m.Lock()
	defer m.Unlock()
	m.u, m.flipped = sized(m.u, c.bwd.WeightsLen()), sized(m.flipped, g.f*g.ckk)
	flipped(m.flipped, w, g)
	c.bwd.TransformWeights(m.u, m.flipped)
	c.start(c.bwd, m.u, dy, dx, g.n, epilogue[float32]{})
}

// WeightGrad writes dw [F,C,3,3]: each of the dwGroups groups of images sums its chunks'
// products in order into its DW and transforms that into its share [F,9,C]; dw is the
// shares' sum in group order, as sumGroups adds them (so dw does not depend on the number
// of cores), transposed from [F,9,C] as it is summed.
func (c *winogradConv) WeightGrad(g *convGeom, dw, dy, x []float32) {
	if !c.fwd.WeightGradOK() {
		c.dw.WeightGrad(g, dw, dy, x)
		return
	}
	m := &winogradCall
	m.Lock()
	defer m.Unlock()
	size := g.f * 9 * g.c
	m.parts = sized(m.parts, dwGroups*size)
	c.pass, c.plan, c.src, c.dst, c.n, c.parts = winogradDW, c.fwd, x, dy, g.n, m.parts
	c.in, c.out = g.chw, g.o
	parallel.For(dwGroups, 1, c)
	c.src, c.dst, c.parts = nil, nil, nil
	for f := range g.f {
		for k := range 9 {
			row := (f*9 + k) * g.c
			for ch := range g.c {
				v := m.parts[row+ch]
				for grp := 1; grp < dwGroups; grp++ {
					v += m.parts[grp*size+row+ch]
				}
				dw[(f*g.c+ch)*9+k] = v
			}
		}
	}
}

func (c *winogradConv) start(p *winograd.Plan, u, src, dst []float32, n int, e epilogue[float32]) {
	c.pass, c.plan, c.u, c.src, c.dst, c.n, c.e = winogradApply, p, u, src, dst, n, e
	c.in, c.out = p.C*p.H*p.W, p.F*p.H*p.W
	parallel.For((n+winograd.Lanes-1)/winograd.Lanes, 1, c)
	c.u, c.src, c.dst, c.e = nil, nil, nil, epilogue[float32]{}
}

// Run does rows [lo, hi) of the call under way (chunks, or dw groups); parallel.For calls it.
func (c *winogradConv) Run(lo, hi int) {
	p := c.plan
	b := getWinogradBufs()
	defer putWinogradBufs(b)
	b.v, b.m, b.scratch = sized(b.v, p.InputLen()), sized(b.m, p.OutputLen()), sized(b.scratch, p.ScratchLen())
	if c.pass == winogradDW {
		for grp := lo; grp < hi; grp++ {
			c.weightGradGroup(grp, b)
		}
		return
	}
	for k := lo; k < hi; k++ {
		n0 := k * winograd.Lanes
		n1 := min(c.n, n0+winograd.Lanes)
		if c.lanes {
			p.TransformInputLanes(b.v, c.src[n0*c.in:n1*c.in], b.scratch)
			p.Multiply(b.m, c.u, b.v)
			p.TransformOutputLanes(c.dst[n0*c.out:n1*c.out], b.m, c.e.bias, b.scratch)
			continue
		}
		p.TransformInput(b.v, c.src[n0*c.in:n1*c.in], b.scratch, n1-n0)
		p.Multiply(b.m, c.u, b.v)
		p.TransformOutput(c.dst[n0*c.out:n1*c.out], b.m, c.e.bias, b.scratch, n1-n0)
		if c.e.add != nil || c.e.relu {
			c.e.finish(c.dst, n0*c.out, n1*c.out)
		}
	}
}

// weightGradGroup writes group grp's share of dw, [F,9,C], from its images' x (src) and dy
// (dst), 16 images at a time.
func (c *winogradConv) weightGradGroup(grp int, b *winogradBufs) {
	p := c.plan
	b.vt, b.d, b.dwt = sized(b.vt, p.TransposedLen()), sized(b.d, p.GradOutputLen()), sized(b.dwt, p.WeightGradLen())
	clear(b.dwt)
	n0, n1 := dwGroup(grp, c.n)
	if c.lanes { // whole chunks: the groups' bounds on chunks
		k0, k1 := dwGroup(grp, c.n/winograd.Lanes)
		n0, n1 = k0*winograd.Lanes, k1*winograd.Lanes
	}
	for k0 := n0; k0 < n1; k0 += winograd.Lanes {
		if c.lanes {
			p.TransformInputLanes(b.v, c.src[k0*c.in:(k0+winograd.Lanes)*c.in], b.scratch)
			p.TransposeInput(b.vt, b.v)
			p.TransformGradOutputLanes(b.d, c.dst[k0*c.out:(k0+winograd.Lanes)*c.out], b.scratch)
			p.AccumulateWeightGrad(b.dwt, b.d, b.vt)
			continue
		}
		k1 := min(n1, k0+winograd.Lanes)
		p.TransformInput(b.v, c.src[k0*c.in:k1*c.in], b.scratch, k1-k0)
		p.TransposeInput(b.vt, b.v)
		p.TransformGradOutput(b.d, c.dst[k0*c.out:k1*c.out], b.scratch, k1-k0)
		p.AccumulateWeightGrad(b.dwt, b.d, b.vt)
	}
	size := p.F * 9 * p.C
	p.TransformWeightGrad(c.parts[grp*size:(grp+1)*size], b.dwt)
}
