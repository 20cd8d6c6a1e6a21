//go:build goexperiment.simd && amd64

package vmath

import (
	"math"

	"simd/archsimd"
)

func init() {
	if archsimd.X86.AVX512() {
		kernels = "avx512"
		maxSumExp32 = maxSumExp32AVX512
		rowStats32 = rowStats32AVX512
		logs32 = logs32AVX512
		relu32 = relu32AVX512
		reluGrad32 = reluGrad32AVX512
		expAffineRows32 = expAffineRows32AVX512
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

// rowStatsVec returns a row's max, sum of exponentials and shifted sum, each broadcast to
// every lane.
func rowStatsVec(x []float32) (m, s, t archsimd.Float32x16) {
	negInf := archsimd.BroadcastFloat32x16(float32(math.Inf(-1)))
	m = negInf
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
	return m, allSum(s), allSum(t)
}

// Rows of at most 16 elements are done 16 rows at a time as one flat array of 16*K
// elements, K vectors: element j of vector v belongs to row (16v+j)/K of the block, so a
// per-row value held in one vector (a lane per row) is spread over the elements by one
// VPERMPS with the index vector rowOf[K][v]. This costs K exponentials per 16 rows instead
// of 16 mostly-masked ones and no horizontal reductions: 3-4x faster at K = 10.
var rowOf [17][16][16]uint32

func init() {
	for k := 1; k <= 16; k++ {
		for v := range k {
			for j := range 16 {
				rowOf[k][v][j] = uint32((16*v + j) / k)
			}
		}
	}
}

// shortRowStats does rows [0, 16) of a block of short rows z [16,K], K <= 16.
func shortRowStats(z []float32, k int, m, s, t []float32) {
	for r := range 16 { // scalar: each row's max and sum; t = sum - K*max
		row := z[r*k : (r+1)*k]
		mr, sum := row[0], float64(row[0])
		for _, v := range row[1:] {
			if v > mr {
				mr = v
			}
			sum += float64(v)
		}
		m[r], t[r] = mr, float32(sum-float64(k)*float64(mr))
	}
	var e [256]float32
	vm := archsimd.LoadFloat32x16Slice(m)
	for v := range k {
		spread := vm.Permute(archsimd.LoadUint32x16(&rowOf[k][v]))
		exp16(archsimd.LoadFloat32x16Slice(z[16*v:]).Sub(spread)).StoreSlice(e[16*v:])
	}
	archsimd.ClearAVXUpperBits()
	for r := range 16 {
		var sr float32
		for _, v := range e[r*k : (r+1)*k] {
			sr += v
		}
		s[r] = sr
	}
}

// rowStats32AVX512 writes each long row's results with one-lane masked stores: no scalar
// float instruction runs until the VZEROUPPER at the end.
func rowStats32AVX512(z []float32, k int, m, s, t []float32) {
	r0 := 0
	if k <= 16 {
		for ; r0+16 <= len(m); r0 += 16 {
			shortRowStats(z[r0*k:(r0+16)*k], k, m[r0:r0+16], s[r0:r0+16], t[r0:r0+16])
		}
	}
	for r := r0; r < len(m); r++ {
		mv, sv, tv := rowStatsVec(z[r*k : (r+1)*k])
		mv.StoreSlicePart(m[r : r+1])
		sv.StoreSlicePart(s[r : r+1])
		tv.StoreSlicePart(t[r : r+1])
	}
	archsimd.ClearAVXUpperBits()
}

// broadcastAt loads x[i] into every lane without a scalar float instruction.
func broadcastAt(x []float32, i int) archsimd.Float32x16 {
	return archsimd.LoadFloat32x4SlicePart(x[i : i+1]).Broadcast1To16()
}

func expAffineRows32AVX512(dst, z []float32, k int, m, a, b []float32) {
	r0 := 0
	if k <= 16 {
		for ; r0+16 <= len(m); r0 += 16 {
			vm := archsimd.LoadFloat32x16Slice(m[r0:])
			va := archsimd.LoadFloat32x16Slice(a[r0:])
			vb := archsimd.LoadFloat32x16Slice(b[r0:])
			x, d := z[r0*k:(r0+16)*k], dst[r0*k:(r0+16)*k]
			for v := range k {
				idx := archsimd.LoadUint32x16(&rowOf[k][v])
				e := exp16(archsimd.LoadFloat32x16Slice(x[16*v:]).Sub(vm.Permute(idx)))
				e.MulAdd(va.Permute(idx), vb.Permute(idx)).StoreSlice(d[16*v:])
			}
		}
	}
	for r := r0; r < len(m); r++ {
		vm, va, vb := broadcastAt(m, r), broadcastAt(a, r), broadcastAt(b, r)
		x, d := z[r*k:(r+1)*k], dst[r*k:(r+1)*k]
		i := 0
		for ; i+16 <= k; i += 16 {
			exp16(archsimd.LoadFloat32x16Slice(x[i:]).Sub(vm)).MulAdd(va, vb).StoreSlice(d[i:])
		}
		if i < k {
			exp16(archsimd.LoadFloat32x16SlicePart(x[i:]).Sub(vm)).MulAdd(va, vb).StoreSlicePart(d[i:])
		}
	}
	archsimd.ClearAVXUpperBits()
}

// maxSumExp32AVX512 keeps everything in vector registers, the max broadcast in every lane,
// so a row of up to 16 elements costs one masked load and no scalar code.
func maxSumExp32AVX512(x []float32) (float32, float64, float64) {
	m, s, t := rowStatsVec(x)
	mx, sx, tx := lane0(m), lane0(s), lane0(t)
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

// logP are Log32's polynomial coefficients (Cephes logf), highest degree first.
var logP = [9]float32{7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
	1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1}

// log16 is Log32 on 16 lanes, step for step, so that both give the same values.
func log16(x archsimd.Float32x16) archsimd.Float32x16 {
	bits := x.AsInt32x16()
	e := bits.ShiftAllRight(23).And(archsimd.BroadcastInt32x16(0xff)).
		Sub(archsimd.BroadcastInt32x16(126)).ConvertToFloat32()
	// f in [0.5, 1): keep sign and mantissa (mask 0x807fffff), set the exponent of 0.5
	mantissa, half := archsimd.BroadcastInt32x16(-0x7f800001), archsimd.BroadcastInt32x16(0x3f000000)
	f := bits.And(mantissa).Or(half).AsFloat32x16()
	one := archsimd.BroadcastFloat32x16(1)
	small := f.Less(archsimd.BroadcastFloat32x16(0.70710678118654752440))
	e = e.Sub(one.Masked(small))
	f = f.Add(f).Sub(one).Merge(f.Sub(one), small)
	z := f.Mul(f)
	y := archsimd.BroadcastFloat32x16(logP[0])
	for _, c := range logP[1:] {
		y = y.Mul(f).Add(archsimd.BroadcastFloat32x16(c))
	}
	y = y.Mul(f).Mul(z)
	y = y.Add(archsimd.BroadcastFloat32x16(ln2Lo).Mul(e))
	y = y.Sub(archsimd.BroadcastFloat32x16(0.5).Mul(z))
	return f.Add(y).Add(archsimd.BroadcastFloat32x16(ln2Hi).Mul(e))
}

func logs32AVX512(dst, x []float32) {
	i := 0
	for ; i+16 <= len(x); i += 16 {
		log16(archsimd.LoadFloat32x16Slice(x[i:])).StoreSlice(dst[i:])
	}
	if i < len(x) {
		one := archsimd.BroadcastFloat32x16(1)
		v := archsimd.LoadFloat32x16SlicePart(x[i:]).Merge(one, tailMask(len(x)-i))
		log16(v).StoreSlicePart(dst[i:])
	}
	archsimd.ClearAVXUpperBits()
}

func relu32AVX512(dst, x []float32) {
	var zero archsimd.Float32x16
	i := 0
	for ; i+16 <= len(x); i += 16 {
		archsimd.LoadFloat32x16Slice(x[i:]).Max(zero).StoreSlice(dst[i:])
	}
	archsimd.ClearAVXUpperBits()
	relu32Go(dst[i:], x[i:])
}

func reluGrad32AVX512(dx, y, dy []float32) {
	var zero archsimd.Float32x16
	i := 0
	for ; i+16 <= len(y); i += 16 {
		keep := archsimd.LoadFloat32x16Slice(y[i:]).Greater(zero)
		archsimd.LoadFloat32x16Slice(dy[i:]).Masked(keep).StoreSlice(dx[i:])
	}
	archsimd.ClearAVXUpperBits()
	reluGrad32Go(dx[i:], y[i:], dy[i:])
}
