//go:build goexperiment.simd && amd64

package vmath

import (
	"simd/archsimd"
	"unsafe"
)

// BroadcastAt returns the float32 at p+off in all 16 lanes, loading it as the first of 4
// (the 3 after it must be readable, their values unused). The kernels' inner loops use it
// instead of archsimd.BroadcastFloat32x16(x[i]): that compiles to a scalar load, which the
// compiler hoists to the top of the loop with all the others and spills to the stack; this
// way conv3's forward kernel went from 118-122 to 158-172 GFLOP/s a core and the GEMM from
// 111-136 to 129-152.
func BroadcastAt(p unsafe.Pointer, off uintptr) archsimd.Float32x16 {
	return archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(p, off))).Broadcast1To16()
}
