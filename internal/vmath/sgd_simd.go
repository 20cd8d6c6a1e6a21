//go:build goexperiment.simd && amd64

package vmath

import "simd/archsimd"

func init() {
	if archsimd.X86.AVX512() {
		sgdMomentum32, sgdKernel = sgdMomentum32AVX512, "avx512"
	}
}

// sgdMomentum32AVX512 is sgdMomentum32Go 16 elements at a time, with the same roundings.
func sgdMomentum32AVX512(w, g, b []float32, lr, wd, mu, damp float32, nesterov, first bool) {
	vlr, vwd := archsimd.BroadcastFloat32x16(lr), archsimd.BroadcastFloat32x16(wd)
	vmu, vdamp := archsimd.BroadcastFloat32x16(mu), archsimd.BroadcastFloat32x16(damp)
	n := len(w) / 16 * 16
	for j := 0; j < n; j += 16 {
		wj, gj, bj := w[j:j+16], g[j:j+16], b[j:j+16]
		vw := archsimd.LoadFloat32x16Slice(wj)
		d := archsimd.LoadFloat32x16Slice(gj).Add(vwd.Mul(vw))
		vb := d
		if !first {
			vb = vmu.Mul(archsimd.LoadFloat32x16Slice(bj)).Add(vdamp.Mul(d))
		}
		vb.StoreSlice(bj)
		if nesterov {
			d = d.Add(vmu.Mul(vb))
		} else {
			d = vb
		}
		vw.Sub(vlr.Mul(d)).StoreSlice(wj)
	}
	archsimd.ClearAVXUpperBits()
	sgdMomentum32Go(w[n:], g[n:], b[n:], lr, wd, mu, damp, nesterov, first)
}
