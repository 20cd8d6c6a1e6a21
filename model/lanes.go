package model

import (
	"fmt"
	"os"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/internal/graphop"
	"example.com/xent/internal/parallel"
	"example.com/xent/internal/winograd"
)

// The lanes layout. A training graph keeps the activations from its first Winograd
// convolution to the last layer that can take them in winograd's lanes layout, [N/16][C]
// [H][W][16] (16 images side by side, pixel by pixel), instead of [N][C][H][W]: the
// convolutions' transforms then read and write their planes in place, where in NCHW each
// of a Winograd layer's five transforms a step (y, dx, and dw's two) copied every image's
// plane and transposed it, 16 by 16 (~17% of airbench's training step at batch 2000, Zen 5).
// BatchNorm takes the 16 images of a chunk as one (their statistics are the batch's all
// the same), GELU and ReLU are elementwise, and a 2x2 max pool has a kernel of its own;
// every other layer gets its input back in NCHW from a node that converts it (one at each
// border of the region, and its gradient back). A node's shape is [N,C,H,W] in both
// layouts; the Builder knows which nodes hold lanes.
//
// Only the training graph, in float32, with a batch that is a multiple of 16, uses it: the
// evaluation graph (Infer, the exporters) is NCHW throughout. The arithmetic of each
// convolution output is the NCHW one's, bit for bit; BatchNorm's sums and dw's groups add
// in another order, so a run differs from XENT_LANES=off's by rounding.

// lanesEnv is XENT_LANES: "off" keeps every training graph in NCHW, to compare; unset uses
// the lanes layout where it applies; any other value is an error.
var lanesEnv = os.Getenv("XENT_LANES")

// checkLanesEnv returns an error if XENT_LANES is neither unset nor "off" (Build calls it).
func checkLanesEnv() error {
	if lanesEnv != "" && lanesEnv != "off" {
		return fmt.Errorf("model: XENT_LANES=%q: want off, or unset", lanesEnv)
	}
	return nil
}

// lanesOK reports whether the layer on x may run in the lanes layout: a float32 training
// graph whose batch is a multiple of 16, XENT_LANES not off.
func (b *Builder) lanesOK(x *gorgonia.Node) bool {
	s := x.Shape()
	return lanesEnv == "" && b.train && x.Dtype() == tensor.Float32 && s.Dims() == 4 && s[0]%winograd.Lanes == 0
}

// lanesConv reports whether the convolution of x by w with c's geometry runs in the lanes
// layout: in a training graph that may use it (lanesOK), without bias, residual or fused
// ReLU, and by Winograd.
func (b *Builder) lanesConv(x, w, r *gorgonia.Node, c ConvConfig) (bool, error) {
	if r != nil || c.ReLU || !c.NoBias {
		return false, nil
	}
	if !b.lanesOK(x) {
		return false, nil
	}
	g, err := newConvGeom(x.Shape(), w.Shape(), c.Stride, c.Pad)
	if err != nil {
		return false, err
	}
	d, err := directFor[float32](&g)
	if err != nil || d == nil {
		return false, err
	}
	wc, err := winogradFor(&g, d)
	if err != nil || wc == nil {
		return false, err
	}
	return wc.lanesOK(), nil
}

// inLanes returns x in the lanes layout, converting it if it is not.
func (b *Builder) inLanes(x *gorgonia.Node) *gorgonia.Node {
	if b.lanes[x] {
		return x
	}
	return b.convert(x, true)
}

// plain returns x in NCHW, converting it if it is in the lanes layout: what every layer
// without a lanes kernel calls on its inputs.
func (b *Builder) plain(x *gorgonia.Node) *gorgonia.Node {
	if x == nil || !b.lanes[x] {
		return x
	}
	return b.convert(x, false)
}

// convert adds a layout conversion node (to the lanes layout or back), recorded as an op
// of the training graph but not as a layer of the summary. On an error it records it and
// returns x itself (the caller goes on with a node, the Build fails).
func (b *Builder) convert(x *gorgonia.Node, toLanes bool) *gorgonia.Node {
	if !b.ok(x) {
		return x
	}
	y, err := graphop.Apply(&lanesKernel{toLanes: toLanes}, x)
	if err == nil { // the conversion's output depends on what x depends on
		err = b.record(y, Op{Kind: "layout"}, b.upstream[x], x)
	}
	if err != nil {
		b.fail(fmt.Errorf("model: layout of %v: %w", x.Shape(), err))
		return x
	}
	if toLanes {
		b.lanes[y] = true
	}
	return y
}

// lanesKernel converts x [N,C,H,W] (float32, N a multiple of 16) between NCHW and the
// lanes layout: a chunk of 16 images, [16][C*H*W], becomes [C*H*W][16] (toLanes) or back.
// Its gradient is the inverse conversion of dy. Chunks are split across cores.
type lanesKernel struct {
	toLanes bool
	y, dx   *tensor.Dense
	// the pass under way
	src, dst []float32
	per      int  // floats per image
	forward  bool // src to dst as toLanes says (else the inverse)
}

func (k *lanesKernel) String() string            { return fmt.Sprintf("xent.Layout{lanes=%v}", k.toLanes) }
func (k *lanesKernel) DiffWRT() []bool           { return []bool{true} }
func (k *lanesKernel) Outputs() []**tensor.Dense { return []**tensor.Dense{&k.y, &k.dx} }
func (k *lanesKernel) Types() ([]hm.Type, hm.Type) {
	return []hm.Type{graphop.Tensor4A}, graphop.Tensor4A
}

func (k *lanesKernel) Shape(in []tensor.Shape) (tensor.Shape, error) {
	if s := in[0]; s.Dims() != 4 || s[0]%winograd.Lanes != 0 {
		return nil, fmt.Errorf("lanes layout of %v: want [N,C,H,W] with N a multiple of %d", s, winograd.Lanes)
	}
	return in[0].Clone(), nil
}

// Run converts chunks [lo, hi); parallel.For calls it.
func (k *lanesKernel) Run(lo, hi int) {
	size := winograd.Lanes * k.per
	for c := lo; c < hi; c++ {
		src, dst := k.src[c*size:(c+1)*size], k.dst[c*size:(c+1)*size]
		if k.forward == k.toLanes {
			winograd.ToLanes(dst, src, k.per)
		} else {
			winograd.FromLanes(dst, src, k.per)
		}
	}
}

func (k *lanesKernel) run(out **tensor.Dense, src gorgonia.Value, forward bool, what string) (gorgonia.Value, error) {
	x, err := graphop.Data[float32](src, what)
	if err != nil {
		return nil, err
	}
	s := src.Shape()
	*out = graphop.Reused[float32](*out, s...)
	k.src, k.dst, k.forward, k.per = x, graphop.Slice[float32](*out), forward, s[1]*s[2]*s[3]
	parallel.For(s[0]/winograd.Lanes, 1, k)
	k.src, k.dst = nil, nil
	return *out, nil
}

func (k *lanesKernel) Forward(in []gorgonia.Value) (gorgonia.Value, error) {
	return k.run(&k.y, in[0], true, "layout input")
}

func (k *lanesKernel) Backward(_ int, _ []gorgonia.Value, _, grad gorgonia.Value) (gorgonia.Value, error) {
	return k.run(&k.dx, grad, false, "layout output gradient")
}
