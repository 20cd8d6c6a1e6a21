package vmath

// Affine32 writes dst[i] = x[i]*a + b for x, dst [n], the product rounded before the sum
// (no fused multiply-add, so that every build gives the same bits): BatchNorm's output
// from its folded scale and shift. dst may alias x.
func Affine32(dst, x []float32, a, b float32) {
	if len(dst) != len(x) {
		panic("vmath: Affine32 lengths differ")
	}
	affine32(dst, x, a, b)
}

var affine32 = affine32Go

func affine32Go(dst, x []float32, a, b float32) {
	for i, v := range x {
		dst[i] = float32(v*a) + b // the conversion keeps the compiler from fusing
	}
}
