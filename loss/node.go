package loss

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// A nodeKernel is what one loss node computes: a value from its inputs, and the gradient
// with respect to its first input. The Gorgonia plumbing below is shared by every loss.
type nodeKernel interface {
	// String names the loss and encodes every option: it is the node's hash.
	String() string
	// types gives the types of the inputs and of the value.
	types() (in []hm.Type, out hm.Type)
	shape(in []tensor.Shape) (tensor.Shape, error)
	forward(in []gorgonia.Value) (gorgonia.Value, error)
	// backward gets the forward's inputs and the upstream gradient, and runs after forward.
	backward(in []gorgonia.Value, grad gorgonia.Value) (gorgonia.Value, error)
}

// fwdOp is a loss node. Its gradient node is a bwdOp over the same inputs, the output (so
// that the forward, whose row statistics the backward reuses, runs first) and the upstream
// gradient.
type fwdOp struct{ k nodeKernel }

type bwdOp struct{ k nodeKernel }

// applyLoss adds the loss node k over inputs to their graph.
func applyLoss(k nodeKernel, inputs ...*gorgonia.Node) (*gorgonia.Node, error) {
	n, err := gorgonia.ApplyOp(fwdOp{k}, inputs...)
	if err != nil {
		return nil, fmt.Errorf("loss: %v: %w", k, err)
	}
	return n, nil
}

func (op fwdOp) Arity() int { in, _ := op.k.types(); return len(in) }
func (op fwdOp) Type() hm.Type {
	in, out := op.k.types()
	return hm.NewFnType(append(append([]hm.Type{}, in...), out)...)
}
func (op fwdOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.k.shape(shapesOf(in))
}
func (op fwdOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return op.k.forward(in) }
func (op fwdOp) ReturnsPtr() bool                                { return false }
func (op fwdOp) CallsExtern() bool                               { return false }
func (op fwdOp) OverwritesInput() int                            { return -1 }
func (op fwdOp) WriteHash(h hash.Hash)                           { fmt.Fprint(h, op.String()) }
func (op fwdOp) Hashcode() uint32                                { return hashOf(op) }
func (op fwdOp) String() string                                  { return op.k.String() }

func (op fwdOp) DiffWRT(inputs int) []bool {
	d := make([]bool, inputs)
	d[0] = true
	return d
}

func (op fwdOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	args := append(append(gorgonia.Nodes{}, inputs...), output, grad)
	d, err := gorgonia.ApplyOp(bwdOp(op), args...)
	if err != nil {
		return nil, fmt.Errorf("loss: gradient of %v: %w", op.k, err)
	}
	diffs := make(gorgonia.Nodes, len(inputs))
	diffs[0] = d
	return diffs, nil
}

func (op bwdOp) Arity() int { in, _ := op.k.types(); return len(in) + 2 }
func (op bwdOp) Type() hm.Type {
	in, out := op.k.types()
	return hm.NewFnType(append(append([]hm.Type{}, in...), out, out, in[0])...)
}
func (op bwdOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return shapesOf(in[:1])[0].Clone(), nil
}
func (op bwdOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	return op.k.backward(in[:len(in)-2], in[len(in)-1])
}
func (op bwdOp) ReturnsPtr() bool      { return false }
func (op bwdOp) CallsExtern() bool     { return false }
func (op bwdOp) OverwritesInput() int  { return -1 }
func (op bwdOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op bwdOp) Hashcode() uint32      { return hashOf(op) }
func (op bwdOp) String() string        { return "d/dx " + op.k.String() }

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

// Types of loss nodes: a is the float dtype of the logits, l that of the labels.
var (
	typeA   = hm.TypeVariable('a')
	typeL   = hm.TypeVariable('l')
	matrixA = gorgonia.TensorType{Dims: 2, Of: typeA}
	vectorA = gorgonia.TensorType{Dims: 1, Of: typeA}
	vectorL = gorgonia.TensorType{Dims: 1, Of: typeL}
)

// reducedType is the type of a loss's value: a vector [N] for None, else a scalar.
func reducedType(r Reduction) hm.Type {
	if r == None {
		return vectorA
	}
	return typeA
}

// reducedShape is the shape of a loss's value over n rows.
func reducedShape(r Reduction, n int) tensor.Shape {
	if r == None {
		return tensor.Shape{n}
	}
	return tensor.ScalarShape()
}

