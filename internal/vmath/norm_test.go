package vmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

// BatchNorm's plane kernels against float64 sums, on planes of 0 to 300 values (airbench's
// are 9, 49 and 225) around a mean far from zero.
func TestNormKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 9, 15, 16, 17, 49, 225, 300} {
		x, dy, dx := make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], dy[i] = float32(3+rng.NormFloat64()), float32(rng.NormFloat64())
		}
		const m, a, b, c = 3.1, 0.7, -0.2, 0.05
		var sq, sd, sdx, scale float64
		for i, v := range x {
			xc := float64(v) - float64(float32(m))
			sq += xc * xc
			sd += float64(dy[i])
			sdx += float64(dy[i]) * xc
			scale += math.Abs(float64(dy[i])) * math.Abs(xc)
		}
		if got := SquaredDeviations32(x, m); math.Abs(got-sq) > 1e-6*(sq+1) {
			t.Errorf("n %d: SquaredDeviations32 = %v, want %v", n, got, sq)
		}
		gd, gdx := GradSums32(dy, x, m)
		if math.Abs(gd-sd) > 1e-6*float64(n+1) || math.Abs(gdx-sdx) > 1e-6*(scale+1) {
			t.Errorf("n %d: GradSums32 = %v, %v, want %v, %v", n, gd, gdx, sd, sdx)
		}
		NormGrad32(dx, dy, x, a, b, m, c)
		for i := range dx {
			want := float64(float32(a))*float64(dy[i]) + float64(float32(b))*(float64(x[i])-float64(float32(m))) + float64(float32(c))
			if math.Abs(float64(dx[i])-want) > 1e-6*(math.Abs(want)+1) {
				t.Fatalf("n %d: NormGrad32[%d] = %v, want %v", n, i, dx[i], want)
			}
		}
	}
}
