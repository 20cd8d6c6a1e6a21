package vmath

// ReLU32 writes dst[i] = max(x[i], 0) for x, dst [n]; a NaN stays NaN, as in PyTorch, so
// that the loss reports it.
func ReLU32(dst, x []float32) {
	if len(dst) != len(x) {
		panic("vmath: ReLU32 lengths differ")
	}
	relu32(dst, x)
}

// ReLUGrad32 writes dx[i] = dy[i] where y[i] > 0 and 0 elsewhere, for y, dy, dx [n].
func ReLUGrad32(dx, y, dy []float32) {
	if len(dx) != len(y) || len(dy) != len(y) {
		panic("vmath: ReLUGrad32 lengths differ")
	}
	reluGrad32(dx, y, dy)
}

var (
	relu32     = relu32Go
	reluGrad32 = reluGrad32Go
)

func relu32Go(dst, x []float32) {
	for i, v := range x {
		if v > 0 || v != v {
			dst[i] = v
		} else {
			dst[i] = 0
		}
	}
}

func reluGrad32Go(dx, y, dy []float32) {
	for i, v := range y {
		if v > 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
}
