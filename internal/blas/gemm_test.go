package blas

import (
	"math"
	"math/rand/v2"
	"testing"
)

// naive is C = alpha*op(A)*op(B) + beta*C in float64, from the definition.
func naive(ta, tb bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				ai, bi := i*lda+p, p*ldb+j
				if ta {
					ai = p*lda + i
				}
				if tb {
					bi = j*ldb + p
				}
				av, bv := a[ai], b[bi]
				s += av * bv
			}
			c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
		}
	}
}

func TestGemmAgainstDefinition(t *testing.T) {
	t.Logf("implementation: %s", Name())
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sz := range [][3]int{{3, 4, 5}, {130, 140, 150}, {150, 130, 140}} { // split by columns, then by rows
		m, n, k := sz[0], sz[1], sz[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				a, b, c := make([]float64, m*k), make([]float64, k*n), make([]float64, m*n)
				for _, s := range [][]float64{a, b, c} {
					for i := range s {
						s[i] = rng.NormFloat64()
					}
				}
				lda, ldb := k, n
				if ta {
					lda = m
				}
				if tb {
					ldb = k
				}
				want := append([]float64(nil), c...)
				naive(ta, tb, m, n, k, 0.5, a, lda, b, ldb, 2, want, n)
				got := append([]float64(nil), c...)
				Gemm(ta, tb, m, n, k, 0.5, a, lda, b, ldb, 2, got, n)
				got32 := make([]float32, len(c))
				for i := range c {
					got32[i] = float32(c[i])
				}
				Gemm(ta, tb, m, n, k, float32(0.5), to32(a), lda, to32(b), ldb, float32(2), got32, n)
				for i := range want {
					if math.Abs(got[i]-want[i]) > 1e-10*math.Max(1, math.Abs(want[i])) ||
						math.Abs(float64(got32[i])-want[i]) > 1e-4*math.Max(1, math.Abs(want[i])) {
						t.Fatalf("%v ta=%v tb=%v: C[%d] = %v (float32 %v), want %v", sz, ta, tb, i, got[i], got32[i], want[i])
					}
				}
			}
		}
	}
}

func to32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}
