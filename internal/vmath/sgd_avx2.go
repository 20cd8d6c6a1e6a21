//go:build goexperiment.simd && amd64

package vmath

import "simd/archsimd"

func init() {
	if avx2() {
		sgdMomentum32, sgdKernel = sgdMomentum32AVX2, "avx2"
	}
}

// sgdMomentum32AVX2 is sgdMomentum32Go 8 elements at a time, with the same roundings.
func sgdMomentum32AVX2(w, g, b []float32, lr, wd, mu, damp float32, nesterov, first bool) {
	vlr, vwd := archsimd.BroadcastFloat32x8(lr), archsimd.BroadcastFloat32x8(wd)
	vmu, vdamp := archsimd.BroadcastFloat32x8(mu), archsimd.BroadcastFloat32x8(damp)
	n := len(w) / 8 * 8
	for j := 0; j < n; j += 8 {
		wj, gj, bj := w[j:j+8], g[j:j+8], b[j:j+8]
		vw := archsimd.LoadFloat32x8Slice(wj)
		d := archsimd.LoadFloat32x8Slice(gj).Add(vwd.Mul(vw))
		vb := d
		if !first {
			vb = vmu.Mul(archsimd.LoadFloat32x8Slice(bj)).Add(vdamp.Mul(d))
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
