// Package blas is the one door to matrix multiplication: C = alpha*op(A)*op(B) + beta*C on
// row-major slices, in float32 or float64. It runs OpenBLAS when built with the tag openblas
// (and cgo; the Makefile sets the tag when the library is installed), else gonum's pure-Go
// BLAS. Large products are split across cores here, in Go, into one block of C per core (by
// rows or by columns, whichever C has more of, so that each block packs as little of the other
// operand as possible), and OpenBLAS runs one thread per call. Measured on 2 cores: OpenBLAS's
// own 2 threads train the mlp 10-15% faster but halve cnn-small, whose per-image GEMMs already
// run on both cores.
package blas

import (
	"fmt"
	"os"
	"runtime"
	"sync"

	"example.com/xent/internal/vmath"

	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"example.com/xent/internal/parallel"
)

// The implementation in use: gonum's unless the openblas build replaces it.
const gonumName = "gonum (pure Go)"

var (
	name  = gonumName
	sgemm = gonum.Implementation{}.Sgemm
	dgemm = gonum.Implementation{}.Dgemm
)

// simdSgemm is the AVX-512 build's own float32 GEMM (sgemm_simd.go). It runs instead of
// sgemm when the processor has AVX-512 and either sgemm is gonum's or the product has at
// least simdMinRows rows, simdMinCols columns and simdMinDepth steps (its 32-column tiles
// would be mostly empty on narrower products) and OpenBLAS runs no AVX-512 kernel of its own
// on this processor (preferSIMD). Since OpenBLAS is given its AVX-512 kernels on every
// processor with AVX-512 (upgradeCore), that leaves the pure-Go build and an OpenBLAS built
// for one processor without them.
//
// Where OpenBLAS has an AVX-512 kernel for the processor it is the faster one. On the Zen 5
// its Cooperlake kernels ran 177-221 GFLOP/s on one core at airbench's shapes against 89-157
// for xent's kernel; on a Zen 4 (Cooperlake) 83-95 at the linear cross-entropy's shapes and
// 35-55 at the convolutions', xent's kernel 38-43 and 18-22; on an Intel Xeon with AMX
// (CPUID family 6, model 167; SkylakeX) BenchmarkSgemmShapes gave OpenBLAS 54-94 GFLOP/s,
// xent's kernel 24-44, and airbench trained at 149-155 img/s against 82-86. XENT_GEMM=xent
// or XENT_GEMM=openblas overrides the choice (a process's results depend on it bit for bit,
// so it is fixed for the process: by OpenBLAS's kernel family, not by a measurement at start).
var simdSgemm func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// Name says which implementation runs.
func Name() string {
	n := name
	switch {
	case simdSgemm != nil && name == gonumName:
		n = "xent's AVX-512 kernel for float32, " + name + " for float64"
	case simdSgemm != nil && simdOverBLAS:
		n = name + ", with xent's AVX-512 kernel for large float32 products"
	}
	if coreNote != "" {
		n += " (" + coreNote + ")"
	}
	if env := os.Getenv("XENT_GEMM"); env != "" && env != "xent" && env != "openblas" {
		n += fmt.Sprintf(" (XENT_GEMM=%q ignored: want xent or openblas)", env)
	}
	return n
}

// Allocates reports whether a float32 product allocates: gonum's GEMM makes its work buffers
// on every call; OpenBLAS and xent's AVX-512 kernel do not.
func Allocates() bool { return name == gonumName && simdSgemm == nil }

// simdPackBytes is what one core's run of xent's float32 kernel keeps packed (its pool's
// buffers); 0 without the kernel.
var simdPackBytes int

// WorkspaceBytes returns what large float32 products keep on the Go heap between calls: xent's
// kernel's packed blocks, one set per core, where it takes them; 0 where OpenBLAS does (its
// buffers are its own, outside the Go heap, made when the library starts) or gonum's GEMM
// (which allocates per call).
func WorkspaceBytes() int {
	if simdSgemm == nil || !(simdOverBLAS || name == gonumName) {
		return 0
	}
	return simdPackBytes * runtime.GOMAXPROCS(0)
}

// FastPathHint is one line on getting the fast path, or "" when it is in use.
func FastPathHint() string {
	if name != gonumName {
		return ""
	}
	return "blas: pure-Go GEMM; for OpenBLAS (several times faster): apt-get install libopenblas-dev, then build with make (it adds -tags openblas)"
}

const simdMinRows, simdMinCols, simdMinDepth = 16, 32, 16

