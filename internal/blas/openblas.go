//go:build openblas && cgo

package blas

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
*/
import "C"

import (
	"unsafe"

	gblas "gonum.org/v1/gonum/blas"
)

// blasCore is the kernel family OpenBLAS chose for this processor (a package variable, not
// set in init, so that simdOverBLAS is computed from it).
var blasCore = C.GoString(C.openblas_get_corename())

func init() {
	C.openblas_set_num_threads(1)
	name = "OpenBLAS " + C.GoString(C.openblas_get_config())
	sgemm = openblasSgemm
	dgemm = openblasDgemm
}

func trans(t gblas.Transpose) C.enum_CBLAS_TRANSPOSE {
	if t == gblas.Trans {
		return C.CblasTrans
	}
	return C.CblasNoTrans
}

func openblasSgemm(ta, tb gblas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	C.cblas_sgemm(C.CblasRowMajor, trans(ta), trans(tb), C.blasint(m), C.blasint(n), C.blasint(k),
		C.float(alpha), (*C.float)(unsafe.Pointer(&a[0])), C.blasint(lda),
		(*C.float)(unsafe.Pointer(&b[0])), C.blasint(ldb), C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.blasint(ldc))
}

func openblasDgemm(ta, tb gblas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	C.cblas_dgemm(C.CblasRowMajor, trans(ta), trans(tb), C.blasint(m), C.blasint(n), C.blasint(k),
		C.double(alpha), (*C.double)(unsafe.Pointer(&a[0])), C.blasint(lda),
		(*C.double)(unsafe.Pointer(&b[0])), C.blasint(ldb), C.double(beta), (*C.double)(unsafe.Pointer(&c[0])), C.blasint(ldc))
}
