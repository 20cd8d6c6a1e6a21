package model

import (
	"example.com/xent/internal/conv3"
	"example.com/xent/internal/vmath"
)

// minDirectPixels is the smallest output plane the direct convolution takes; smaller planes
// go to the GEMMs of several images' im2col columns side by side (convolveGroup), whose
// tiles they fill better.
const minDirectPixels = 64

// gradPixels is how many output pixels the weight gradient kernel takes at least, in runs of
// whole images: it sums its 16 lanes once per run (and filter, channel and row of taps), so
// small planes come several images at a time. Measured (resnet-tiny, cnn-small training
// img/s, alternated): 256 pixels 3025 / 4448, 512 3134 / 4837, 1024 3061 / 4654, 2048
// 2954 / 4518: longer runs' dy and padded images no longer stay in L1 and L2.
const gradPixels = 512

// directPlan is a convolution of one image by package conv3: conv3.Plan (stride 1) or
// conv3.Plan2 (stride 2).
type directPlan interface {
	PaddedLen() int
	PackedLen() int
	PackWeights(dst, w []float32)
	Pad(dst, x []float32)
	Convolve(y, xp, wp []float32, e conv3.Epilogue)
	AccumulateGrad(dw, dy, xp []float32)
}

// directConv runs a float32 3x3 convolution with padding 1 without im2col (package conv3):
// the forward; dx, for stride 1 as the convolution of dy with the kernel rotated by 180
// degrees and its channels swapped (see flipKernel), for stride 2 as four convolutions of
// dy, one per phase of dx (conv3.Plan2T); and on output planes of a multiple of 16 pixels,
// dw, gradRun images at a time.
type directConv struct {
	grad     bool          // dw too
	gradRun  int           // images per call of the weight gradient kernel
	fwd      directPlan    // x [C,H,W] -> y [F,HO,WO]
	bwd      *conv3.Plan   // dy [F,H,W] -> dx [C,H,W] (stride 1), or nil
	bwd2     *conv3.Plan2T // dy [F,H/2,W/2] -> dx [C,H,W] (stride 2), or nil
	in, out  int           // C*H*W, F*HO*WO
	packedW  []float32     // w packed for the forward
	packedWT []float32     // and for dx (flipped for stride 1)
	shape    convGeom      // the geometry it was made for, batch size 0
}

// directFor returns the direct convolution for geometry g (prev when made for the same one
// but for the batch size), or nil where it does not apply: not float32, not 3x3 with
// padding 1 and stride 1 (or 2 on even planes), output planes under minDirectPixels, or no
// AVX-512 kernel.
func directFor[T vmath.Float](prev *directConv, g *convGeom) (*directConv, error) {
	_, f32 := any(T(0)).(float32)
	fits := g.kh == 3 && g.kw == 3 && g.pad == 1 && (g.stride == 1 || g.stride == 2 && g.h%2 == 0 && g.w%2 == 0)
	if !f32 || !conv3.Fast || !fits || g.hw < minDirectPixels {
		return nil, nil
	}
	shape := *g
	shape.n = 0 // the plans are per image: a batch of another size reuses them
	if prev != nil && prev.shape == shape {
		return prev, nil
	}
	d := &directConv{grad: g.hw%16 == 0, gradRun: (gradPixels + g.hw - 1) / g.hw, in: g.chw, out: g.o, shape: shape}
	var err error
	if g.stride == 2 {
		if d.fwd, err = conv3.NewPlan2(g.c, g.f, g.h, g.w); err == nil {
			d.bwd2, err = conv3.NewPlan2T(g.c, g.f, g.h, g.w)
		}
	} else {
		if d.fwd, err = conv3.NewPlan(g.c, g.f, g.h, g.w); err == nil {
			d.bwd, err = conv3.NewPlan(g.f, g.c, g.h, g.w)
		}
	}
	if err != nil {
		return nil, err
	}
	d.packedW = make([]float32, d.fwd.PackedLen())
	if d.bwd != nil {
		d.packedWT = make([]float32, d.bwd.PackedLen())
	}
	if d.bwd2 != nil {
		d.packedWT = make([]float32, d.bwd2.PackedLen())
	}
	return d, nil
}

