// Package vmath holds the float32 vector kernels that the losses run per row: the row max,
// the sum of exp(x-m), and the scaled exponential exp(x-m)*a+b. Each has a pure-Go
// version that every build has, and vector versions built with GOEXPERIMENT=simd on amd64:
// AVX-512 where the processor has it, else AVX2 (with FMA) for the kernels that have one.
package vmath

import "math"

// The exponential is evaluated as exp(x) = 2^n * exp(r), n = round(x/ln2), r = x - n*ln2,
// with ln2 split in two so that n*ln2Hi is exact, and exp(r) on |r| <= ln2/2 by the
// Cephes expf polynomial (error about 1 ulp in float32).
const (
	log2e  = 1.44269504088896341
	ln2Hi  = 0.693359375
	ln2Lo  = -2.12194440e-4
	expP0  = 1.9875691500e-4
	expP1  = 1.3981999507e-3
	expP2  = 8.3334519073e-3
	expP3  = 4.1665795894e-2
	expP4  = 1.6666665459e-1
	expP5  = 5.0000001201e-1
	expMin = -104     // exp(-104) < 2^-150: rounds to 0 in float32
	expMax = 88.72283 // above this exp overflows float32
	// roundMagic = 1.5*2^23: adding and subtracting it rounds a float32 below 2^22 to an integer.
	roundMagic = 12582912
)

// Exp32 returns e^x in float32 within about 2 ulp of the exact value: 0 below -104 (and
// for -Inf), +Inf above 88.72, NaN for NaN.
func Exp32(x float32) float32 {
	switch {
	case x != x:
		return x
	case x < expMin:
		return 0
	case x > expMax:
		return float32(math.Inf(1))
	}
	n := (x*log2e + roundMagic) - roundMagic
	r := x - n*ln2Hi - n*ln2Lo
	p := ((((expP0*r+expP1)*r+expP2)*r+expP3)*r+expP4)*r + expP5
	p = p*r*r + r + 1
	return ldexp32(p, int32(n))
}

// ldexp32 returns p * 2^n for p in [0.5, 2] and n in [-151, 128].
func ldexp32(p float32, n int32) float32 {
	if n < -126 { // the result is subnormal: scale in two steps
		return p * math.Float32frombits(uint32(n+126+127)<<23) * 0x1p-126
	}
	if n > 127 {
		return p * 2 * math.Float32frombits(uint32(n-1+127)<<23)
	}
	return p * math.Float32frombits(uint32(n+127)<<23)
}

// MaxSumExp32 returns, for x [n] with n >= 1, m = max_i x_i and the sums
// s = sum_i exp(x_i - m) and t = sum_i (x_i - m), the statistics of a stable log-sum-exp:
// log sum_i exp(x_i) = m + log s. Every term of s is in (0, 1], so 1 <= s <= n. A NaN or an
// infinity in x makes t non-finite (or m infinite), which is how callers detect bad rows.
func MaxSumExp32(x []float32) (m float32, s, t float64) { return maxSumExp32(x) }

// ExpAffine32 writes dst_i = exp(x_i - m)*a + b for x, dst [n]. dst may alias x.
func ExpAffine32(dst, x []float32, m, a, b float32) {
	if len(dst) != len(x) {
		panic("vmath: ExpAffine32 lengths differ")
	}
	expAffine32(dst, x, m, a, b)
}

// SIMD reports whether vector kernels (AVX-512 or AVX2) are in use.
func SIMD() bool { return kernels != "go" }

// Kernels names the kernels in use: "avx512", "avx2" or "go".
func Kernels() string { return kernels }

// The kernels in use; the simd build replaces them in init when the processor allows.
var (
	kernels     = "go"
	maxSumExp32 = maxSumExp32Go
	expAffine32 = expAffine32Go
)

func maxSumExp32Go(x []float32) (float32, float64, float64) {
	m := max32Go(x)
	s, t := sumExp32Go(x, m)
	return m, s, t
}

// max32Go returns the largest element of x, skipping NaNs, or -Inf.
func max32Go(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

func sumExp32Go(x []float32, m float32) (float64, float64) {
	var s, t float64
	for _, v := range x {
		d := v - m
		s += float64(Exp32(d))
		t += float64(d)
	}
	return s, t
}

func expAffine32Go(dst, x []float32, m, a, b float32) {
	for i, v := range x {
		dst[i] = Exp32(v-m)*a + b
	}
}
