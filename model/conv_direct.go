package model

import (
	"sync"

	"example.com/xent/internal/conv3"
	"example.com/xent/internal/parallel"
	"example.com/xent/internal/vmath"
)

// minDirectPixels is the smallest output plane the direct convolution takes; smaller planes
// go to the GEMMs of several images' im2col columns side by side (gemmConv), whose tiles
// they fill better. A 7x7 plane fills 49 of a tile's 64 lanes and still runs faster direct:
// airbench (256 channels at 7x7) trained at 400-404 img/s against 315-364 with 64 here,
// inference 1,277-1,301 against 991-1,120 (Zen 5, two alternated rounds, 2026-12-07).
const minDirectPixels = 32

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

// directConv runs a float32 3x3 convolution with padding 1 without im2col (package conv3),
// an image at a time across cores: the forward; dx, for stride 1 as the convolution of dy
// with the kernel flipped (see flipped), for stride 2 as four convolutions of dy, one per
// phase of dx (conv3.Plan2T); and for stride 1, or stride 2 onto planes of a multiple of 16
// pixels, dw, gradRun images at a time, and the fused backward (FusedBackward).
type directConv struct {
	grad     bool          // dw too
	gradRun  int           // images per call of the weight gradient kernel
	fwd      directPlan    // x [C,H,W] -> y [F,HO,WO]
	bwd      *conv3.Plan   // dy [F,H,W] -> dx [C,H,W] (stride 1), or nil
	bwd2     *conv3.Plan2T // dy [F,H/2,W/2] -> dx [C,H,W] (stride 2), or nil
	in, out  int           // C*H*W, F*HO*WO
	packedW  []float32     // w packed for the forward
	packedWT []float32     // and for dx
	flippedW []float32     // w flipped (stride 1), [C,F,3,3]
	parts    []float32     // [dwGroups, F, C*9]: each group's share of dw
	bufs     sync.Pool     // *directBufs, one per running chunk

	// the call under way, for Run
	pass     directPass
	g        convGeom
	x, y, dy []float32
	dx       []float32 // nil in a fused backward without dx
	e        conv3.Epilogue
	mask     imageMasker // in a fused backward
}

type directPass int

const (
	directForward directPass = iota // rows: images
	directDX                        // images
	directDW                        // the dwGroups groups of images
	directFused                     // the same
)

// imageMasker writes image n's output gradient as the backward starts from it (through a
// fused ReLU, with what the caller keeps of it) into dst [F,HO,WO]: the node's maskImage.
type imageMasker interface{ maskImage(n int, dst []float32) }

// directBufs is one chunk's scratch: padded images (a run of them for dw), and in a fused
// backward a run's output gradient.
type directBufs struct{ pad, dym []float32 }

// directFor returns the direct convolution for geometry g, or nil where it does not apply:
// not float32, not 3x3 with padding 1 and stride 1 (or 2 on even planes), output planes
// under minDirectPixels, or no AVX-512 kernel.
func directFor[T vmath.Float](g *convGeom) (*directConv, error) {
	_, f32 := any(T(0)).(float32)
	fits := g.kh == 3 && g.kw == 3 && g.pad == 1 && (g.stride == 1 || g.stride == 2 && g.h%2 == 0 && g.w%2 == 0)
	if !f32 || !conv3.Fast || !fits || g.hw < minDirectPixels {
		return nil, nil
	}
	d := &directConv{grad: g.stride == 1 || g.hw%16 == 0, gradRun: (gradPixels + g.hw - 1) / g.hw, in: g.chw, out: g.o}
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
	return d, nil // the packed weights are made at their first use: under Winograd, never
}

// Forward writes y = e(conv(x, w)): bias, residual and ReLU in the kernel's store.
func (d *directConv) Forward(g *convGeom, y, x, w []float32, e epilogue[float32]) {
	d.packedW = sized(d.packedW, d.fwd.PackedLen())
	d.fwd.PackWeights(d.packedW, w)
	d.pass, d.g, d.y, d.x = directForward, *g, y, x
	d.e = conv3.Epilogue{Bias: e.bias, Add: e.add, ReLU: e.relu}
	parallel.For(g.n, 1, d)
}

func (d *directConv) InputGrad(g *convGeom, dx, dy, w []float32) {
	d.packBackward(g, w)
	d.pass, d.g, d.dx, d.dy = directDX, *g, dx, dy
	parallel.For(g.n, 1, d)
}

// WeightGrad needs grad (stride 1, or output planes of a multiple of 16 pixels).
func (d *directConv) WeightGrad(g *convGeom, dw, dy, x []float32) {
	d.startDW(g)
	d.pass, d.dy, d.x = directDW, dy, x
	parallel.For(dwGroups, 1, d)
	sumGroups(dw, d.parts)
}

