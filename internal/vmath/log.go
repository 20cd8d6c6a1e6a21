package vmath

import "math"

// Log32 returns the natural logarithm of a positive, normal, finite x within about 1 ulp,
// by the Cephes logf method: x = f*2^e with f in [sqrt(1/2), sqrt(2)), log(f) by a degree-9
// polynomial in f-1, and e*ln2 added in two parts. The kernels use it on sums of
// exponentials, which lie in [1, K]; other inputs give unspecified results.
func Log32(x float32) float32 {
	const sqrtHalf = 0.70710678118654752440
	bits := math.Float32bits(x)
	e := float32(int32(bits>>23&0xff) - 126)
	f := math.Float32frombits(bits&0x807fffff | 0x3f000000) // in [0.5, 1)
	if f < sqrtHalf {
		e--
		f = f + f - 1
	} else {
		f--
	}
	z := f * f
	y := ((((((((7.0376836292e-2*f-1.1514610310e-1)*f+1.1676998740e-1)*f-1.2420140846e-1)*f+
		1.4249322787e-1)*f-1.6668057665e-1)*f+2.0000714765e-1)*f-2.4999993993e-1)*f + 3.3333331174e-1) * f * z
	y += ln2Lo * e
	y -= 0.5 * z
	return f + y + ln2Hi*e
}

// Logs32 writes dst[i] = Log32(x[i]) for x, dst [n], the same values as Log32.
func Logs32(dst, x []float32) {
	if len(dst) != len(x) {
		panic("vmath: Logs32 lengths differ")
	}
	logs32(dst, x)
}

var logs32 = logs32Go

func logs32Go(dst, x []float32) {
	for i, v := range x {
		dst[i] = Log32(v)
	}
}