// simdOverBLAS says whether xent's kernel takes the large float32 products from OpenBLAS.
var simdOverBLAS = preferSIMD(os.Getenv("XENT_GEMM"), blasCore)

// preferSIMD says whether xent's AVX-512 kernel should take the large float32 products from
// a BLAS whose kernel family is core: unless XENT_GEMM says otherwise, only where that family
// is not one of OpenBLAS's AVX-512 ones.
func preferSIMD(env, core string) bool {
	switch env {
	case "xent":
		return true
	case "openblas":
		return false
	}
	return !avx512Core(core)
}

// minSplitFlops is the size of product, in multiply-adds, above which it is split across
// cores.
const minSplitFlops = 1 << 21

// Gemm computes C [m,n] = alpha*op(A)*op(B) + beta*C, with op(A) [m,k] and op(B) [k,n];
// op transposes when transA or transB is true. lda, ldb and ldc are the row strides of A,
// B and C as stored.
func Gemm[T vmath.Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if parts := min(runtime.GOMAXPROCS(0), max(m, n)); parts > 1 && m*n*k >= minSplitFlops && !toGonum[T]() {
		pool := &tasks32
		if _, f64 := any(alpha).(float64); f64 {
			pool = &tasks64
		}
		t, _ := pool.Get().(*blockTask[T])
		if t == nil {
			t = new(blockTask[T])
		}
		*t = blockTask[T]{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, lda: lda, ldb: ldb,
			beta: beta, ldc: ldc, a: a, b: b, c: c, parts: parts, byCols: n > m}
		parallel.For(parts, 1, t)
		*t = blockTask[T]{}
		pool.Put(t)
		return
	}
	gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// toGonum says whether Gemm's products of T go to gonum, which splits them across cores
// itself: by blocks of fixed size, each summed over k in the same order whatever the
// number of cores. Split by Gemm first, a product's blocks would be gonum's smaller serial
// path or its blocked one by the block's size, and the last bits of C would depend on the
// number of cores.
func toGonum[T vmath.Float]() bool {
	_, f32 := any(T(0)).(float32)
	return name == gonumName && !(f32 && simdSgemm != nil)
}

func gemm[T vmath.Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	ta, tb := gblas.NoTrans, gblas.NoTrans
	if transA {
		ta = gblas.Trans
	}
	if transB {
		tb = gblas.Trans
	}
	switch a := any(a).(type) {
	case []float32:
		if simdSgemm != nil && (simdOverBLAS && m >= simdMinRows && n >= simdMinCols && k >= simdMinDepth || name == gonumName) {
			simdSgemm(transA, transB, m, n, k, float32(alpha), a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
			return
		}
		sgemm(ta, tb, m, n, k, float32(alpha), a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		dgemm(ta, tb, m, n, k, float64(alpha), a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// blockTask is one Gemm split into parts blocks of C's rows or columns.
type blockTask[T vmath.Float] struct {
	transA, transB         bool
	m, n, k, lda, ldb, ldc int
	alpha, beta            T
	a, b, c                []T
	parts                  int
	byCols                 bool
}

// The tasks of float32 and of float64 products, reused: a task holds its matrices in typed
// fields, since storing slices in interfaces allocated three headers per call.
var tasks32, tasks64 sync.Pool

// Run does blocks [lo, hi); parallel.For calls it.
func (t *blockTask[T]) Run(lo, hi int) {
	for p := lo; p < hi; p++ {
		t.runBlock(p)
	}
}

func (t *blockTask[T]) runBlock(p int) {
	if t.byCols { // columns [lo, hi) of C take columns [lo, hi) of op(B)
		lo, hi := p*t.n/t.parts, (p+1)*t.n/t.parts
		off := lo // column lo of B, or row lo of B^T
		if t.transB {
			off = lo * t.ldb
		}
		gemm(t.transA, t.transB, t.m, hi-lo, t.k, t.alpha, t.a, t.lda, t.b[off:], t.ldb, t.beta, t.c[lo:], t.ldc)
		return
	}
	lo, hi := p*t.m/t.parts, (p+1)*t.m/t.parts
	off := lo * t.lda // row lo of op(A): row lo of A, or column lo of A^T
	if t.transA {
		off = lo
	}
	gemm(t.transA, t.transB, hi-lo, t.n, t.k, t.alpha, t.a[off:], t.lda, t.b, t.ldb, t.beta, t.c[lo*t.ldc:], t.ldc)
}
