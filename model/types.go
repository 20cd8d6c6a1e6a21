package model

import (
	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
)

// Types of the layer ops: a is the float dtype.
var (
	typeA   = hm.TypeVariable('a')
	tensor4 = gorgonia.TensorType{Dims: 4, Of: typeA}
	matrixA = gorgonia.TensorType{Dims: 2, Of: typeA}
	vectorA = gorgonia.TensorType{Dims: 1, Of: typeA}
)