// FusedBackward computes dw and, unless dx is nil, dx in one pass over runs of images
// (needs grad): for each run, mask writes each image's output gradient into scratch that
// stays in cache, dx comes from it image by image, then the run's share of dw. The
// separate passes each read the output gradient from memory again.
func (d *directConv) FusedBackward(g *convGeom, dx, dw, x, w []float32, mask imageMasker) {
	if dx != nil {
		d.packBackward(g, w)
	}
	d.startDW(g)
	d.pass, d.dx, d.x, d.mask = directFused, dx, x, mask
	parallel.For(dwGroups, 1, d)
	sumGroups(dw, d.parts)
	d.mask = nil
}

func (d *directConv) startDW(g *convGeom) {
	d.g = *g
	if len(d.parts) != dwGroups*g.f*g.ckk {
		d.parts = make([]float32, dwGroups*g.f*g.ckk)
	}
}

// packBackward packs the kernel for dx: for stride 1 the flipped one (see flipped), for
// stride 2 w [F,C,3,3] itself.
func (d *directConv) packBackward(g *convGeom, w []float32) {
	if d.bwd2 != nil {
		d.packedWT = sized(d.packedWT, d.bwd2.PackedLen())
		d.bwd2.PackWeights(d.packedWT, w)
		return
	}
	d.packedWT, d.flippedW = sized(d.packedWT, d.bwd.PackedLen()), sized(d.flippedW, g.f*g.ckk)
	flipped(d.flippedW, w, g)
	d.bwd.PackWeights(d.packedWT, d.flippedW)
}

func (d *directConv) buffers() *directBufs {
	nPad, nDym := d.paddedLen(), 0
	if d.pass == directFused {
		nDym = d.gradRun * d.out
	}
	if b, ok := d.bufs.Get().(*directBufs); ok && len(b.pad) == nPad && len(b.dym) >= nDym {
		return b
	}
	return &directBufs{pad: make([]float32, nPad), dym: make([]float32, nDym)}
}

// Run does rows [lo, hi) of the call under way (images, or dw groups); parallel.For calls it.
func (d *directConv) Run(lo, hi int) {
	b := d.buffers()
	defer d.bufs.Put(b)
	g := &d.g
	switch d.pass {
	case directForward:
		for n := lo; n < hi; n++ {
			d.forward(n, b.pad)
		}
	case directDX:
		for n := lo; n < hi; n++ {
			d.backwardImage(d.dx[n*d.in:(n+1)*d.in], d.dy[n*d.out:(n+1)*d.out], b.pad)
		}
	case directDW, directFused:
		for grp := lo; grp < hi; grp++ {
			part := d.parts[grp*g.f*g.ckk : (grp+1)*g.f*g.ckk]
			clear(part)
			start, end := dwGroup(grp, g.n)
			for n0 := start; n0 < end; n0 += d.gradRun {
				n1 := min(end, n0+d.gradRun)
				if d.pass == directDW {
					d.weightGradRun(part, d.dy[n0*d.out:n1*d.out], b.pad, n0, n1)
					continue
				}
				d.fusedRun(part, b, n0, n1)
			}
		}
	}
}

// fusedRun does images [n0, n1) of the fused backward.
func (d *directConv) fusedRun(part []float32, b *directBufs, n0, n1 int) {
	run := b.dym[:(n1-n0)*d.out]
	for n := n0; n < n1; n++ {
		d.mask.maskImage(n, run[(n-n0)*d.out:(n-n0+1)*d.out])
	}
	for n := n0; n < n1 && d.dx != nil; n++ {
		d.backwardImage(d.dx[n*d.in:(n+1)*d.in], run[(n-n0)*d.out:(n-n0+1)*d.out], b.pad)
	}
	d.weightGradRun(part, run, b.pad, n0, n1)
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

// forward writes image n's convolution, finished by the epilogue (whose residual, if any,
// is the batch's [N,F,HO,WO]), pad being scratch of paddedLen.
func (d *directConv) forward(n int, pad []float32) {
	xp := pad[:d.fwd.PaddedLen()]
	d.fwd.Pad(xp, d.x[n*d.in:(n+1)*d.in])
	e := d.e
	if e.Add != nil {
		e.Add = e.Add[n*d.out : (n+1)*d.out]
	}
	d.fwd.Convolve(d.y[n*d.out:(n+1)*d.out], xp, d.packedW, e)
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

// weightGradRun adds the share of images [n0, n1) (at most gradRun) of dw [F,C,3,3] to
// part, from their dy [n1-n0][F,HO,WO] and x.
func (d *directConv) weightGradRun(part, dy, pad []float32, n0, n1 int) {
	size := d.fwd.PaddedLen()
	for n := n0; n < n1; n++ {
		d.fwd.Pad(pad[(n-n0)*size:(n-n0+1)*size], d.x[n*d.in:(n+1)*d.in])
	}
	d.fwd.AccumulateGrad(part, dy, pad[:(n1-n0)*size])
}
