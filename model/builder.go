package model

import (
	"fmt"
	"math/rand/v2"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/internal/graphop"
)

// A Layer is one row of a model's summary.
type Layer struct {
	Name   string
	Kind   string
	Out    tensor.Shape // per batch
	Params int          // trainable scalars
	MACs   int64        // multiply-accumulates per image, forward
}

// A Builder adds layers to one graph, taking their tensors from a Params store (and making
// them there the first time). Each method returns the layer's output node; the first error
// sticks, later calls return nil, and Err reports it, so a model reads as a list of layers.
type Builder struct {
	g       *gorgonia.ExprGraph
	train   bool
	init    Init
	params  *Params
	rng     *rand.Rand
	seed    uint64
	step    *uint64 // the model's training step, for dropout masks
	replica int     // Options.Replica
	sum     func([]float64) error
	nodes   []*gorgonia.Node // trainable parameter nodes, in Params order
	byParam map[string]*gorgonia.Node
	layers  []Layer
	ops     []Op                   // the structured record of the layers (Net.Ops)
	opNodes []*gorgonia.Node       // the output node of each op
	opOf    map[*gorgonia.Node]int // the op whose output a node is; the images are -1
	names   map[string]bool
	lanes   map[*gorgonia.Node]bool // the nodes that hold the lanes layout (lanes.go)
	// upstream holds, per node, the trainable tensors it depends on (for gradientNeeded);
	// fresh, those the layer being built has taken so far
	upstream map[*gorgonia.Node][]*Param
	fresh    []*Param
	err      error
}

func newBuilder(g *gorgonia.ExprGraph, params *Params, train bool, init Init, seed uint64, step *uint64) *Builder {
	return &Builder{g: g, train: train, init: init, params: params, seed: seed, step: step,
		rng: rand.New(rand.NewPCG(seed, 0x696e6974)), byParam: map[string]*gorgonia.Node{}, names: map[string]bool{},
		opOf: map[*gorgonia.Node]int{}, lanes: map[*gorgonia.Node]bool{}, upstream: map[*gorgonia.Node][]*Param{}}
}

// Err returns the first error met.
func (b *Builder) Err() error { return b.err }

func (b *Builder) fail(err error) *gorgonia.Node {
	if b.err == nil {
		b.err = err
	}
	return nil
}

// ok reports whether building may go on: no error yet and every input present.
func (b *Builder) ok(xs ...*gorgonia.Node) bool {
	for _, x := range xs {
		if x == nil && b.err == nil {
			b.err = fmt.Errorf("model: a layer's input is nil")
		}
	}
	return b.err == nil
}

// layer names a layer, checking that the name is new.
func (b *Builder) layer(name string) bool {
	if b.names[name] {
		b.fail(fmt.Errorf("model: two layers named %q", name))
		return false
	}
	b.names[name] = true
	return true
}

// param returns the graph node of a tensor, making the tensor if the store lacks it.
func (b *Builder) param(name string, shape []int, fill func([]float64), trainable, decay bool) *gorgonia.Node {
	p, err := b.params.get(name, shape, fill, trainable, decay)
	if err != nil {
		return b.fail(err)
	}
	if trainable {
		b.fresh = append(b.fresh, p)
	}
	if n, ok := b.byParam[name]; ok {
		return n
	}
	n := gorgonia.NewTensor(b.g, tensor.Float32, len(shape), gorgonia.WithShape(shape...), gorgonia.WithName(name), gorgonia.WithValue(p.T))
	b.byParam[name] = n
	if trainable {
		b.nodes = append(b.nodes, n)
	}
	return n
}

// add records a layer's output: its summary row, and op, computed from the nodes in.
func (b *Builder) add(out *gorgonia.Node, err error, row Layer, op Op, in ...*gorgonia.Node) *gorgonia.Node {
	if err != nil {
		return b.fail(fmt.Errorf("model: %s: %w", row.Name, err))
	}
	row.Out = out.Shape().Clone()
	b.layers = append(b.layers, row)
	if err := b.record(out, op, b.dependsOn(in...), in...); err != nil {
		return b.fail(fmt.Errorf("model: %s: %w", row.Name, err))
	}
	return out
}

