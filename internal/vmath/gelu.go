package vmath

import "math"

// GELU is x*Phi(x) with Phi the standard normal CDF (PyTorch's nn.GELU(), the exact form,
// not the tanh approximation). Phi comes from erfc by Abramowitz and Stegun 7.1.26, whose
// absolute error is below 1.5e-7, under float32's resolution of Phi near 1:
//
//	u = |x|/sqrt2,  t = 1/(1 + p*u),  erfc(u) = t*(a1 + t*(a2 + t*(a3 + t*(a4 + t*a5))))*exp(-u^2)
//	c = erfc(u)/2,  Phi(x) = 1 - c (x >= 0),  Phi(x) = c (x < 0)
//
// and the derivative GELU'(x) = Phi(x) + x*phi(x), phi(x) = exp(-x^2/2)/sqrt(2*pi).
const (
	geluP      = 0.3275911
	geluA1     = 0.254829592
	geluA2     = -0.284496736
	geluA3     = 1.421413741
	geluA4     = -1.453152027
	geluA5     = 1.061405429
	invSqrt2   = 0.70710678118654752440
	invSqrt2Pi = 0.39894228040143267794
)

// phi32 returns Phi(x) and exp(-x^2/2) in float32, the formulas above.
func phi32(x float32) (cdf, gauss float32) {
	u := float32(math.Abs(float64(x))) * invSqrt2
	t := 1 / (1 + geluP*u)
	gauss = Exp32(-0.5 * x * x)
	c := 0.5 * t * (geluA1 + t*(geluA2+t*(geluA3+t*(geluA4+t*geluA5)))) * gauss
	if x >= 0 {
		return 1 - c, gauss
	}
	return c, gauss
}

// GELU32 writes dst[i] = x[i]*Phi(x[i]) for x, dst [n]; dst may alias x. NaN stays NaN.
func GELU32(dst, x []float32) {
	if len(dst) != len(x) {
		panic("vmath: GELU32 lengths differ")
	}
	gelu32(dst, x)
}

// GELUGrad32 writes dx[i] = dy[i]*(Phi(x[i]) + x[i]*phi(x[i])) for x, dy, dx [n].
func GELUGrad32(dx, x, dy []float32) {
	if len(dx) != len(x) || len(dy) != len(x) {
		panic("vmath: GELUGrad32 lengths differ")
	}
	geluGrad32(dx, x, dy)
}

var (
	gelu32     = gelu32Go
	geluGrad32 = geluGrad32Go
)

func gelu32Go(dst, x []float32) {
	for i, v := range x {
		cdf, _ := phi32(v)
		dst[i] = v * cdf
	}
}

func geluGrad32Go(dx, x, dy []float32) {
	for i, v := range x {
		cdf, gauss := phi32(v)
		dx[i] = dy[i] * (cdf + v*invSqrt2Pi*gauss)
	}
}
