//go:build goexperiment.simd && amd64

package vmath

import (
	"math"

	"simd/archsimd"
)

// The AVX2 kernels: the AVX-512 ones on 8 lanes, for processors with AVX2 and FMA but no
// AVX-512 (AMD before Zen 4, Intel's client cores). AVX2 has no VSCALEFPS and no mask
// registers, so 2^n is built from exponent bits and tails use VMASKMOVPS (LoadSlicePart,
// StoreSlicePart) with masks made by comparing a lane index.

// avx2 reports whether the AVX2 kernels are the ones to use.
func avx2() bool { return !archsimd.X86.AVX512() && archsimd.X86.AVX2() && archsimd.X86.FMA() }

func init() {
	if avx2() {
		kernels = "avx2"
		maxSumExp32 = maxSumExp32AVX2
		rowStats32 = rowStats32AVX2
		expAffine32 = expAffine32AVX2
		expAffineRows32 = expAffineRows32AVX2
		relu32 = relu32AVX2
		reluGrad32 = reluGrad32AVX2
	}
}

// exp8 is Exp32 on 8 lanes. x is clamped to [expMin, 89] (0 below, +Inf above, as
// Exp32), then 2^n = 2^(n>>1) * 2^(n - n>>1): two normal powers of two for n in
// [-150, 128], so that p*2^n is rounded once, into a subnormal where it is one, as
// Exp32's ldexp32 rounds it. A NaN lane stays NaN.
func exp8(x archsimd.Float32x8) archsimd.Float32x8 {
	ordered := x.Equal(x)
	c := x.Max(archsimd.BroadcastFloat32x8(expMin)).Min(archsimd.BroadcastFloat32x8(89))
	n := c.Mul(archsimd.BroadcastFloat32x8(log2e)).RoundToEven()
	r := n.MulAdd(archsimd.BroadcastFloat32x8(-ln2Hi), c)
	r = n.MulAdd(archsimd.BroadcastFloat32x8(-ln2Lo), r)
	p := archsimd.BroadcastFloat32x8(expP0)
	p = p.MulAdd(r, archsimd.BroadcastFloat32x8(expP1))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x8(expP2))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x8(expP3))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x8(expP4))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x8(expP5))
	p = p.MulAdd(r.Mul(r), r).Add(archsimd.BroadcastFloat32x8(1))
	bias := archsimd.BroadcastInt32x8(127)
	n1 := n.ConvertToInt32()
	n0 := n1.ShiftAllRight(1)
	n1 = n1.Sub(n0)
	s0 := n0.Add(bias).ShiftAllLeft(23).AsFloat32x8()
	s1 := n1.Add(bias).ShiftAllLeft(23).AsFloat32x8()
	return p.Mul(s0).Mul(s1).Merge(x, ordered)
}

var lanes8 = [8]int32{0, 1, 2, 3, 4, 5, 6, 7}

// firstLanes8 selects the first n lanes (n <= 8).
func firstLanes8(n int) archsimd.Mask32x8 {
	return archsimd.LoadInt32x8(&lanes8).Less(archsimd.BroadcastInt32x8(int32(n)))
}

// lanePerms8 are the VPERMPS index vectors of a horizontal reduction in three steps.
var lanePerms8 = [3][8]uint32{{4, 5, 6, 7, 0, 1, 2, 3}, {2, 3, 0, 1, 6, 7, 4, 5}, {1, 0, 3, 2, 5, 4, 7, 6}}

func allMax8(v archsimd.Float32x8) archsimd.Float32x8 {
	for i := range lanePerms8 {
		v = v.Max(v.Permute(archsimd.LoadUint32x8(&lanePerms8[i])))
	}
	return v
}

func allSum8(v archsimd.Float32x8) archsimd.Float32x8 {
	for i := range lanePerms8 {
		v = v.Add(v.Permute(archsimd.LoadUint32x8(&lanePerms8[i])))
	}
	return v
}

func lane0x8(v archsimd.Float32x8) float32 { return v.GetLo().GetElem(0) }