// record adds op, whose output node is out and whose inputs are in, to the builder's
// record of ops, with the trainable tensors out depends on.
func (b *Builder) record(out *gorgonia.Node, op Op, upstream []*Param, in ...*gorgonia.Node) error {
	for _, x := range in {
		i, ok := b.opOf[x]
		if !ok {
			return fmt.Errorf("an input that no layer of this builder made")
		}
		op.Inputs = append(op.Inputs, i)
	}
	op.Shape = append([]int(nil), out.Shape()[1:]...)
	b.upstream[out] = upstream
	b.opOf[out] = len(b.ops)
	b.ops = append(b.ops, op)
	b.opNodes = append(b.opNodes, out)
	return nil
}

// Linear is y = x w^T + b for x [N,I], with w [out,I] and b [out] named name+".weight" and
// name+".bias" (PyTorch's layout and names).
func (b *Builder) Linear(name string, x *gorgonia.Node, out int) *gorgonia.Node {
	if !b.ok(x) || !b.layer(name) {
		return nil
	}
	x = b.plain(x)
	if x.Shape().Dims() != 2 {
		return b.fail(fmt.Errorf("model: %s: input %v, want [N, features] (Flatten first)", name, x.Shape()))
	}
	in := x.Shape()[1]
	wf, bf := weightInit(b.init, b.rng, in, out)
	w := b.param(name+".weight", []int{out, in}, wf, true, true)
	bias := b.param(name+".bias", []int{out}, bf, true, false)
	if !b.ok(w, bias) {
		return nil
	}
	y, err := linear(x, w, bias)
	return b.add(y, err, Layer{Name: name, Kind: "linear", Params: out*in + out, MACs: int64(in * out)},
		Op{Kind: OpLinear, Name: name}, x)
}

// Conv2d is a convolution of x [N,C,H,W] with out filters of kernel x kernel taps, stride
// and zero padding pad, plus a bias: weight [out,C,kernel,kernel], bias [out].
func (b *Builder) Conv2d(name string, x *gorgonia.Node, out, kernel, stride, pad int) *gorgonia.Node {
	return b.Conv(name, x, ConvConfig{Out: out, Kernel: kernel, Stride: stride, Pad: pad})
}

// ConvConfig is a convolution layer: Out filters of Kernel x Kernel taps, Stride and zero
// padding Pad.
type ConvConfig struct {
	Out, Kernel, Stride, Pad int
	NoBias                   bool // no bias (a BatchNorm follows), as bias=False in PyTorch
	// Dirac starts filter i < C as the identity on channel i (torch.nn.init.dirac_ on the
	// first C filters, airbench's initialisation), the others as the architecture's Init.
	Dirac bool
	// ReLU takes max(., 0) of the output in the convolution's own pass (PyTorch's
	// conv followed by ReLU, without a pass over the output of its own).
	ReLU bool
}

// Conv is a convolution of x [N,C,H,W] as c says: weight name+".weight" [Out,C,K,K] and,
// unless NoBias, name+".bias" [Out].
func (b *Builder) Conv(name string, x *gorgonia.Node, c ConvConfig) *gorgonia.Node {
	return b.ConvAdd(name, x, nil, c)
}

