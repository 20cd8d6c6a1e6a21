package model

import (
	"example.com/xent/internal/parallel"
	"example.com/xent/internal/vmath"
)

// thinMaxTaps is the most taps C*KH*KW a convolution has for thinConv to run its forward:
// a GEMM that deep or less runs far below the machine's speed (airbench's whitening, 12
// taps: im2col, OpenBLAS and the bias pass took ~5% of a training step at batch 2000).
const thinMaxTaps = 32

// thinConv runs the forward of a float32 convolution with stride 1, no padding, few taps
// and output rows of at least 16 pixels by vmath.ThinConv32, an image at a time across
// cores: y = conv(x, w) + b, then the epilogue's residual and ReLU. Its dx and dw stay
// with the plan's GEMM path, which it embeds (airbench needs neither: the whitening's input
// is the data and its filters are fixed).
type thinConv struct {
	*gemmConv[float32]           // InputGrad and WeightGrad
	g                  convGeom  // the call under way
	y, x, w            []float32 // its arrays
	e                  epilogue[float32]
}

// thinFor returns the thin forward for geometry g beside the plan's gemm, or nil where it
// does not apply.
func thinFor[T vmath.Float](g *convGeom, gemm *gemmConv[T]) convAlgorithm[T] {
	g32, f32 := any(gemm).(*gemmConv[float32])
	if !f32 || g.stride != 1 || g.pad != 0 || g.kh != g.kw || g.ckk > thinMaxTaps || g.wo < 16 {
		return nil
	}
	return any(&thinConv{gemmConv: g32}).(convAlgorithm[T])
}

func (t *thinConv) Forward(g *convGeom, y, x, w []float32, e epilogue[float32]) {
	t.g, t.y, t.x, t.w, t.e = *g, y, x, w, e
	parallel.For(g.n, 1, t)
}

// Run does images [lo, hi) of the forward; parallel.For calls it.
func (t *thinConv) Run(lo, hi int) {
	g := &t.g
	for n := lo; n < hi; n++ {
		vmath.ThinConv32(t.y[n*g.o:(n+1)*g.o], t.x[n*g.chw:(n+1)*g.chw], t.w, t.e.bias, g.c, g.h, g.w, g.kh, g.f)
		t.e.finish(t.y, n*g.o, (n+1)*g.o)
	}
}
