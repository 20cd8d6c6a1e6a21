package graphop

import (
	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
)

// The types that ops' Types are made of. A is the float dtype of an op's data; L is that
// of labels, which may be ints or floats (hm's 'b' is taken by the result type).
var (
	A        = hm.TypeVariable('a')
	L        = hm.TypeVariable('l')
	VectorA  = gorgonia.TensorType{Dims: 1, Of: A}
	MatrixA  = gorgonia.TensorType{Dims: 2, Of: A}
	Tensor4A = gorgonia.TensorType{Dims: 4, Of: A}
	VectorL  = gorgonia.TensorType{Dims: 1, Of: L}
)
