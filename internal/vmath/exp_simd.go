//go:build goexperiment.simd && amd64

package vmath

import (
	"math"

	"simd/archsimd"
)

func init() {
	if archsimd.X86.AVX512() {
		simdOn = true
		maxSumExp32 = maxSumExp32AVX512
		expAffine32 = expAffine32AVX512
	}
}

// Each kernel ends its vector work with VZEROUPPER (ClearAVXUpperBits) before any scalar
// float code: without it, the scalar SSE instructions that follow run several times slower
// (measured: 240 ns instead of 40 ns for a 10-element row). Tails are handled with masked
// loads and stores, so a row shorter than 16 is one vector step.

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

// tailMask selects the first n < 16 lanes.
func tailMask(n int) archsimd.Mask32x16 { return archsimd.Mask32x16FromBits(uint16(1)<<n - 1) }

// lanePerms are the VPERMPS index vectors of a horizontal reduction in four steps: after
// combining v with each permutation of itself in turn, every lane holds the whole result.
var lanePerms = [4][16]uint32{
	{8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7},
	{4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11},
	{2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13},
	{1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14},
}

func allMax(v archsimd.Float32x16) archsimd.Float32x16 {
	for i := range lanePerms {
		v = v.Max(v.Permute(archsimd.LoadUint32x16(&lanePerms[i])))
	}
	return v
}

func allSum(v archsimd.Float32x16) archsimd.Float32x16 {
	for i := range lanePerms {
		v = v.Add(v.Permute(archsimd.LoadUint32x16(&lanePerms[i])))
	}
	return v
}

func lane0(v archsimd.Float32x16) float32 { return v.GetLo().GetLo().GetElem(0) }

// maxSumExp32AVX512 keeps everything in vector registers, the max broadcast in every lane,
// so a row of up to 16 elements costs one masked load and no scalar code.
func maxSumExp32AVX512(x []float32) (float32, float64, float64) {
	negInf := archsimd.BroadcastFloat32x16(float32(math.Inf(-1)))
	m := negInf
	full := len(x) &^ 15
	for i := 0; i < full; i += 16 {
		m = m.Max(archsimd.LoadFloat32x16Slice(x[i:]))
	}
	var mask archsimd.Mask32x16
	if full < len(x) {
		mask = tailMask(len(x) - full)
		m = m.Max(archsimd.LoadFloat32x16SlicePart(x[full:]).Merge(negInf, mask))
	}
	m = allMax(m)
	var s, t archsimd.Float32x16
	for i := 0; i < full; i += 16 {
		d := archsimd.LoadFloat32x16Slice(x[i:]).Sub(m)
		t = t.Add(d)
		s = s.Add(exp16(d))
	}
	if full < len(x) {
		d := archsimd.LoadFloat32x16SlicePart(x[full:]).Sub(m).Masked(mask)
		t = t.Add(d)
		s = s.Add(exp16(d).Masked(mask))
	}
	mx, sx, tx := lane0(m), lane0(allSum(s)), lane0(allSum(t))
	archsimd.ClearAVXUpperBits()
	return mx, float64(sx), float64(tx)
}

func expAffine32AVX512(dst, x []float32, m, a, b float32) {
	vm := archsimd.BroadcastFloat32x16(m)
	va := archsimd.BroadcastFloat32x16(a)
	vb := archsimd.BroadcastFloat32x16(b)
	i := 0
	for ; i+16 <= len(x); i += 16 {
		exp16(archsimd.LoadFloat32x16Slice(x[i:]).Sub(vm)).MulAdd(va, vb).StoreSlice(dst[i:])
	}
	if i < len(x) {
		exp16(archsimd.LoadFloat32x16SlicePart(x[i:]).Sub(vm)).MulAdd(va, vb).StoreSlicePart(dst[i:])
	}
	archsimd.ClearAVXUpperBits()
}
