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

// A convAlgorithm computes a convolution of geometry g over plain NCHW slices, the whole
// batch in each call, split across cores as it sees fit (x [N,C,H,W], w [F,C,KH,KW],
// y and dy [N,F,HO,WO]). Each algorithm is a file: gemmConv (im2col and GEMM, any
// geometry), thinConv (the forward of convolutions with few taps), directConv (package
// conv3's 3x3 kernels), winogradConv (package winograd's
// F(4x4, 3x3) for wide stride-1 3x3 convolutions). planConv chooses among them.
type convAlgorithm[T vmath.Float] interface {
	// Forward writes y = e(conv(x, w)): plus the bias, plus the residual, then the ReLU,
	// each if e has it.
	Forward(g *convGeom, y, x, w []T, e epilogue[T])
	// InputGrad writes dx [N,C,H,W] from dy and w.
	InputGrad(g *convGeom, dx, dy, w []T)
	// WeightGrad writes dw [F,C,KH,KW] = sum over the images of dy_n x im2col(x_n)^T, in
	// dwGroups fixed groups whatever the number of cores.
	WeightGrad(g *convGeom, dw, dy, x []T)
}

// epilogue is what a convolution's forward finishes its output with, in its own pass:
// y = ReLU(conv + bias + add), each part optional.
type epilogue[T vmath.Float] struct {
	bias []T // [F], or nil
	add  []T // [N,F,HO,WO], the residual, or nil
	relu bool
}

// finish adds the residual to y[lo:hi] and applies the ReLU, the bias being in already.
func (e epilogue[T]) finish(y []T, lo, hi int) {
	out := y[lo:hi]
	if e.add != nil {
		for i, v := range e.add[lo:hi] {
			out[i] += v
		}
	}
	if e.relu {
		reluInto(out, out)
	}
}

// convPlan is the algorithms a geometry's convolution runs: each of the forward, dx and dw
// by the fastest that applies. The one place that chooses (measured: conv3's kernels run
// at 2-3x the GEMM path where they apply; Winograd's y at 1.4-2.6x conv3's on airbench's
// 64-256-channel 15x15 and 7x7 layers, BenchmarkPhases in internal/winograd; see the README).
type convPlan[T vmath.Float] struct {
	shape                         convGeom // per image (perImage)
	forward, inputGrad, weightGrd convAlgorithm[T]
	direct                        *directConv // when it runs the forward: the fused backward's
}

// planConv returns the plan for geometry g: prev if it was made for the same one but for
// the batch size (plans and packed weights are per image).
func planConv[T vmath.Float](prev *convPlan[T], g *convGeom) (*convPlan[T], error) {
	if prev != nil && prev.shape == g.perImage() {
		return prev, nil
	}
	gemm := &gemmConv[T]{}
	p := &convPlan[T]{shape: g.perImage(), forward: gemm, inputGrad: gemm, weightGrd: gemm}
	if thin := thinFor(g, gemm); thin != nil {
		p.forward = thin
	}
	d, err := directFor[T](g)
	if err != nil || d == nil {
		return p, err
	}
	direct := any(d).(convAlgorithm[T])
	p.forward, p.inputGrad, p.direct = direct, direct, d
	if d.grad {
		p.weightGrd = direct
	}
	wc, err := winogradFor(g, d)
	if err != nil || wc == nil {
		return p, err
	}
	wino := any(wc).(convAlgorithm[T])
	p.forward, p.inputGrad, p.weightGrd = wino, wino, wino
	return p, nil
}

