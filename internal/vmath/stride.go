package vmath

import "fmt"

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

// Deinterleave32 writes src's even elements to even and its odd ones to odd:
// even[i] = src[2i], odd[i] = src[2i+1] for i < len(even) = len(odd) (len(src) = 2*len(even)):
// the two phase planes of one row of an image, for a stride-2 convolution.
func Deinterleave32(even, odd, src []float32) {
	if len(odd) != len(even) || len(src) != 2*len(even) {
		panic(fmt.Sprintf("vmath: Deinterleave32 of %d elements into %d and %d", len(src), len(even), len(odd)))
	}
	deinterleave32(even, odd, src)
}

var deinterleave32 = deinterleave32Go

func deinterleave32Go(even, odd, src []float32) {
	for i := range even {
		even[i], odd[i] = src[2*i], src[2*i+1]
	}
}

// Interleave32 writes dst[2i] = even[i] and dst[2i+1] = odd[i] for i < len(even) = len(odd)
// (len(dst) = 2*len(even)): Deinterleave32 undone, a row of an image from its phase planes.
func Interleave32(dst, even, odd []float32) {
	if len(odd) != len(even) || len(dst) != 2*len(even) {
		panic(fmt.Sprintf("vmath: Interleave32 of %d and %d elements into %d", len(even), len(odd), len(dst)))
	}
	interleave32(dst, even, odd)
}

var interleave32 = interleave32Go

func interleave32Go(dst, even, odd []float32) {
	for i := range even {
		dst[2*i], dst[2*i+1] = even[i], odd[i]
	}
}
