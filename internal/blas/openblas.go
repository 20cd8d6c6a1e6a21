//go:build openblas && cgo

package blas

/*
#cgo LDFLAGS: -lopenblas -ldl
#include <cblas.h>
#include <dlfcn.h>
#include <stdlib.h>

// forceCore makes a DYNAMIC_ARCH OpenBLAS choose its kernels again as if OPENBLAS_CORETYPE
// were core, through its exported gotoblas_dynamic_quit and gotoblas_dynamic_init (the
// start-up code reads the variable, so setting it later has no effect). It returns 0 when
// the library has no such functions (a build for one processor).
static int forceCore(const char *core) {
	void (*quit)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit");
	void (*init)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init");
	if (quit == NULL || init == NULL) {
		return 0;
	}
	setenv("OPENBLAS_CORETYPE", core, 1);
	quit();
	init();
	unsetenv("OPENBLAS_CORETYPE");
	return 1;
}
*/
import "C"

import (
	"fmt"
	"os"
	"unsafe"

	gblas "gonum.org/v1/gonum/blas"
)

// blasCore is the kernel family OpenBLAS runs on this processor (a package variable, not set
// in init, so that simdOverBLAS is computed from it): the one it started with, or the
// AVX-512 family that upgradeCore asks for in its place; coreNote says so when it did.
var blasCore, coreNote = chooseCore()

// chooseCore returns OpenBLAS's kernel family after upgrading it where upgradeCore says so,
// and a note for Name when it did.
func chooseCore() (core, note string) {
	core = C.GoString(C.openblas_get_corename())
	want := upgradeCore(core, os.Getenv("XENT_GEMM"), hostFeatures())
	if want == "" {
		return core, ""
	}
	cs := C.CString(want)
	defer C.free(unsafe.Pointer(cs))
	if C.forceCore(cs) == 0 {
		return core, ""
	}
	note = fmt.Sprintf("%s kernels instead of %s", want, core)
	if env := os.Getenv("OPENBLAS_CORETYPE"); env != "" {
		note += fmt.Sprintf("; OPENBLAS_CORETYPE=%s overridden, XENT_GEMM=openblas keeps it", env)
	}
	return C.GoString(C.openblas_get_corename()), note
}

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