// convNode is a convolution's graph node: x [N,C,H,W] * w [F,C,KH,KW] (+ b [F]) -> y
// [N,F,HO,WO], finished in the same pass as y = ReLU(conv + b + r) for a residual r and a
// fused ReLU (each optional). It binds Gorgonia's values to slices and runs its plan's
// algorithms; the backward starts from dy * [y > 0], which is also r's gradient, made
// once a step for the gradient nodes (graphop.Step), and with dw and dx in one pass
// (FusedBackward) where the direct kernels run them both.
type convNode[T vmath.Float] struct {
	stride, pad int
	noBias      bool
	residual    bool        // a last input r [N,F,HO,WO] is added to the output
	relu        bool        // the output is max(., 0) of the sum
	lanes       bool        // x, y and their gradients are in the lanes layout (lanes.go): Winograd only
	dxNeeded    func() bool // nil, or whether dx is needed this step (else it is zero: Param.Frozen)
	plan        *convPlan[T]
	step        graphop.Step

	// this step's
	g              convGeom
	x, w, b, r, y  []T
	dy             []T       // the output gradient; through the ReLU once masked
	dym            []T       // dy * [y > 0] (with the ReLU, outside the fused backward)
	dr             []T       // the residual's gradient
	dbParts        []float64 // [N,F]: each plane's sum of dy
	dbSum          []float64 // [F]: db before its rounding to T
	fused, fusedDX bool      // this step's dw (and dx) came from the fused backward
	pass           convPass

	yTensor, dxTensor, dwTensor, dbTensor, drTensor *tensor.Dense // the values it returns, reused every step
}

// The node's own passes (the algorithms run theirs), and what their rows are.
type convPass int

const (
	convMask convPass = iota // images: dy through the ReLU, with db's plane sums and dr
	convDB                   // images: db's plane sums of dy
)

// conv2d adds a convolution node: x [N,C,H,W], w [F,C,KH,KW], b [F] or nil for none.
func conv2d(x, w, b *gorgonia.Node, stride, pad int) (*gorgonia.Node, error) {
	return convFused(x, w, b, nil, stride, pad, false)
}

// convFused adds a convolution node whose output is finished in its own pass: plus r
// [N,F,HO,WO] unless nil (a residual), then max(., 0) if relu.
func convFused(x, w, b, r *gorgonia.Node, stride, pad int, relu bool) (*gorgonia.Node, error) {
	var k graphop.Kernel
	if x.Dtype() == tensor.Float64 {
		k = &convNode[float64]{stride: stride, pad: pad, noBias: b == nil, residual: r != nil, relu: relu}
	} else {
		k = &convNode[float32]{stride: stride, pad: pad, noBias: b == nil, residual: r != nil, relu: relu}
	}
	in := []*gorgonia.Node{x, w}
	if b != nil {
		in = append(in, b)
	}
	if r != nil {
		in = append(in, r)
	}
	return graphop.Apply(k, in...)
}

// convLanes adds a convolution node without bias, residual or ReLU whose x and y are in
// the lanes layout: float32, run by Winograd (Builder.lanesConv checks that it applies).
func convLanes(x, w *gorgonia.Node, stride, pad int) (*gorgonia.Node, error) {
	return graphop.Apply(&convNode[float32]{stride: stride, pad: pad, noBias: true, lanes: true}, x, w)
}

// gateInputGrad makes dx zero, without computing it, on the steps where needed says it is
// not needed (Builder.gradientNeeded).
func (k *convNode[T]) gateInputGrad(needed func() bool) { k.dxNeeded = needed }

// needDX reports whether this step computes dx.
func (k *convNode[T]) needDX() bool { return k.dxNeeded == nil || k.dxNeeded() }

func (k *convNode[T]) String() string {
	return fmt.Sprintf("xent.Conv2d{stride=%d pad=%d nobias=%v residual=%v relu=%v lanes=%v}", k.stride, k.pad, k.noBias, k.residual, k.relu, k.lanes)
}

func (k *convNode[T]) Types() ([]hm.Type, hm.Type) {
	in := []hm.Type{graphop.Tensor4A, graphop.Tensor4A}
	if !k.noBias {
		in = append(in, graphop.VectorA)
	}
	if k.residual {
		in = append(in, graphop.Tensor4A)
	}
	return in, graphop.Tensor4A
}

func (k *convNode[T]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	g, err := newConvGeom(in[0], in[1], k.stride, k.pad)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{g.n, g.f, g.ho, g.wo}, nil
}

func (k *convNode[T]) DiffWRT() []bool {
	in, _ := k.Types()
	d := make([]bool, len(in))
	for i := range d {
		d[i] = true
	}
	return d
}

