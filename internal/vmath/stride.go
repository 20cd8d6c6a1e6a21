package vmath

// Decimate32 writes dst[i] = src[2i] for every i < len(dst): one row of a stride-2
// convolution's im2col. src needs 2*len(dst)-1 elements.
func Decimate32(dst, src []float32) {
	if len(dst) > 0 && len(src) < 2*len(dst)-1 {
		panic("vmath: Decimate32 source too short")
	}
	decimate32(dst, src)
}

// AddSpread32 adds src[i] to dst[2i] for every i < len(src): the adjoint of Decimate32, one
// row of a stride-2 convolution's col2im. dst needs 2*len(src)-1 elements.
func AddSpread32(dst, src []float32) {
	if len(src) > 0 && len(dst) < 2*len(src)-1 {
		panic("vmath: AddSpread32 destination too short")
	}
	addSpread32(dst, src)
}

var (
	decimate32  = decimate32Go
	addSpread32 = addSpread32Go
)

func decimate32Go(dst, src []float32) {
	for i := range dst {
		dst[i] = src[2*i]
	}
}

func addSpread32Go(dst, src []float32) {
	for i, v := range src {
		dst[2*i] += v
	}
}
