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

// convolve2TAVX512 runs phase ph's tile kernel (tileT00 ... tileT11) over every strip of 4
// of dx's channels and tile of 64 pixels.
func convolve2TAVX512(p *Plan2T, ph int, plane, dyp, wp []float32) {
	in := p.in
	hw, per := in.H*in.W, p.F*len(phaseTaps(ph/2, ph%2))*TileRows
	e := Epilogue{}
	for s := range p.strips() {
		w := unsafe.Pointer(&wp[s*per])
		t := tileOut{y: plane, e: &e, s: s, hw: hw, rows: min(TileRows, p.C-s*TileRows)}
		for q := 0; q < hw; q += TileCols {
			x := unsafe.Pointer(&dyp[in.before+q])
			t.run(kernelT00+ph, q, x, in.W, in.stride, p.F, w, &in.masks[2*(q/16)])
		}
	}
}

//go:noescape
func tileT00(y *float32, hwBytes uintptr, x unsafe.Pointer, rowBytes, planeBytes uintptr, channels int, w unsafe.Pointer, masks *uint16, bias *[TileRows]float32, add *float32, relu int)

//go:noescape
func tileT01(y *float32, hwBytes uintptr, x unsafe.Pointer, rowBytes, planeBytes uintptr, channels int, w unsafe.Pointer, masks *uint16, bias *[TileRows]float32, add *float32, relu int)

//go:noescape
func tileT10(y *float32, hwBytes uintptr, x unsafe.Pointer, rowBytes, planeBytes uintptr, channels int, w unsafe.Pointer, masks *uint16, bias *[TileRows]float32, add *float32, relu int)

//go:noescape
func tileT11(y *float32, hwBytes uintptr, x unsafe.Pointer, rowBytes, planeBytes uintptr, channels int, w unsafe.Pointer, masks *uint16, bias *[TileRows]float32, add *float32, relu int)
