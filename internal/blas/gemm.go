// Package blas is the one door to matrix multiplication: C = alpha*op(A)*op(B) + beta*C on
// row-major slices, in float32 or float64. It runs OpenBLAS when built with the tag openblas
// (and cgo; the Makefile sets the tag when the library is installed), else gonum's pure-Go
// BLAS. Large products are split by rows of C across cores here, in Go, and OpenBLAS runs
// one thread per call: measured on 2 cores, its own threads spin against Go's goroutines.
package blas

import (
	"sync"

	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"xent/internal/parallel"
)

// Float is the element type of the matrices.
type Float interface{ float32 | float64 }

// The implementation in use: gonum's unless the openblas build replaces it.
var (
	name  = "gonum (pure Go)"
	sgemm = gonum.Implementation{}.Sgemm
	dgemm = gonum.Implementation{}.Dgemm
)

// Name says which implementation runs.
func Name() string { return name }

// FastPathHint is one line on getting the fast path, or "" when it is in use.
func FastPathHint() string {
	if name != "gonum (pure Go)" {
		return ""
	}
	return "blas: pure-Go GEMM; for OpenBLAS (several times faster): apt-get install libopenblas-dev, then build with make (it adds -tags openblas)"
}

// minSplitFlops is the size of product, in multiply-adds, above which rows are split
// across cores.
const minSplitFlops = 1 << 21

// Gemm computes C [m,n] = alpha*op(A)*op(B) + beta*C, with op(A) [m,k] and op(B) [k,n];
// op transposes when transA or transB is true. lda, ldb and ldc are the row strides of A,
// B and C as stored.
func Gemm[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m > 1 && m*n*k >= minSplitFlops {
		t := tasks.Get().(*rowsTask)
		*t = rowsTask{transA: transA, transB: transB, n: n, k: k, alpha: float64(alpha), lda: lda, ldb: ldb,
			beta: float64(beta), ldc: ldc, a: a, b: b, c: c}
		parallel.For(m, max(1, minSplitFlops/(n*k)), t)
		*t = rowsTask{}
		tasks.Put(t)
		return
	}
	gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func gemm[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	ta, tb := gblas.NoTrans, gblas.NoTrans
	if transA {
		ta = gblas.Trans
	}
	if transB {
		tb = gblas.Trans
	}
	switch a := any(a).(type) {
	case []float32:
		sgemm(ta, tb, m, n, k, float32(alpha), a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		dgemm(ta, tb, m, n, k, float64(alpha), a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// rowsTask is one Gemm split by rows of C: rows [lo, hi) of op(A) and of C.
type rowsTask struct {
	transA, transB      bool
	n, k, lda, ldb, ldc int
	alpha, beta         float64
	a, b, c             any
}

var tasks = sync.Pool{New: func() any { return new(rowsTask) }}

func (t *rowsTask) Run(lo, hi int) {
	switch a := t.a.(type) {
	case []float32:
		runRows(t, a, t.b.([]float32), t.c.([]float32), lo, hi)
	case []float64:
		runRows(t, a, t.b.([]float64), t.c.([]float64), lo, hi)
	}
}

func runRows[T Float](t *rowsTask, a, b, c []T, lo, hi int) {
	off := lo * t.lda // row lo of op(A) starts at row lo of A, or at column lo of A^T
	if t.transA {
		off = lo
	}
	gemm(t.transA, t.transB, hi-lo, t.n, t.k, T(t.alpha), a[off:], t.lda, b, t.ldb, T(t.beta), c[lo*t.ldc:], t.ldc)
}
