//go:build !(openblas && cgo)

package blas

// blasCore is the kernel family OpenBLAS chose for this processor (openblas_get_corename:
// "SkylakeX", "Haswell", "Zen", ...), and what xent changed of it; there is none in the
// pure-Go build.
const blasCore, coreNote = "", ""