// Outputs gives y, dx and the residual's gradient to an Arena; dw and db stay the node's.
func (k *convNode[T]) Outputs() []**tensor.Dense {
	in, _ := k.Types()
	out := make([]**tensor.Dense, 1+len(in))
	out[0], out[1] = &k.yTensor, &k.dxTensor
	if k.residual {
		out[1+k.residualInput()] = &k.drTensor
	}
	return out
}

// residualInput is the residual's index among the inputs.
func (k *convNode[T]) residualInput() int {
	if k.noBias {
		return 2
	}
	return 3
}

// bind reads the inputs (and, for a backward pass, the upstream gradient) and finds the
// geometry's plan.
func (k *convNode[T]) bind(in []gorgonia.Value, grad gorgonia.Value) (err error) {
	if k.g, err = newConvGeom(in[0].Shape(), in[1].Shape(), k.stride, k.pad); err != nil {
		return err
	}
	if k.plan, err = planConv(k.plan, &k.g); err != nil {
		return err
	}
	if k.lanes {
		wc, ok := any(k.plan.forward).(*winogradConv)
		if !ok || !wc.lanesOK() {
			return fmt.Errorf("conv of %v in the lanes layout: Winograd does not run it", in[0].Shape())
		}
		wc.lanes = true
	}
	if k.x, err = graphop.Data[T](in[0], "conv input"); err != nil {
		return err
	}
	if k.w, err = graphop.Data[T](in[1], "conv weight"); err != nil {
		return err
	}
	k.b = nil
	if !k.noBias {
		if k.b, err = graphop.Data[T](in[2], "conv bias"); err != nil {
			return err
		}
	}
	k.r = nil
	if k.residual {
		if k.r, err = graphop.Data[T](in[k.residualInput()], "conv residual"); err != nil {
			return err
		}
		if len(k.r) != k.g.n*k.g.o {
			return fmt.Errorf("conv residual of %d values for an output of %d", len(k.r), k.g.n*k.g.o)
		}
	}
	if grad != nil {
		k.dy, err = graphop.Data[T](grad, "conv output gradient")
	}
	return err
}

func (k *convNode[T]) Forward(in []gorgonia.Value) (gorgonia.Value, error) {
	if err := k.bind(in, nil); err != nil {
		return nil, err
	}
	g := &k.g
	k.yTensor = graphop.Reused[T](k.yTensor, g.n, g.f, g.ho, g.wo)
	k.y = graphop.Slice[T](k.yTensor)
	k.step.Forward()
	k.plan.forward.Forward(g, k.y, k.x, k.w, epilogue[T]{bias: k.b, add: k.r, relu: k.relu})
	return k.yTensor, nil
}

func (k *convNode[T]) Backward(wrt int, in []gorgonia.Value, _, grad gorgonia.Value) (gorgonia.Value, error) {
	if err := k.bind(in, grad); err != nil {
		return nil, err
	}
	first := k.step.Backward(wrt)
	if k.relu || k.residual {
		if first { // dy through the ReLU, once for the step's gradient nodes
			k.maskOutputGrad()
		}
		if k.relu {
			k.dy = k.dym
		}
		switch {
		case k.residual && wrt == k.residualInput():
			return k.drTensor, nil
		case k.fusedDX && wrt == 0:
			return k.dxTensor, nil
		case k.fused && wrt == 1:
			return k.dwTensor, nil
		}
	}
	g := &k.g
	switch wrt {
	case 0:
		k.dxTensor = graphop.Reused[T](k.dxTensor, g.n, g.c, g.h, g.w)
		if !k.needDX() {
			clear(graphop.Slice[T](k.dxTensor))
			return k.dxTensor, nil
		}
		k.plan.inputGrad.InputGrad(g, graphop.Slice[T](k.dxTensor), k.dy, k.w)
		return k.dxTensor, nil
	case 1:
		k.dwTensor = graphop.Reused[T](k.dwTensor, g.f, g.c, g.kh, g.kw)
		k.plan.weightGrd.WeightGrad(g, graphop.Slice[T](k.dwTensor), k.dy, k.x)
		return k.dwTensor, nil
	}
	return k.biasGrad(), nil
}

