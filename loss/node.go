package loss

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/internal/graphop"
)

// applyLoss adds the loss node k over inputs to their graph.
func applyLoss(k graphop.Kernel, inputs ...*gorgonia.Node) (*gorgonia.Node, error) {
	n, err := graphop.Apply(k, inputs...)
	if err != nil {
		return nil, fmt.Errorf("loss: %w", err)
	}
	return n, nil
}

// lossWRT is the DiffWRT of a loss: the gradient goes to the first input (logits) only.
var lossWRT = []bool{true, false}

// reducedType is the type of a loss's value: a vector [N] for None, else a scalar.
func reducedType(r Reduction) hm.Type {
	if r == None {
		return graphop.VectorA
	}
	return graphop.A
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
		return graphop.Scalar[T](loss)
	}
	out := make([]T, len(rows))
	for i, v := range rows {
		out[i] = T(v)
	}
	return tensor.New(tensor.WithShape(len(rows)), tensor.WithBacking(out))
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
	scratch = resized(scratch, len(d))
	for i, v := range d {
		if float64(v) != math.Trunc(float64(v)) {
			return nil, scratch, &InputError{Loss: "labels", Row: i, Col: -1, Value: float64(v), Err: ErrLabel}
		}
		scratch[i] = int(v)
	}
	return scratch, scratch, nil
}

// upstreamOf returns the upstream gradient: [1] for a scalar, else the tensor's data.
func upstreamOf[T Float](v gorgonia.Value, buf []T) ([]T, error) {
	switch g := v.(type) {
	case *gorgonia.F32:
		buf = resized(buf, 1)
		buf[0] = T(*g)
		return buf, nil
	case *gorgonia.F64:
		buf = resized(buf, 1)
		buf[0] = T(*g)
		return buf, nil
	}
	return graphop.Data[T](v, "upstream gradient")
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

func nodeShape(x *gorgonia.Node) string {
	if x == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%v of shape %v", x.Name(), x.Shape())
}
