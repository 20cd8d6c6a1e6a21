//go:build goexperiment.simd && amd64

package vmath

import "simd/archsimd"

func init() {
	if archsimd.X86.AVX512() {
		softcap32 = softcap32AVX512
		softcapGrad32 = softcapGrad32AVX512
	}
}

// softcap16 is s*tanh(x/s) on 16 lanes, and x - x (0, or NaN where x is not finite).
func softcap16(x, s archsimd.Float32x16) (archsimd.Float32x16, archsimd.Float32x16) {
	u := x.Div(s)
	sign := archsimd.BroadcastInt32x16(-0x80000000)
	a := u.AsInt32x16().AndNot(sign).AsFloat32x16()
	z := u.Mul(u)
	p := archsimd.BroadcastFloat32x16(tanhP0)
	p = p.MulAdd(z, archsimd.BroadcastFloat32x16(tanhP1))
	p = p.MulAdd(z, archsimd.BroadcastFloat32x16(tanhP2))
	p = p.MulAdd(z, archsimd.BroadcastFloat32x16(tanhP3))
	p = p.MulAdd(z, archsimd.BroadcastFloat32x16(tanhP4))
	small := p.Mul(z).MulAdd(u, u)
	one := archsimd.BroadcastFloat32x16(1)
	e := exp16(a.Add(a).Min(archsimd.BroadcastFloat32x16(2 * tanhCutoff)))
	big := one.Sub(archsimd.BroadcastFloat32x16(2).Div(e.Add(one)))
	big = big.AsInt32x16().Or(u.AsInt32x16().And(sign)).AsFloat32x16()
	t := small.Merge(big, a.Less(archsimd.BroadcastFloat32x16(tanhSmall)))
	return t.Mul(s), x.Sub(x)
}

func softcap32AVX512(dst, x []float32, s float32) bool {
	vs := archsimd.BroadcastFloat32x16(s)
	var check archsimd.Float32x16
	i := 0
	for ; i+16 <= len(x); i += 16 {
		y, c := softcap16(archsimd.LoadFloat32x16Slice(x[i:]), vs)
		y.StoreSlice(dst[i:])
		check = check.Add(c)
	}
	if i < len(x) {
		y, c := softcap16(archsimd.LoadFloat32x16SlicePart(x[i:]), vs)
		y.StoreSlicePart(dst[i:])
		check = check.Add(c)
	}
	c := lane0(allSum(check))
	archsimd.ClearAVXUpperBits()
	return c == 0
}

func softcapGrad32AVX512(dz, zc []float32, s float32) {
	inv := archsimd.BroadcastFloat32x16(1 / s)
	one := archsimd.BroadcastFloat32x16(1)
	i := 0
	for ; i+16 <= len(zc); i += 16 {
		t := archsimd.LoadFloat32x16Slice(zc[i:]).Mul(inv)
		archsimd.LoadFloat32x16Slice(dz[i:]).Mul(one.Sub(t.Mul(t))).StoreSlice(dz[i:])
	}
	if i < len(zc) {
		t := archsimd.LoadFloat32x16SlicePart(zc[i:]).Mul(inv)
		archsimd.LoadFloat32x16SlicePart(dz[i:]).Mul(one.Sub(t.Mul(t))).StoreSlicePart(dz[i:])
	}
	archsimd.ClearAVXUpperBits()
}