// ConvAdd is Conv with a residual r (the convolution's output shape) added to its output
// before the ReLU, if c.ReLU: a residual block's y = ReLU(r + conv(x)) in one pass.
func (b *Builder) ConvAdd(name string, x, r *gorgonia.Node, c ConvConfig) *gorgonia.Node {
	if !b.ok(x) || !b.layer(name) || r != nil && !b.ok(r) {
		return nil
	}
	if x.Shape().Dims() != 4 {
		return b.fail(fmt.Errorf("model: %s: input %v, want [N,C,H,W]", name, x.Shape()))
	}
	if c.Stride == 0 {
		c.Stride = 1
	}
	in, k := x.Shape()[1], c.Kernel
	wf, bf := weightInit(b.init, b.rng, in*k*k, c.Out*k*k)
	if c.Dirac {
		wf = dirac(wf, c.Out, in, k)
	}
	w := b.param(name+".weight", []int{c.Out, in, k, k}, wf, true, true)
	var bias *gorgonia.Node
	params := c.Out * in * k * k
	if !c.NoBias {
		bias = b.param(name+".bias", []int{c.Out}, bf, true, false)
		params += c.Out
	}
	if !b.ok(w) || (!c.NoBias && !b.ok(bias)) {
		return nil
	}
	lanes, err := b.lanesConv(x, w, r, c)
	if err != nil {
		return b.fail(fmt.Errorf("model: %s: %w", name, err))
	}
	var y *gorgonia.Node
	if lanes {
		x = b.inLanes(x)
		if !b.ok(x) {
			return nil
		}
		y, err = convLanes(x, w, c.Stride, c.Pad)
	} else {
		x, r = b.plain(x), b.plain(r)
		y, err = convFused(x, w, bias, r, c.Stride, c.Pad, c.ReLU)
	}
	if err != nil {
		return b.fail(fmt.Errorf("model: %s: %w", name, err))
	}
	b.lanes[y] = lanes
	if k, ok := graphop.KernelOf(y); ok {
		if gated, ok := k.(interface{ gateInputGrad(func() bool) }); ok {
			gated.gateInputGrad(b.gradientNeeded(x))
		}
	}
	s := y.Shape()
	if r != nil && !r.Shape().Eq(s) {
		return b.fail(fmt.Errorf("model: %s: residual %v for an output %v", name, r.Shape(), s))
	}
	kind := fmt.Sprintf("conv%dx%d/%d", k, k, c.Stride)
	if r != nil {
		kind += "+residual"
	}
	if c.ReLU {
		kind += "+relu"
	}
	op := Op{Kind: OpConv, Name: name, Kernel: k, Stride: c.Stride, Pad: c.Pad, Bias: !c.NoBias, ReLU: c.ReLU}
	row := Layer{Name: name, Kind: kind, Params: params, MACs: int64(s[1] * s[2] * s[3] * in * k * k)}
	if r != nil {
		return b.add(y, nil, row, op, x, r)
	}
	return b.add(y, nil, row, op, x)
}

// BatchNorm2d normalises each channel of x [N,C,H,W]: batch statistics in the training
// graph, running statistics (momentum 0.1, eps 1e-5, as PyTorch) in the evaluation graph.
// Its scale starts at 1 and its shift at 0; the running mean and variance are kept as
// name+".running_mean" and name+".running_var".
func (b *Builder) BatchNorm2d(name string, x *gorgonia.Node) *gorgonia.Node {
	return b.BatchNorm(name, x, BatchNormConfig{Momentum: 0.1, Eps: 1e-5})
}

// BatchNormConfig is a BatchNorm layer's options.
type BatchNormConfig struct {
	Momentum float64 // weight of the new batch in the running statistics (PyTorch's momentum), e.g. 0.1
	Eps      float64 // added to the variance, e.g. 1e-5
	// FixedScale keeps the scale at 1 (not trained; airbench's weight=False).
	FixedScale bool
	// ShiftLRScale multiplies the learning rate of the shift (airbench's bias_scaler, 64);
	// 0 means 1.
	ShiftLRScale float64
}

// BatchNorm is BatchNorm2d with the options of c.
func (b *Builder) BatchNorm(name string, x *gorgonia.Node, c BatchNormConfig) *gorgonia.Node {
	return b.batchNorm(name, x, c, false)
}

