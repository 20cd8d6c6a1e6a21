//go:build goexperiment.simd && amd64

package vmath

import "simd/archsimd"

func init() {
	if archsimd.X86.AVX512() {
		simdOn = true
		max32 = max32AVX512
		sumExp32 = sumExp32AVX512
		expAffine32 = expAffine32AVX512
	}
}

// exp16 is Exp32 on 16 lanes. VSCALEFPS computes p*2^n without building exponent bits, so
// subnormal results and underflow to 0 come out right; x is clamped at expMin first so that
// x - n*ln2 never meets -Inf.
func exp16(x archsimd.Float32x16) archsimd.Float32x16 {
	x = x.Max(archsimd.BroadcastFloat32x16(expMin))
	n := x.Mul(archsimd.BroadcastFloat32x16(log2e)).RoundToEvenScaled(0)
	r := n.MulAdd(archsimd.BroadcastFloat32x16(-ln2Hi), x)
	r = n.MulAdd(archsimd.BroadcastFloat32x16(-ln2Lo), r)
	p := archsimd.BroadcastFloat32x16(expP0)
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(expP1))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(expP2))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(expP3))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(expP4))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(expP5))
	p = p.MulAdd(r.Mul(r), r).Add(archsimd.BroadcastFloat32x16(1))
	return p.Scale(n)
}

func hsum16(v archsimd.Float32x16) float64 {
	var a [16]float32
	v.Store(&a)
	var s float64
	for _, x := range a {
		s += float64(x)
	}
	return s
}

func max32AVX512(x []float32) float32 {
	if len(x) < 16 {
		return max32Go(x)
	}
	m := archsimd.LoadFloat32x16Slice(x)
	i := 16
	for ; i+16 <= len(x); i += 16 {
		m = m.Max(archsimd.LoadFloat32x16Slice(x[i:]))
	}
	var a [16]float32
	m.Store(&a)
	best := max32Go(a[:])
	if t := max32Go(x[i:]); t > best {
		best = t
	}
	return best
}

func sumExp32AVX512(x []float32, m float32) (float64, float64) {
	vm := archsimd.BroadcastFloat32x16(m)
	var s, t archsimd.Float32x16
	i := 0
	for ; i+16 <= len(x); i += 16 {
		d := archsimd.LoadFloat32x16Slice(x[i:]).Sub(vm)
		t = t.Add(d)
		s = s.Add(exp16(d))
	}
	ts, tt := sumExp32Go(x[i:], m)
	return hsum16(s) + ts, hsum16(t) + tt
}

func expAffine32AVX512(dst, x []float32, m, a, b float32) {
	vm := archsimd.BroadcastFloat32x16(m)
	va := archsimd.BroadcastFloat32x16(a)
	vb := archsimd.BroadcastFloat32x16(b)
	i := 0
	for ; i+16 <= len(x); i += 16 {
		exp16(archsimd.LoadFloat32x16Slice(x[i:]).Sub(vm)).MulAdd(va, vb).StoreSlice(dst[i:])
	}
	expAffine32Go(dst[i:], x[i:], m, a, b)
}