// paddedLen is the scratch a chunk needs: one image's padded copy, or a run's for dw.
func (d *directConv) paddedLen() int {
	n := d.fwd.PaddedLen()
	if d.grad {
		n *= d.gradRun
	}
	if d.bwd != nil {
		n = max(n, d.bwd.PaddedLen())
	}
	if d.bwd2 != nil {
		n = max(n, d.bwd2.PaddedLen()+d.bwd2.ScratchLen())
	}
	return n
}

// packForward packs w [F,C,3,3] for the forward.
func (d *directConv) packForward(w []float32) { d.fwd.PackWeights(d.packedW, w) }

// packBackward packs the kernel for dx: for stride 1 the flipped one, wt [C,F,3,3] (see
// flipKernel), for stride 2 w [F,C,3,3] itself.
func (d *directConv) packBackward(w, wt []float32) {
	if d.bwd2 != nil {
		d.bwd2.PackWeights(d.packedWT, w)
		return
	}
	d.bwd.PackWeights(d.packedWT, wt)
}

// hasBackward says whether dx runs here.
func (d *directConv) hasBackward() bool { return d.bwd != nil || d.bwd2 != nil }

// forward writes image n's convolution to y [N,F,HO,WO], finished by e (whose residual, if
// any, is the batch's [N,F,HO,WO]), pad being scratch of paddedLen.
func (d *directConv) forward(y, x, pad []float32, n int, e conv3.Epilogue) {
	xp := pad[:d.fwd.PaddedLen()]
	d.fwd.Pad(xp, x[n*d.in:(n+1)*d.in])
	if e.Add != nil {
		e.Add = e.Add[n*d.out : (n+1)*d.out]
	}
	d.fwd.Convolve(y[n*d.out:(n+1)*d.out], xp, d.packedW, e)
}

// backward writes image n's dx to dx [N,C,H,W] from dy [N,F,HO,WO].
func (d *directConv) backward(dx, dy, pad []float32, n int) {
	d.backwardImage(dx[n*d.in:(n+1)*d.in], dy[n*d.out:(n+1)*d.out], pad)
}

// backwardImage writes one image's dx [C,H,W] from its dy [F,HO,WO].
func (d *directConv) backwardImage(dx, dy, pad []float32) {
	if p := d.bwd2; p != nil {
		dyp, scratch := pad[:p.PaddedLen()], pad[p.PaddedLen():p.PaddedLen()+p.ScratchLen()]
		p.Pad(dyp, dy)
		p.Convolve(dx, dyp, d.packedWT, scratch)
		return
	}
	xp := pad[:d.bwd.PaddedLen()]
	d.bwd.Pad(xp, dy)
	d.bwd.Convolve(dx, xp, d.packedWT, conv3.Epilogue{})
}

// weightGrad adds the share of images [n0, n1) (at most gradRun) of dw [F,C,3,3], from dy
// [N,F,HO,WO] and x [N,C,H,W].
func (d *directConv) weightGrad(dw, dy, x, pad []float32, n0, n1 int) {
	d.weightGradRun(dw, dy[n0*d.out:n1*d.out], x, pad, n0, n1)
}

// weightGradRun is weightGrad with the run's dy [n1-n0][F,HO,WO].
func (d *directConv) weightGradRun(dw, dy, x, pad []float32, n0, n1 int) {
	size := d.fwd.PaddedLen()
	for n := n0; n < n1; n++ {
		d.fwd.Pad(pad[(n-n0)*size:(n-n0+1)*size], x[n*d.in:(n+1)*d.in])
	}
	d.fwd.AccumulateGrad(dw, dy, pad[:(n1-n0)*size])
}
