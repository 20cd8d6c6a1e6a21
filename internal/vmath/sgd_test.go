package vmath

import "testing"

// TestSGDMomentumKernels checks the kernel in use against the Go loop, bit for bit, across
// the 16-element steps and the tail, for each variant of the rule.
func TestSGDMomentumKernels(t *testing.T) {
	if sgdKernel == "go" {
		t.Skip("no SIMD kernel in this build (it runs the Go loop itself): build with GOEXPERIMENT=simd on an AVX-512 machine")
	}
	for _, n := range []int{1, 15, 16, 17, 100} {
		for _, v := range []struct{ nesterov, first bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
			w, g, b := make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range w {
				w[i], g[i], b[i] = float32(i%7)*0.3-1, float32(i%5)*0.7-1.1, float32(i%3)*0.9-0.4
			}
			w2, b2 := append([]float32(nil), w...), append([]float32(nil), b...)
			SGDMomentum32(w, g, b, 0.1, 1e-3, 0.9, 0.75, v.nesterov, v.first)
			sgdMomentum32Go(w2, g, b2, 0.1, 1e-3, 0.9, 0.75, v.nesterov, v.first)
			for i := range w {
				if w[i] != w2[i] || b[i] != b2[i] {
					t.Fatalf("n %d %+v: element %d: w %v b %v, Go loop w %v b %v", n, v, i, w[i], b[i], w2[i], b2[i])
				}
			}
		}
	}
}