// BatchNormGELU is GELU(BatchNorm(x)) with the options of c: one node (two passes over the
// batch and the BatchNorm's output array fewer, the same arithmetic), recorded as two ops,
// a BatchNorm and a GELU reading it, both with the node as their output (exporters read
// the ops; Infer runs the node once, for the first).
func (b *Builder) BatchNormGELU(name string, x *gorgonia.Node, c BatchNormConfig) *gorgonia.Node {
	y := b.batchNorm(name, x, c, true)
	if y == nil {
		return nil
	}
	// the GELU's summary row, its op reading the fused node
	return b.add(y, nil, Layer{Name: fmt.Sprintf("gelu%d", len(b.layers)), Kind: "gelu"}, Op{Kind: OpGELU}, y)
}

func (b *Builder) batchNorm(name string, x *gorgonia.Node, c BatchNormConfig, gelu bool) *gorgonia.Node {
	if !b.ok(x) || !b.layer(name) {
		return nil
	}
	if x.Shape().Dims() != 4 {
		return b.fail(fmt.Errorf("model: %s: input %v, want [N,C,H,W]", name, x.Shape()))
	}
	if !(c.Momentum > 0 && c.Momentum <= 1) || !(c.Eps > 0) {
		return b.fail(fmt.Errorf("model: %s: batchnorm momentum %v, eps %v: want (0, 1] and > 0", name, c.Momentum, c.Eps))
	}
	ch := x.Shape()[1]
	g := b.param(name+".weight", []int{ch}, constant(1), !c.FixedScale, false)
	sh := b.param(name+".bias", []int{ch}, constant(0), true, false)
	if p := b.params.Get(name + ".bias"); p != nil && c.ShiftLRScale > 0 {
		p.LRScale = c.ShiftLRScale
	}
	mean, err := b.params.get(name+".running_mean", []int{ch}, constant(0), false, false)
	if err != nil {
		return b.fail(err)
	}
	variance, err := b.params.get(name+".running_var", []int{ch}, constant(1), false, false)
	if err != nil {
		return b.fail(err)
	}
	if !b.ok(g, sh) {
		return nil
	}
	params := 2 * ch
	if c.FixedScale {
		params = ch
	}
	y, err := batchNorm(x, g, sh, mean.T, variance.T, b.train, gelu, b.lanes[x], c.Momentum, c.Eps, b.sum)
	if err == nil {
		b.lanes[y] = b.lanes[x]
	}
	return b.add(y, err, Layer{Name: name, Kind: "batchnorm", Params: params}, Op{Kind: OpBatchNorm, Name: name, Eps: c.Eps, Momentum: c.Momentum, FixedScale: c.FixedScale}, x)
}

// GELU is x*Phi(x), PyTorch's nn.GELU() (the exact form).
func (b *Builder) GELU(x *gorgonia.Node) *gorgonia.Node {
	if !b.ok(x) {
		return nil
	}
	y, err := gelu(x)
	if err == nil {
		b.lanes[y] = b.lanes[x] // elementwise: either layout
	}
	return b.add(y, err, Layer{Name: fmt.Sprintf("gelu%d", len(b.layers)), Kind: "gelu"}, Op{Kind: OpGELU}, x)
}

// ReLU is max(x, 0).
func (b *Builder) ReLU(x *gorgonia.Node) *gorgonia.Node {
	if !b.ok(x) {
		return nil
	}
	y, err := relu(x)
	if err == nil {
		b.lanes[y] = b.lanes[x] // elementwise: either layout
	}
	return b.add(y, err, Layer{Name: fmt.Sprintf("relu%d", len(b.layers)), Kind: "relu"}, Op{Kind: OpReLU}, x)
}

