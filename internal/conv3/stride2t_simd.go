//go:build goexperiment.simd && amd64

package conv3

import (
	"simd/archsimd"
	"unsafe"
)

func init() {
	if archsimd.X86.AVX512() {
		convolve2T = convolve2TAVX512
	}
}

// convolve2TAVX512 runs phase ph's tile kernel (tileT00 ... tileT11) over dx's phase plane
// [C, hw], from the padded dy (p.in's geometry, its F planes the kernel's channels).
func convolve2TAVX512(p *Plan2T, ph int, plane, dyp, wp []float32) {
	runStrips(kernelT00+ph, plane, p.C, p.in, dyp, p.F, wp, p.F*len(phaseTaps[ph])*TileRows, &Epilogue{})
}

//go:noescape
func tileT00(y *float32, hwBytes uintptr, x unsafe.Pointer, rowBytes, planeBytes uintptr, channels int, w unsafe.Pointer, masks *uint16, bias *[TileRows]float32, add *float32, relu int)

//go:noescape
func tileT01(y *float32, hwBytes uintptr, x unsafe.Pointer, rowBytes, planeBytes uintptr, channels int, w unsafe.Pointer, masks *uint16, bias *[TileRows]float32, add *float32, relu int)

//go:noescape
func tileT10(y *float32, hwBytes uintptr, x unsafe.Pointer, rowBytes, planeBytes uintptr, channels int, w unsafe.Pointer, masks *uint16, bias *[TileRows]float32, add *float32, relu int)

//go:noescape
func tileT11(y *float32, hwBytes uintptr, x unsafe.Pointer, rowBytes, planeBytes uintptr, channels int, w unsafe.Pointer, masks *uint16, bias *[TileRows]float32, add *float32, relu int)