// maskOutputGrad starts the backward of a convolution with a fused ReLU or residual: dy
// through the ReLU, the residual's gradient (the same) and the planes' sums for db. Where
// the direct kernels run dw, and dx if the last step asked for it (the graph asks the same
// every step), it is all one fused pass with them; else a pass of its own.
func (k *convNode[T]) maskOutputGrad() {
	g := &k.g
	if k.residual {
		k.drTensor = graphop.Reused[T](k.drTensor, g.n, g.f, g.ho, g.wo)
		k.dr = graphop.Slice[T](k.drTensor)
	}
	if !k.noBias {
		k.dbParts = sized(k.dbParts, g.n*g.f)
	}
	d := k.plan.direct
	k.fused = d != nil && d.grad && k.step.Wanted(1)
	k.fusedDX = k.fused && k.step.Wanted(0) && k.needDX()
	if k.fused {
		k.dym = nil // the separate pass's buffer, which the first step needed
		k.dwTensor = graphop.Reused[T](k.dwTensor, g.f, g.c, g.kh, g.kw)
		var dx []float32
		if k.fusedDX {
			k.dxTensor = graphop.Reused[T](k.dxTensor, g.n, g.c, g.h, g.w)
			dx = graphop.Slice[float32](k.dxTensor)
		}
		d.FusedBackward(g, dx, graphop.Slice[float32](k.dwTensor), any(k.x).([]float32), any(k.w).([]float32), any(k).(imageMasker))
		return
	}
	if k.relu && len(k.dym) != len(k.dy) {
		k.dym = make([]T, len(k.dy))
	}
	k.pass = convMask
	parallel.For(g.n, 1, k)
}

// biasGrad returns db [F] = the sum of dy over images and pixels: from the planes' sums of
// the mask pass when there was one (image by image, in order), else a pass over dy.
func (k *convNode[T]) biasGrad() *tensor.Dense {
	g := &k.g
	k.dbTensor = graphop.Reused[T](k.dbTensor, g.f)
	if !k.relu && !k.residual { // else the mask pass made the planes' sums
		k.dbParts = sized(k.dbParts, g.n*g.f)
		k.pass = convDB
		parallel.For(g.n, 1, k)
	}
	k.dbSum = sized(k.dbSum, g.f)
	columnTotals(k.dbSum, k.dbParts, g.n)
	db := graphop.Slice[T](k.dbTensor)
	for f, v := range k.dbSum {
		db[f] = T(v)
	}
	return k.dbTensor
}

// Run does rows [lo, hi) of the node's pass; parallel.For calls it.
func (k *convNode[T]) Run(lo, hi int) {
	g := &k.g
	switch k.pass {
	case convMask:
		for n := lo; n < hi; n++ { // an image at a time, so that the sums read it from cache
			dst := k.dy[n*g.o : (n+1)*g.o]
			if k.relu {
				dst = k.dym[n*g.o : (n+1)*g.o]
			}
			k.maskImage(n, dst)
		}
	case convDB: // an image at a time (in memory order), each plane's sum of dy for db
		for n := lo; n < hi; n++ {
			for f := range g.f {
				k.dbParts[n*g.f+f] = planeSum(k.dy[n*g.o+f*g.hw:][:g.hw])
			}
		}
	}
}

// maskImage writes image n's dy through the ReLU (if any) to dst [F,HO,WO] (which may be dy
// itself without one), copies it to the residual's gradient and sums its planes for db.
func (k *convNode[T]) maskImage(n int, dst []T) {
	g := &k.g
	lo, hi := n*g.o, (n+1)*g.o
	if k.relu {
		reluGrad(dst, k.y[lo:hi], k.dy[lo:hi])
	} else if &dst[0] != &k.dy[lo] {
		copy(dst, k.dy[lo:hi])
	}
	if k.residual {
		copy(k.dr[lo:hi], dst)
	}
	if !k.noBias {
		for f := range g.f {
			k.dbParts[n*g.f+f] = planeSum(dst[f*g.hw : (f+1)*g.hw])
		}
	}
}
