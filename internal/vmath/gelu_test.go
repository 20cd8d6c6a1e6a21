package vmath

import (
	"math"
	"testing"
)

// geluRef is x*Phi(x) and its derivative in float64 from math.Erf.
func geluRef(x float64) (y, d float64) {
	cdf := 0.5 * (1 + math.Erf(x/math.Sqrt2))
	return x * cdf, cdf + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi)
}

func TestGELU(t *testing.T) {
	var x []float32
	for v := -12.0; v <= 12; v += 0.0137 {
		x = append(x, float32(v))
	}
	x = append(x, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 40, -40, 1e4, -1e4, float32(math.Inf(1)), float32(math.Inf(-1)))
	dy := make([]float32, len(x))
	for i := range dy {
		dy[i] = float32(1 + i%3)
	}
	y, dx := make([]float32, len(x)), make([]float32, len(x))
	GELU32(y, x)
	GELUGrad32(dx, x, dy)
	for i, v := range x {
		wantY, wantD := geluRef(float64(v))
		wantD *= float64(dy[i])
		if math.IsInf(float64(v), -1) {
			continue // -Inf * Phi(-Inf) = -Inf * 0: NaN, as in PyTorch
		}
		if math.IsInf(float64(v), 1) {
			if !math.IsInf(float64(y[i]), 1) {
				t.Errorf("gelu(+Inf) = %v", y[i])
			}
			continue
		}
		if y[i] != y[i] || dx[i] != dx[i] {
			t.Errorf("gelu(%v) = %v, gradient %v: NaN from a number", v, y[i], dx[i])
			continue
		}
		// Phi's absolute error is under 1.5e-7, and float32 rounding adds ~6e-8 relative.
		tol := 2.5e-7*math.Max(1, math.Abs(float64(v))) + 1e-7*math.Abs(wantY)
		if math.Abs(float64(y[i])-wantY) > tol {
			t.Errorf("gelu(%v) = %v, want %v", v, y[i], wantY)
		}
		if math.Abs(float64(dx[i])-wantD) > 4*float64(dy[i])*tol {
			t.Errorf("gelu'(%v)*%v = %v, want %v", v, dy[i], dx[i], wantD)
		}
	}
	nan := []float32{float32(math.NaN())}
	GELU32(nan, nan)
	if nan[0] == nan[0] {
		t.Errorf("gelu(NaN) = %v, want NaN", nan[0])
	}
}

// The vector kernel and the scalar one agree to a few ulps on every lane and on tails.
func TestGELUVectorMatchesScalar(t *testing.T) {
	for _, n := range []int{1, 15, 16, 17, 100} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(i)*0.37 - 9
		}
		a, b := make([]float32, n), make([]float32, n)
		GELU32(a, x)
		gelu32Go(b, x)
		for i := range a {
			if d := math.Abs(float64(a[i] - b[i])); d > 4e-7*math.Max(1, math.Abs(float64(b[i]))) {
				t.Fatalf("n=%d x=%v: vector %v scalar %v", n, x[i], a[i], b[i])
			}
		}
	}
}

func BenchmarkGELU32(b *testing.B) {
	x := make([]float32, 1<<15)
	for i := range x {
		x[i] = float32(i%2000)/200 - 5
	}
	y := make([]float32, len(x))
	b.SetBytes(int64(8 * len(x)))
	b.ReportAllocs()
	for b.Loop() {
		GELU32(y, x)
	}
}