// rowStatsVec8 returns a row's max, sum of exponentials and shifted sum, each broadcast to
// every lane.
func rowStatsVec8(x []float32) (m, s, t archsimd.Float32x8) {
	negInf := archsimd.BroadcastFloat32x8(float32(math.Inf(-1)))
	m = negInf
	full := len(x) &^ 7
	for i := 0; i < full; i += 8 {
		m = m.Max(archsimd.LoadFloat32x8Slice(x[i:]))
	}
	var mask archsimd.Mask32x8
	if full < len(x) {
		mask = firstLanes8(len(x) - full)
		m = m.Max(archsimd.LoadFloat32x8SlicePart(x[full:]).Merge(negInf, mask))
	}
	m = allMax8(m)
	for i := 0; i < full; i += 8 {
		d := archsimd.LoadFloat32x8Slice(x[i:]).Sub(m)
		t = t.Add(d)
		s = s.Add(exp8(d))
	}
	if full < len(x) {
		d := archsimd.LoadFloat32x8SlicePart(x[full:]).Sub(m).Masked(mask)
		t = t.Add(d)
		s = s.Add(exp8(d).Masked(mask))
	}
	return m, allSum8(s), allSum8(t)
}

func maxSumExp32AVX2(x []float32) (float32, float64, float64) {
	m, s, t := rowStatsVec8(x)
	mx, sx, tx := lane0x8(m), lane0x8(s), lane0x8(t)
	archsimd.ClearAVXUpperBits()
	return mx, float64(sx), float64(tx)
}

// rowStats32AVX2 takes rows shorter than a vector in Go (a masked vector step per row costs
// more than the row), longer ones a vector step at a time, storing each row's results with
// one-lane masked stores.
func rowStats32AVX2(z []float32, k int, m, s, t []float32) {
	if k < 8 {
		rowStats32Go(z, k, m, s, t)
		return
	}
	for r := range m {
		mv, sv, tv := rowStatsVec8(z[r*k : (r+1)*k])
		mv.StoreSlicePart(m[r : r+1])
		sv.StoreSlicePart(s[r : r+1])
		tv.StoreSlicePart(t[r : r+1])
	}
	archsimd.ClearAVXUpperBits()
}

// expAffine8 writes dst = exp(x - m)*a + b, 8 lanes a step, the tail masked.
func expAffine8(dst, x []float32, m, a, b archsimd.Float32x8) {
	i := 0
	for ; i+8 <= len(x); i += 8 {
		exp8(archsimd.LoadFloat32x8Slice(x[i:]).Sub(m)).MulAdd(a, b).StoreSlice(dst[i:])
	}
	if i < len(x) {
		exp8(archsimd.LoadFloat32x8SlicePart(x[i:]).Sub(m)).MulAdd(a, b).StoreSlicePart(dst[i:])
	}
}

func expAffine32AVX2(dst, x []float32, m, a, b float32) {
	expAffine8(dst, x, archsimd.BroadcastFloat32x8(m), archsimd.BroadcastFloat32x8(a), archsimd.BroadcastFloat32x8(b))
	archsimd.ClearAVXUpperBits()
}

// broadcastAt8 loads x[i] into every lane without a scalar float instruction.
func broadcastAt8(x []float32, i int) archsimd.Float32x8 {
	return archsimd.LoadFloat32x4SlicePart(x[i : i+1]).Broadcast1To8()
}

func expAffineRows32AVX2(dst, z []float32, k int, m, a, b []float32) {
	if k < 8 {
		expAffineRows32Go(dst, z, k, m, a, b)
		return
	}
	for r := range m {
		expAffine8(dst[r*k:(r+1)*k], z[r*k:(r+1)*k], broadcastAt8(m, r), broadcastAt8(a, r), broadcastAt8(b, r))
	}
	archsimd.ClearAVXUpperBits()
}

func relu32AVX2(dst, x []float32) {
	var zero archsimd.Float32x8
	i := 0
	for ; i+8 <= len(x); i += 8 {
		v := archsimd.LoadFloat32x8Slice(x[i:])
		v.Max(zero).Merge(v, v.Equal(v)).StoreSlice(dst[i:]) // NaN stays NaN
	}
	archsimd.ClearAVXUpperBits()
	relu32Go(dst[i:], x[i:])
}

func reluGrad32AVX2(dx, y, dy []float32) {
	var zero archsimd.Float32x8
	i := 0
	for ; i+8 <= len(y); i += 8 {
		keep := archsimd.LoadFloat32x8Slice(y[i:]).Greater(zero)
		archsimd.LoadFloat32x8Slice(dy[i:]).Masked(keep).StoreSlice(dx[i:])
	}
	archsimd.ClearAVXUpperBits()
	reluGrad32Go(dx[i:], y[i:], dy[i:])
}