// reducedValue returns a loss's value: the scalar loss, or the row losses for None.
func reducedValue[T Float](r Reduction, loss float64, rows []float64) gorgonia.Value {
	if r != None {
		return scalar[T](loss)
	}
	out := make([]T, len(rows))
	for i, v := range rows {
		out[i] = T(v)
	}
	return tensor.New(tensor.WithShape(len(rows)), tensor.WithBacking(out))
}

// dense returns the contiguous data of a tensor value, or an error naming what it is.
func dense[T Float](v gorgonia.Value, what string) ([]T, error) {
	t, ok := v.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("loss: %s is a %T, want a dense tensor", what, v)
	}
	if t.RequiresIterator() {
		return nil, fmt.Errorf("loss: %s is a non-contiguous view; copy it first", what)
	}
	d, ok := t.Data().([]T)
	if !ok {
		return nil, fmt.Errorf("loss: %s has dtype %v, want %T", what, t.Dtype(), T(0))
	}
	return d, nil
}

// labelsOf returns the labels in v [N] as ints, converting into scratch unless v holds ints.
// Float labels must be whole numbers.
func labelsOf(v gorgonia.Value, scratch []int) ([]int, []int, error) {
	t, ok := v.(*tensor.Dense)
	if !ok || t.RequiresIterator() {
		return nil, scratch, fmt.Errorf("loss: labels are a %T, want a contiguous dense tensor", v)
	}
	switch d := t.Data().(type) {
	case []int:
		return d, scratch, nil
	case []int32:
		return convertLabels(d, scratch)
	case []int64:
		return convertLabels(d, scratch)
	case []float32:
		return convertLabels(d, scratch)
	case []float64:
		return convertLabels(d, scratch)
	}
	return nil, scratch, fmt.Errorf("loss: labels have dtype %v, want an integer or float dtype", t.Dtype())
}

func convertLabels[E int32 | int64 | float32 | float64](d []E, scratch []int) ([]int, []int, error) {
	scratch = grow(scratch, len(d))
	for i, v := range d {
		if float64(v) != math.Trunc(float64(v)) {
			return nil, scratch, &InputError{Loss: "labels", Row: i, Col: -1, Value: float64(v), Err: ErrLabel}
		}
		scratch[i] = int(v)
	}
	return scratch, scratch, nil
}

// scalar returns v as a Gorgonia scalar of dtype T.
func scalar[T Float](v float64) gorgonia.Value {
	if _, ok := any(T(0)).(float32); ok {
		return gorgonia.NewF32(float32(v))
	}
	return gorgonia.NewF64(v)
}

// upstreamOf returns the upstream gradient: [1] for a scalar, else the tensor's data.
func upstreamOf[T Float](v gorgonia.Value, buf []T) ([]T, error) {
	switch g := v.(type) {
	case *gorgonia.F32:
		buf = grow(buf, 1)
		buf[0] = T(*g)
		return buf, nil
	case *gorgonia.F64:
		buf = grow(buf, 1)
		buf[0] = T(*g)
		return buf, nil
	}
	return dense[T](v, "upstream gradient")
}

// reusedMatrix returns t, or a new [n,k] tensor of T if t does not have that shape. Loss
// gradients are written into the same tensor every step, so that a training step does not
// allocate (and clear) an [N,K] array.
func reusedMatrix[T Float](t *tensor.Dense, n, k int) *tensor.Dense {
	if t != nil && t.Shape().Eq(tensor.Shape{n, k}) {
		return t
	}
	return tensor.New(tensor.WithShape(n, k), tensor.WithBacking(make([]T, n*k)))
}

// checkFloatNode checks that x is a float32 or float64 node with the given number of dims.
func checkFloatNode(x *gorgonia.Node, what string, dims int) error {
	if x == nil {
		return fmt.Errorf("loss: %s is nil", what)
	}
	if dt := x.Dtype(); dt != tensor.Float32 && dt != tensor.Float64 {
		return fmt.Errorf("loss: %s %v has dtype %v, want float32 or float64", what, x.Name(), dt)
	}
	if x.Shape().Dims() != dims {
		return fmt.Errorf("loss: %s %v has shape %v, want %d dims: %w", what, x.Name(), x.Shape(), dims, ErrShape)
	}
	return nil
}

var (
	_ gorgonia.SDOp = fwdOp{}
	_ gorgonia.Op   = bwdOp{}
)

func nodeShape(x *gorgonia.Node) string {
	if x == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%v of shape %v", x.Name(), x.Shape())
}
