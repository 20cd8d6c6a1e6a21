package model

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/internal/graphop"
)

// inference runs the evaluation graph's layers (Net.Ops) by calling their kernels in
// order, without a Gorgonia machine: the same arithmetic as the machine's run, with
// neither its goroutine per run nor its allocations. Each kernel reuses its output tensor
// from one call to the next, and so does every slice here.
type inference struct {
	out    []gorgonia.Value   // each op's output
	in     [][]gorgonia.Value // each op's kernel inputs: earlier outputs and parameters
	from   [][]int            // and where each comes from: an op, -1 the images, -2 a parameter
	kernel []graphop.Kernel   // nil for flatten and scale, which are done here
	same   []bool             // the op's node is the one before's (a GELU fused into its BatchNorm)
}

// Infer runs the evaluation graph on the images bound to Eval.Input ([EvalBatch,3,32,32])
// and returns the logits [EvalBatch,K], valid until the next call. It gives what a
// machine running Eval.G gives, bit for bit, and allocates nothing once warm. It shares
// the evaluation graph's kernels: do not run it and a machine over Eval.G at once, nor two
// Infers on one Net, nor run it on a Net whose evaluation memory was planned (Net.Machine).
func (n *Net) Infer() ([]float32, error) {
	if n.infer == nil {
		inf, err := n.newInference()
		if err != nil {
			return nil, err
		}
		n.infer = inf
	}
	inf := n.infer
	for i, op := range n.Ops {
		if graphop.Planned(n.evalNodes[i]) {
			return nil, fmt.Errorf("model: %s: Infer cannot run an evaluation graph whose memory an Arena planned for a machine", n.Name)
		}
		if inf.same[i] { // the node ran for the op before
			inf.out[i] = inf.out[i-1]
			continue
		}
		in := inf.in[i]
		for j, src := range inf.from[i] {
			switch {
			case src == -1:
				in[j] = n.Eval.Input.Value()
			case src >= 0:
				in[j] = inf.out[src]
			}
		}
		var err error
		switch {
		case inf.kernel[i] != nil:
			inf.out[i], err = inf.kernel[i].Forward(in)
		case op.Kind == OpFlatten:
			inf.out[i], err = flattened(inf.out[i], in[0])
		case op.Kind == OpScale:
			inf.out[i], err = scaled(inf.out[i], in[0], float32(op.Scale))
		default:
			err = fmt.Errorf("model: %s: no way to run op %d (%s)", n.Name, i, op.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("model: %s: op %d (%s %s): %w", n.Name, i, op.Kind, op.Name, err)
		}
	}
	return graphop.Data[float32](inf.out[len(inf.out)-1], "logits")
}

// newInference finds each op's kernel and the sources of its inputs, in the order its
// node takes them: the layer's input (and a residual or a second summand), then the
// parameters its kernel reads (Builder passes weight, then bias).
func (n *Net) newInference() (*inference, error) {
	inf := &inference{out: make([]gorgonia.Value, len(n.Ops)), in: make([][]gorgonia.Value, len(n.Ops)),
		from: make([][]int, len(n.Ops)), kernel: make([]graphop.Kernel, len(n.Ops)), same: make([]bool, len(n.Ops))}
	for i, op := range n.Ops {
		if i > 0 && n.evalNodes[i] == n.evalNodes[i-1] {
			inf.same[i] = true
			continue
		}
		from := []int{op.Inputs[0]}
		var params []string
		switch op.Kind {
		case OpConv:
			params = []string{".weight"}
			if op.Bias {
				params = append(params, ".bias")
			}
		case OpLinear, OpBatchNorm:
			params = []string{".weight", ".bias"}
		}
		in := make([]gorgonia.Value, 0, len(op.Inputs)+len(params))
		in = append(in, nil)
		for _, suffix := range params {
			p := n.Params.Get(op.Name + suffix)
			if p == nil {
				return nil, fmt.Errorf("model: %s: op %d (%s) has no parameter %s", n.Name, i, op.Kind, op.Name+suffix)
			}
			in, from = append(in, p.T), append(from, -2)
		}
		for _, src := range op.Inputs[1:] { // a residual (after the parameters) or a second summand
			in, from = append(in, nil), append(from, src)
		}
		inf.in[i], inf.from[i] = in, from
		if k, ok := graphop.KernelOf(n.evalNodes[i]); ok {
			inf.kernel[i] = k
		} else if op.Kind != OpFlatten && op.Kind != OpScale {
			return nil, fmt.Errorf("model: %s: op %d (%s) has no kernel", n.Name, i, op.Kind)
		}
	}
	return inf, nil
}

// flattened returns x [N,...] as [N, the rest], sharing its data (prev when it already is).
func flattened(prev, x gorgonia.Value) (gorgonia.Value, error) {
	data, err := graphop.Data[float32](x, "flatten's input")
	if err != nil {
		return nil, err
	}
	s := x.Shape()
	if p, ok := prev.(*tensor.Dense); ok && len(data) > 0 && &graphop.Slice[float32](p)[0] == &data[0] {
		return p, nil
	}
	return tensor.New(tensor.WithShape(s[0], s.TotalSize()/s[0]), tensor.WithBacking(data)), nil
}

// scaled writes s*x into prev (or a new tensor of x's shape) and returns it.
func scaled(prev, x gorgonia.Value, s float32) (gorgonia.Value, error) {
	data, err := graphop.Data[float32](x, "scale's input")
	if err != nil {
		return nil, err
	}
	y, _ := prev.(*tensor.Dense)
	y = graphop.Reused[float32](y, x.Shape()...)
	out := graphop.Slice[float32](y)
	for i, v := range data {
		out[i] = v * s
	}
	return y, nil
}
