package model

import (
	"xent/internal/conv3"
	"xent/internal/graphop"
)

// minDirectPixels is the smallest output plane the direct convolution takes; smaller planes
// go to the GEMMs of several images' im2col columns side by side (convolveGroup), whose
// tiles they fill better.
const minDirectPixels = 64

// minDirectGradPixels is the smallest plane whose weight gradient the direct kernel takes:
// it sums its 16 lanes once per filter, channel and row of taps, which on smaller planes
// costs more than it saves (conv3 benchmarks: 92 GFLOP/s on 32x32 planes, 79 on 16x16,
// 37 on 8x8).
const minDirectGradPixels = 256

// directConv runs a float32 3x3 convolution of stride 1 and padding 1 without im2col
// (package conv3): the forward, dx as the convolution of dy with the kernel rotated by
// 180 degrees and its channels swapped (see flipKernel), and on planes of at least
// minDirectGradPixels (a multiple of 16) dw.
type directConv struct {
	grad     bool        // dw too
	fwd, bwd *conv3.Plan // x [C,H,W] -> y [F,H,W];  dy [F,H,W] -> dx [C,H,W]
	wp, wtp  []float32   // w and the flipped w, packed for the kernel
	wt       []float32   // the flipped w [C,F,3,3]
}

// directFor returns the direct convolution for geometry g (prev when it has the same
// shape), or nil where it does not apply: not float32, not 3x3 stride 1 padding 1, planes
// under minDirectPixels, or no AVX-512 kernel.
func directFor[T graphop.Float](prev *directConv, g *convGeom) (*directConv, error) {
	if _, f32 := any(T(0)).(float32); !f32 || !conv3.Fast || g.kh != 3 || g.kw != 3 || g.stride != 1 || g.pad != 1 || g.hw < minDirectPixels {
		return nil, nil
	}
	if prev != nil && prev.fwd.C == g.c && prev.fwd.F == g.f && prev.fwd.H == g.h && prev.fwd.W == g.w {
		return prev, nil
	}
	fwd, err := conv3.NewPlan(g.c, g.f, g.h, g.w)
	if err != nil {
		return nil, err
	}
	bwd, err := conv3.NewPlan(g.f, g.c, g.h, g.w)
	if err != nil {
		return nil, err
	}
	return &directConv{grad: g.hw >= minDirectGradPixels && g.hw%16 == 0, fwd: fwd, bwd: bwd, wp: make([]float32, fwd.PackedLen()), wtp: make([]float32, bwd.PackedLen()),
		wt: make([]float32, g.f*g.c*9)}, nil
}

// packForward packs w [F,C,3,3] for the forward.
func (d *directConv) packForward(w []float32) { d.fwd.PackWeights(d.wp, w) }

// packBackward packs the flipped w for dx: wt[c,f,i,j] = w[f,c,2-i,2-j].
func (d *directConv) packBackward(w []float32) {
	c, f := d.fwd.C, d.fwd.F
	for fi := range f {
		for ci := range c {
			src, dst := w[(fi*c+ci)*9:][:9], d.wt[(ci*f+fi)*9:][:9]
			for t := range 9 {
				dst[t] = src[8-t]
			}
		}
	}
	d.bwd.PackWeights(d.wtp, d.wt)
}

// forward adds image n's convolution to y [N,F,H,W] (which holds the bias or zeros), pad
// being scratch of PaddedLen.
func (d *directConv) forward(y, x, pad []float32, n int) {
	p := d.fwd
	in, out := p.C*p.H*p.W, p.F*p.H*p.W
	p.Pad(pad[:p.PaddedLen()], x[n*in:(n+1)*in])
	p.Accumulate(y[n*out:(n+1)*out], pad[:p.PaddedLen()], d.wp)
}

// backward adds image n's dx to dx [N,C,H,W] (zeros) from dy [N,F,H,W].
func (d *directConv) backward(dx, dy, pad []float32, n int) {
	p := d.bwd
	in, out := p.C*p.H*p.W, p.F*p.H*p.W
	p.Pad(pad[:p.PaddedLen()], dy[n*in:(n+1)*in])
	p.Accumulate(dx[n*out:(n+1)*out], pad[:p.PaddedLen()], d.wtp)
}

// weightGrad adds image n's share of dw [F,C,3,3] from dy [N,F,H,W] and x [N,C,H,W].
func (d *directConv) weightGrad(dw, dy, x, pad []float32, n int) {
	p := d.fwd
	in, out := p.C*p.H*p.W, p.F*p.H*p.W
	p.Pad(pad[:p.PaddedLen()], x[n*in:(n+1)*in])
	p.AccumulateGrad(dw, dy[n*out:(n+1)*out], pad[:p.PaddedLen()])
}
