//go:build goexperiment.simd && amd64

package vmath

import "simd/archsimd"

func init() {
	if archsimd.X86.AVX512() {
		thinConv32 = thinConv32AVX512
	}
}

// thinConv32AVX512 does 16 output columns of a row a step, 8 filters at a time (8
// accumulators: the bias, then each tap's weight times the 16 inputs under it, fused),
// the rest one at a time. A row's last step ends at its end, overlapping the one before
// (same values written twice); rows narrower than 16 go to the Go kernel.
func thinConv32AVX512(y, x, w, bias []float32, c, h, wd, k, f int) {
	ho, wo := h-k+1, wd-k+1
	if wo < 16 {
		thinConv32Go(y, x, w, bias, c, h, wd, k, f)
		return
	}
	ckk := c * k * k
	var offs [64]int // tap t's input, from the output's own position
	if ckk > len(offs) {
		thinConv32Go(y, x, w, bias, c, h, wd, k, f)
		return
	}
	t := 0
	for ci := range c {
		for i := range k {
			for j := range k {
				offs[t] = (ci*h+i)*wd + j
				t++
			}
		}
	}
	taps := offs[:ckk]
	b := func(fi int) archsimd.Float32x16 {
		if bias == nil {
			return archsimd.Float32x16{}
		}
		return archsimd.BroadcastFloat32x16(bias[fi])
	}
	for oy := range ho {
		for j0 := 0; j0 < wo; j0 += 16 {
			j0 = min(j0, wo-16)
			base := oy*wd + j0
			fi := 0
			for ; fi+8 <= f; fi += 8 {
				a0, a1, a2, a3, a4, a5, a6, a7 := b(fi), b(fi+1), b(fi+2), b(fi+3), b(fi+4), b(fi+5), b(fi+6), b(fi+7)
				ws := w[fi*ckk : (fi+8)*ckk]
				for t, off := range taps {
					in := archsimd.LoadFloat32x16Slice(x[base+off:])
					a0 = in.MulAdd(archsimd.BroadcastFloat32x16(ws[t]), a0)
					a1 = in.MulAdd(archsimd.BroadcastFloat32x16(ws[ckk+t]), a1)
					a2 = in.MulAdd(archsimd.BroadcastFloat32x16(ws[2*ckk+t]), a2)
					a3 = in.MulAdd(archsimd.BroadcastFloat32x16(ws[3*ckk+t]), a3)
					a4 = in.MulAdd(archsimd.BroadcastFloat32x16(ws[4*ckk+t]), a4)
					a5 = in.MulAdd(archsimd.BroadcastFloat32x16(ws[5*ckk+t]), a5)
					a6 = in.MulAdd(archsimd.BroadcastFloat32x16(ws[6*ckk+t]), a6)
					a7 = in.MulAdd(archsimd.BroadcastFloat32x16(ws[7*ckk+t]), a7)
				}
				o := (fi*ho+oy)*wo + j0
				plane := ho * wo
				a0.StoreSlice(y[o:])
				a1.StoreSlice(y[o+plane:])
				a2.StoreSlice(y[o+2*plane:])
				a3.StoreSlice(y[o+3*plane:])
				a4.StoreSlice(y[o+4*plane:])
				a5.StoreSlice(y[o+5*plane:])
				a6.StoreSlice(y[o+6*plane:])
				a7.StoreSlice(y[o+7*plane:])
			}
			for ; fi < f; fi++ {
				acc := b(fi)
				ws := w[fi*ckk:][:ckk]
				for t, off := range taps {
					acc = archsimd.LoadFloat32x16Slice(x[base+off:]).MulAdd(archsimd.BroadcastFloat32x16(ws[t]), acc)
				}
				acc.StoreSlice(y[(fi*ho+oy)*wo+j0:])
			}
		}
	}
	archsimd.ClearAVXUpperBits()
}
