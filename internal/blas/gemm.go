// Package blas is the one door to matrix multiplication: C = alpha*op(A)*op(B) + beta*C on
// row-major slices, in float32 or float64. It runs gonum's pure-Go BLAS; a faster
// implementation can be put behind it without touching its callers.
package blas

import (
	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Float is the element type of the matrices.
type Float interface{ float32 | float64 }

var impl gonum.Implementation

// Gemm computes C [m,n] = alpha*op(A)*op(B) + beta*C, with op(A) [m,k] and op(B) [k,n];
// op transposes when transA or transB is true. lda, ldb and ldc are the row strides of A,
// B and C as stored.
func Gemm[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	ta, tb := gblas.NoTrans, gblas.NoTrans
	if transA {
		ta = gblas.Trans
	}
	if transB {
		tb = gblas.Trans
	}
	switch a := any(a).(type) {
	case []float32:
		impl.Sgemm(ta, tb, m, n, k, float32(alpha), a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		impl.Dgemm(ta, tb, m, n, k, float64(alpha), a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}
