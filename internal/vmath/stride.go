package vmath

// AddSpread32 adds src[i] to dst[2i] for every i < len(src): one row of a stride-2
// convolution's col2im. dst needs 2*len(src)-1 elements.
func AddSpread32(dst, src []float32) {
	if len(src) > 0 && len(dst) < 2*len(src)-1 {
		panic("vmath: AddSpread32 destination too short")
	}
	addSpread32(dst, src)
}

var addSpread32 = addSpread32Go

func addSpread32Go(dst, src []float32) {
	for i, v := range src {
		dst[2*i] += v
	}
}
