package graphop

import (
	"fmt"
	"unsafe"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/internal/vmath"
)

// Data returns the contiguous data of a dense tensor value, or an error naming what it is.
// It allocates nothing (tensor's own Data builds an interface through reflect every call).
func Data[T vmath.Float](v gorgonia.Value, what string) ([]T, error) {
	t, ok := v.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("%s is a %T, want a dense tensor", what, v)
	}
	if t.RequiresIterator() {
		return nil, fmt.Errorf("%s is a non-contiguous view; copy it first", what)
	}
	if t.Dtype() != dtypeOf[T]() {
		return nil, fmt.Errorf("%s has dtype %v, want %T", what, t.Dtype(), T(0))
	}
	return Slice[T](t), nil
}

// Slice returns the data of t, which holds T, without an allocation.
func Slice[T vmath.Float](t *tensor.Dense) []T {
	if t.Dtype() != dtypeOf[T]() {
		panic(fmt.Sprintf("graphop: a %v tensor read as %T", t.Dtype(), T(0)))
	}
	if _, f32 := any(T(0)).(float32); f32 {
		s := t.Float32s()
		return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
	}
	s := t.Float64s()
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

func dtypeOf[T vmath.Float]() tensor.Dtype {
	if _, f32 := any(T(0)).(float32); f32 {
		return tensor.Float32
	}
	return tensor.Float64
}

// Scalar returns v as a Gorgonia scalar of dtype T.
func Scalar[T vmath.Float](v float64) gorgonia.Value {
	if _, ok := any(T(0)).(float32); ok {
		return gorgonia.NewF32(float32(v))
	}
	return gorgonia.NewF64(v)
}

// Reused returns t if it has the given shape, else a new zeroed tensor of T with it. Ops
// write their outputs into the same tensor every step, so that a training step does not
// allocate (and clear) its intermediate arrays.
func Reused[T vmath.Float](t *tensor.Dense, shape ...int) *tensor.Dense {
	if t != nil && t.Shape().Eq(tensor.Shape(shape)) {
		return t
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(make([]T, n)))
}
