package vmath

// The per-plane passes of BatchNorm over one plane of a channel, x [n] (the caller adds
// the planes' results in a fixed order). The AVX-512 kernels keep float32 lanes (a plane
// is at most a few hundred values) and add the lanes in float64; the Go loops run in
// float64.

// SquaredDeviations32 returns sum (x[i] - m)^2: the variance's numerator about mean m.
func SquaredDeviations32(x []float32, m float32) float64 { return squaredDeviations32(x, m) }

// GradSums32 returns sum dy[i] and sum dy[i]*(x[i] - m) over x, dy [n]: BatchNorm's db and,
// times 1/sqrt(var + eps), dg.
func GradSums32(dy, x []float32, m float32) (sumDy, sumDyX float64) {
	if len(dy) != len(x) {
		panic("vmath: GradSums32 lengths differ")
	}
	return gradSums32(dy, x, m)
}

// NormGrad32 writes dx[i] = a*dy[i] + b*(x[i] - m) + c for x, dy, dx [n] (dx may be dy):
// BatchNorm's dx, with a = g/s, b = -g/s^3 * dg'/M and c = -g/s * db/M (s = sqrt(var + eps),
// dg' = sum dy*(x - m)).
func NormGrad32(dx, dy, x []float32, a, b, m, c float32) {
	if len(dx) != len(x) || len(dy) != len(x) {
		panic("vmath: NormGrad32 lengths differ")
	}
	normGrad32(dx, dy, x, a, b, m, c)
}

var (
	squaredDeviations32 = squaredDeviations32Go
	gradSums32          = gradSums32Go
	normGrad32          = normGrad32Go
)

func squaredDeviations32Go(x []float32, m float32) float64 {
	var s float64
	for _, v := range x {
		d := float64(v) - float64(m)
		s += d * d
	}
	return s
}

func gradSums32Go(dy, x []float32, m float32) (sumDy, sumDyX float64) {
	for i, d := range dy {
		sumDy += float64(d)
		sumDyX += float64(d) * (float64(x[i]) - float64(m))
	}
	return sumDy, sumDyX
}

func normGrad32Go(dx, dy, x []float32, a, b, m, c float32) {
	for i, d := range dy {
		dx[i] = float32(float64(a)*float64(d) + float64(b)*(float64(x[i])-float64(m)) + float64(c))
	}
}
