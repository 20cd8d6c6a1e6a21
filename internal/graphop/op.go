// Package graphop turns a kernel with a forward and a backward into Gorgonia graph nodes:
// one node for the forward and, for each input that gets a gradient, one node computing
// that gradient. The losses in loss/ and the layers in model/ are built on it.
package graphop

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// A Kernel is what one node computes.
type Kernel interface {
	// String names the op and encodes every field that changes its result: it is the
	// node's hash, and Gorgonia merges nodes with equal hashes.
	String() string
	// Types gives the types of the inputs and of the value.
	Types() (in []hm.Type, out hm.Type)
	// Shape gives the value's shape from the inputs'.
	Shape(in []tensor.Shape) (tensor.Shape, error)
	// Forward computes the value.
	Forward(in []gorgonia.Value) (gorgonia.Value, error)
	// DiffWRT says which inputs get a gradient.
	DiffWRT() []bool
	// Backward returns the gradient with respect to input wrt, given the inputs, the
	// forward's value and the upstream gradient. It runs after Forward in the same pass,
	// so it may use what Forward kept.
	Backward(wrt int, in []gorgonia.Value, out, grad gorgonia.Value) (gorgonia.Value, error)
}

// Apply adds a node computing k over inputs to their graph.
func Apply(k Kernel, inputs ...*gorgonia.Node) (*gorgonia.Node, error) {
	n, err := gorgonia.ApplyOp(fwdOp{k, new(*planned)}, inputs...)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", k, err)
	}
	return n, nil
}

// KernelOf returns the kernel of a forward node made by Apply, or false for another node:
// a kernel can then be run without a Gorgonia machine (model's Net.Infer does).
func KernelOf(n *gorgonia.Node) (Kernel, bool) {
	op, ok := n.Op().(fwdOp)
	return op.k, ok
}

// Planned reports whether an Arena planned the memory of a kernel node for a machine: its
// kernel then runs only on that machine, in its order.
func Planned(n *gorgonia.Node) bool {
	switch op := n.Op().(type) {
	case fwdOp:
		return *op.plan != nil
	case bwdOp:
		return *op.plan != nil
	}
	return false
}

// fwdOp is a kernel's forward node. The gradient node for input i is a bwdOp over the same
// inputs, the forward's output (so that the forward runs first) and the upstream gradient.
// plan is the node's part in an Arena's plan, set by Plan (the op is held by value).
type fwdOp struct {
	k    Kernel
	plan **planned
}

type bwdOp struct {
	k    Kernel
	wrt  int
	plan **planned
}

func (op fwdOp) Arity() int { in, _ := op.k.Types(); return len(in) }
func (op fwdOp) Type() hm.Type {
	in, out := op.k.Types()
	return hm.NewFnType(append(append([]hm.Type{}, in...), out)...)
}
func (op fwdOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.k.Shape(shapesOf(in))
}
func (op fwdOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if err := (*op.plan).enter(true); err != nil {
		return nil, err
	}
	return op.k.Forward(in)
}
func (op fwdOp) ReturnsPtr() bool      { return false }
func (op fwdOp) CallsExtern() bool     { return false }
func (op fwdOp) OverwritesInput() int  { return -1 }
func (op fwdOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op fwdOp) Hashcode() uint32      { return hashOf(op) }
func (op fwdOp) String() string        { return op.k.String() }
func (op fwdOp) DiffWRT(int) []bool    { return op.k.DiffWRT() }

func (op fwdOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	diffs := make(gorgonia.Nodes, len(inputs))
	args := append(append(gorgonia.Nodes{}, inputs...), output, grad)
	for i, d := range op.k.DiffWRT() {
		if !d {
			continue
		}
		n, err := gorgonia.ApplyOp(bwdOp{op.k, i, new(*planned)}, args...)
		if err != nil {
			return nil, fmt.Errorf("gradient of %v for input %d: %w", op.k, i, err)
		}
		diffs[i] = n
	}
	return diffs, nil
}

func (op bwdOp) Arity() int { in, _ := op.k.Types(); return len(in) + 2 }
func (op bwdOp) Type() hm.Type {
	in, out := op.k.Types()
	return hm.NewFnType(append(append([]hm.Type{}, in...), out, out, in[op.wrt])...)
}
func (op bwdOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return shapesOf(in)[op.wrt].Clone(), nil
}
func (op bwdOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if err := (*op.plan).enter(false); err != nil {
		return nil, err
	}
	n := len(in) - 2
	return op.k.Backward(op.wrt, in[:n], in[n], in[n+1])
}
func (op bwdOp) ReturnsPtr() bool      { return false }
func (op bwdOp) CallsExtern() bool     { return false }
func (op bwdOp) OverwritesInput() int  { return -1 }
func (op bwdOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op bwdOp) Hashcode() uint32      { return hashOf(op) }
func (op bwdOp) String() string        { return fmt.Sprintf("d/d%d %v", op.wrt, op.k) }

func hashOf(op gorgonia.Op) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

func shapesOf(in []gorgonia.DimSizer) []tensor.Shape {
	s := make([]tensor.Shape, len(in))
	for i, d := range in {
		if sh, ok := d.(tensor.Shape); ok {
			s[i] = sh
		}
	}
	return s
}

var (
	_ gorgonia.SDOp = fwdOp{}
	_ gorgonia.Op   = bwdOp{}
)
