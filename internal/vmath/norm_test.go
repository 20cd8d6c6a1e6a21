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

// The plane kernels' tails: GradSums32 of n values is bit for bit GradSums32 of the same
// values zero-padded to a multiple of 16 (which has no tail), and NormGrad32, GELU32 and
// GELUGrad32 give the same bits in place (dx on dy, dst on x, dx on x: as BatchNorm + GELU
// call them) as out of place.
func TestPlaneKernelTails(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for _, n := range []int{1, 15, 17, 31, 49, 225, 300} {
		x, dy := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], dy[i] = float32(3+rng.NormFloat64()), float32(rng.NormFloat64())
		}
		padded := (n + 15) / 16 * 16
		xp, dyp := append(append([]float32{}, x...), make([]float32, padded-n)...), append(append([]float32{}, dy...), make([]float32, padded-n)...)
		s, sx := GradSums32(dy, x, 3.1)
		ps, psx := GradSums32(dyp, xp, 3.1)
		if math.Float64bits(s) != math.Float64bits(ps) || math.Float64bits(sx) != math.Float64bits(psx) {
			t.Errorf("n %d: GradSums32 %v, %v; zero-padded %v, %v", n, s, sx, ps, psx)
		}
		same := func(name string, got, want []float32) {
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("n %d: %s in place [%d] = %v, out of place %v", n, name, i, got[i], want[i])
				}
			}
		}
		want, got := make([]float32, n), append([]float32{}, dy...)
		NormGrad32(want, dy, x, 0.7, -0.2, 3.1, 0.05)
		NormGrad32(got, got, x, 0.7, -0.2, 3.1, 0.05)
		same("NormGrad32", got, want)
		got = append(got[:0], x...)
		GELU32(want, x)
		GELU32(got, got)
		same("GELU32", got, want)
		got = append(got[:0], x...)
		GELUGrad32(want, x, dy)
		GELUGrad32(got, got, dy)
		same("GELUGrad32", got, want)
		got = append(got[:0], x...)
		Affine32(want, x, 0.3, -1)
		Affine32(got, got, 0.3, -1)
		same("Affine32", got, want)
	}
}