// MaxPool2d takes the max over k x k windows with stride k of x [N,C,H,W].
func (b *Builder) MaxPool2d(x *gorgonia.Node, k int) *gorgonia.Node {
	if !b.ok(x) {
		return nil
	}
	if k < 1 {
		return b.fail(fmt.Errorf("model: max pool of size %d", k))
	}
	lanes := b.lanes[x] && k == 2
	if !lanes {
		x = b.plain(x)
	}
	y, err := maxPool(x, k, lanes)
	if err == nil {
		b.lanes[y] = lanes
	}
	return b.add(y, err, Layer{Name: fmt.Sprintf("maxpool%d", len(b.layers)), Kind: fmt.Sprintf("maxpool%d", k)}, Op{Kind: OpMaxPool, K: k}, x)
}

// GlobalAvgPool averages each channel of x [N,C,H,W] to y [N,C].
func (b *Builder) GlobalAvgPool(x *gorgonia.Node) *gorgonia.Node {
	if !b.ok(x) {
		return nil
	}
	x = b.plain(x)
	y, err := globalAvgPool(x)
	return b.add(y, err, Layer{Name: fmt.Sprintf("avgpool%d", len(b.layers)), Kind: "global avg pool"}, Op{Kind: OpAvgPool}, x)
}

// Flatten reshapes x [N,...] to [N, the product of the rest].
func (b *Builder) Flatten(x *gorgonia.Node) *gorgonia.Node {
	if !b.ok(x) {
		return nil
	}
	x = b.plain(x)
	s := x.Shape()
	y, err := gorgonia.Reshape(x, tensor.Shape{s[0], s.TotalSize() / s[0]})
	return b.add(y, err, Layer{Name: fmt.Sprintf("flatten%d", len(b.layers)), Kind: "flatten"}, Op{Kind: OpFlatten}, x)
}

// Dropout zeroes elements with probability p in the training graph (scaling the rest by
// 1/(1-p)); in the evaluation graph it is the identity.
func (b *Builder) Dropout(x *gorgonia.Node, p float64) *gorgonia.Node {
	if !b.ok(x) {
		return nil
	}
	if !(p >= 0 && p < 1) {
		return b.fail(fmt.Errorf("model: dropout probability %v outside [0, 1)", p))
	}
	if !b.train || p == 0 {
		return x
	}
	x = b.plain(x) // its masks are drawn in NCHW order
	y, err := dropout(x, p, b.seed^uint64(len(b.layers))<<32^uint64(b.replica)*0x9e3779b97f4a7c15, b.step)
	// in the training graph only: the evaluation graph, which Net.Ops records, has none
	return b.add(y, err, Layer{Name: fmt.Sprintf("dropout%d", len(b.layers)), Kind: fmt.Sprintf("dropout %.2g", p)}, Op{Kind: "dropout"}, x)
}

// Add is the residual sum x + y of two tensors of one shape.
func (b *Builder) Add(x, y *gorgonia.Node) *gorgonia.Node {
	if !b.ok(x, y) {
		return nil
	}
	if !x.Shape().Eq(y.Shape()) {
		return b.fail(fmt.Errorf("model: residual add of %v and %v", x.Shape(), y.Shape()))
	}
	if !b.lanes[x] || !b.lanes[y] {
		x, y = b.plain(x), b.plain(y)
	}
	z, err := add(x, y)
	if err == nil {
		b.lanes[z] = b.lanes[x] // elementwise: either layout, both alike
	}
	return b.add(z, err, Layer{Name: fmt.Sprintf("add%d", len(b.layers)), Kind: "residual add"}, Op{Kind: OpAdd}, x, y)
}

// Scale multiplies x by a constant, e.g. airbench's 1/8 on the logits.
func (b *Builder) Scale(x *gorgonia.Node, s float64) *gorgonia.Node {
	if !b.ok(x) {
		return nil
	}
	x = b.plain(x)
	y, err := gorgonia.Mul(x, gorgonia.NewConstant(float32(s)))
	return b.add(y, err, Layer{Name: fmt.Sprintf("scale%d", len(b.layers)), Kind: fmt.Sprintf("scale %g", s)}, Op{Kind: OpScale, Scale: s}, x)
}
