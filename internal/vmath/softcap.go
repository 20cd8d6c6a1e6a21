package vmath

import "math"

// Softcap32 writes dst[i] = s*tanh(x[i]/s) (Gemma 2's soft-capping of logits) and reports
// whether every x[i] was finite (capping maps an infinity to +-s, so callers ask). tanh is
//
//	tanh(u) = u + u^3 P(u^2)               for |u| < 0.625 (the Cephes tanhf polynomial),
//	tanh(u) = sign(u) (1 - 2/(e^(2|u|) + 1))   beyond,
//
// within 2 ulp of float32 in both builds.
func Softcap32(dst, x []float32, s float32) bool {
	if len(dst) != len(x) {
		panic("vmath: Softcap32 lengths differ")
	}
	return softcap32(dst, x, s)
}

// SoftcapGrad32 multiplies dz by the soft-cap's derivative at the capped values zc:
// d(s tanh(z/s))/dz = 1 - tanh^2(z/s) = 1 - (zc/s)^2.
func SoftcapGrad32(dz, zc []float32, s float32) {
	if len(dz) != len(zc) {
		panic("vmath: SoftcapGrad32 lengths differ")
	}
	softcapGrad32(dz, zc, s)
}

// The Cephes tanhf coefficients.
const (
	tanhP0     = -5.70498872745e-3
	tanhP1     = 2.06390887954e-2
	tanhP2     = -5.37397155531e-2
	tanhP3     = 1.33314422036e-1
	tanhP4     = -3.33332819422e-1
	tanhSmall  = 0.625
	tanhCutoff = 9.1 // tanh(u) rounds to 1 in float32 beyond
)

var (
	softcap32     = softcap32Go
	softcapGrad32 = softcapGrad32Go
)

// tanh32 is tanh by the formulas above.
func tanh32(u float32) float32 {
	a := float32(math.Abs(float64(u)))
	if a < tanhSmall {
		z := u * u
		return ((((tanhP0*z+tanhP1)*z+tanhP2)*z+tanhP3)*z+tanhP4)*z*u + u
	}
	t := float32(1)
	if a < tanhCutoff {
		t = 1 - 2/(Exp32(2*a)+1)
	}
	return float32(math.Copysign(float64(t), float64(u)))
}

func softcap32Go(dst, x []float32, s float32) bool {
	ok := true
	for i, v := range x {
		ok = ok && v-v == 0
		dst[i] = s * tanh32(v/s)
	}
	return ok
}

func softcapGrad32Go(dz, zc []float32, s float32) {
	for i, v := range zc {
		t := v / s
		dz[i] *= 1 - t*t
	}
}
