//go:build goexperiment.simd && amd64

package blas

import (
	"simd/archsimd"
	"sync"
	"unsafe"

	"example.com/xent/internal/vmath"
)

// The float32 GEMM of the AVX-512 build, in the manner of BLIS and llm.c's matmul: C is
// computed in tiles of mr x nr = 4 x 32 (8 accumulators of 16 lanes), from A packed in
// strips of 4 rows and B packed in strips of 32 columns, each strip [kc][4] or [kc][32]
// contiguous, so that the inner loop reads both sequentially. Blocks: kc = 256 steps of k
// (a B strip is 32 KB, in L1), mc = 64 rows of A (64 KB, in L2), nc = 1024 columns of B
// (1 MB). Measured on one core (BenchmarkSgemmShapes): 129-152 GFLOP/s at airbench's
// shapes, against 112-126 for OpenBLAS's sgemm, which runs its AVX2 kernels on this machine
// (OPENBLAS_CORETYPE=Haswell is set, since older OpenBLAS builds misbehave on these
// processors). Larger tiles measured slower: Go gives SIMD code 15 vector registers, and
// 5 x 32 or 8 x 32 tiles spill their accumulators (60-70 GFLOP/s); unrolling k by 2 took the
// 4 x 32 tile from 105 to 125, broadcasting A's values from 4-float loads (vmath.BroadcastAt) to 129-152.
const (
	mr = 4
	nr = 32
	kc = 256
	mc = 16 * mr
	nc = 1024
)

func init() {
	if archsimd.X86.AVX512() {
		simdSgemm = sgemmAVX512
		simdPackBytes = 4 * (mc*kc + 3 + kc*nc)
	}
}

type packBufs struct{ a, b []float32 }

// The packed A has 3 floats of slack at the end: the micro-kernel reads each of its values
// as the first of 4 (vmath.BroadcastAt).
var packs = sync.Pool{New: func() any { return &packBufs{a: make([]float32, mc*kc+3), b: make([]float32, kc*nc)} }}

// sgemmAVX512 is Gemm's float32 product on one core.
func sgemmAVX512(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	if beta != 1 {
		for i := range m {
			row := c[i*ldc : i*ldc+n]
			if beta == 0 {
				clear(row)
				continue
			}
			for j := range row {
				row[j] *= beta
			}
		}
	}
	if k <= 0 || alpha == 0 {
		return
	}
	p := packs.Get().(*packBufs)
	defer packs.Put(p)
	for j0 := 0; j0 < n; j0 += nc {
		nb := min(nc, n-j0)
		for p0 := 0; p0 < k; p0 += kc {
			kb := min(kc, k-p0)
			packB(p.b, b, ldb, transB, p0, kb, j0, nb)
			for i0 := 0; i0 < m; i0 += mc {
				mb := min(mc, m-i0)
				packA(p.a, a, lda, transA, i0, mb, p0, kb)
				macroKernel(mb, nb, kb, alpha, p.a, p.b, c[i0*ldc+j0:], ldc)
			}
		}
	}
	archsimd.ClearAVXUpperBits()
}

// packA writes rows [i0, i0+mb) and steps [p0, p0+kb) of op(A) as strips of mr rows:
// dst[(s*kb+p)*mr + r] = op(A)[i0+s*mr+r, p0+p], zero past row mb.
func packA(dst, a []float32, lda int, trans bool, i0, mb, p0, kb int) {
	for s := 0; s*mr < mb; s++ {
		strip := dst[s*kb*mr : (s+1)*kb*mr]
		rows := min(mr, mb-s*mr)
		if !trans && rows == mr { // 16 steps of 4 rows at a time, then the rest one by one
			i := i0 + s*mr
			r0, r1, r2, r3 := a[i*lda+p0:][:kb], a[(i+1)*lda+p0:][:kb], a[(i+2)*lda+p0:][:kb], a[(i+3)*lda+p0:][:kb]
			p := 0
			for ; p+16 <= kb; p += 16 {
				pack4((*[64]float32)(strip[p*mr:p*mr+64]), archsimd.LoadFloat32x16Slice(r0[p:]), archsimd.LoadFloat32x16Slice(r1[p:]),
					archsimd.LoadFloat32x16Slice(r2[p:]), archsimd.LoadFloat32x16Slice(r3[p:]))
			}
			for ; p < kb; p++ {
				strip[p*mr], strip[p*mr+1], strip[p*mr+2], strip[p*mr+3] = r0[p], r1[p], r2[p], r3[p]
			}
			continue
		}
		for r := range mr {
			i := i0 + s*mr + r
			if r >= rows {
				for p := range kb {
					strip[p*mr+r] = 0
				}
				continue
			}
			if trans { // op(A)[i,p] = a[p*lda+i]
				for p := range kb {
					strip[p*mr+r] = a[(p0+p)*lda+i]
				}
				continue
			}
			src := a[i*lda+p0 : i*lda+p0+kb]
			for p, v := range src {
				strip[p*mr+r] = v
			}
		}
	}
}

// Index vectors of ConcatPermute (result[i] = concat(x, y)[idx[i]]) that interleave x and
// y element by element (lo: elements 0-7, hi: 8-15), and then pairs of such interleavings
// two by two (q0: pairs 0-3, q1: pairs 4-7).
var (
	interleaveLo = [16]uint32{0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23}
	interleaveHi = [16]uint32{8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31}
	pairsQ0      = [16]uint32{0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23}
	pairsQ1      = [16]uint32{8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31}
)

// interleave4 returns the 4 x 16 block r0..r3 (4 rows of 16 steps) as 16 steps of 4, in
// four vectors of 4 steps each: o_k[4p + r] = r_r[4k + p], by two rounds of interleaving.
func interleave4(r0, r1, r2, r3 archsimd.Float32x16) (o0, o1, o2, o3 archsimd.Float32x16) {
	lo, hi := archsimd.LoadUint32x16(&interleaveLo), archsimd.LoadUint32x16(&interleaveHi)
	q0, q1 := archsimd.LoadUint32x16(&pairsQ0), archsimd.LoadUint32x16(&pairsQ1)
	a, b := r0.ConcatPermute(r1, lo), r2.ConcatPermute(r3, lo) // steps 0-7: (r0 r1) and (r2 r3) pairs
	o0, o1 = a.ConcatPermute(b, q0), a.ConcatPermute(b, q1)
	a, b = r0.ConcatPermute(r1, hi), r2.ConcatPermute(r3, hi) // steps 8-15
	return o0, o1, a.ConcatPermute(b, q0), a.ConcatPermute(b, q1)
}

// pack4 writes the 4 x 16 block r0..r3 (rows of A) to an A strip: dst[4p + r] = r_r[p].
func pack4(dst *[64]float32, r0, r1, r2, r3 archsimd.Float32x16) {
	o0, o1, o2, o3 := interleave4(r0, r1, r2, r3)
	o0.Store((*[16]float32)(dst[0:16]))
	o1.Store((*[16]float32)(dst[16:32]))
	o2.Store((*[16]float32)(dst[32:48]))
	o3.Store((*[16]float32)(dst[48:64]))
}

// transpose4 writes the 4 x 16 block r0..r3 (4 columns of op(B), 16 steps each) into a B
// strip: dst[p*nr + j] = r_j[p], each step's 4 values a 16-byte store.
func transpose4(dst []float32, r0, r1, r2, r3 archsimd.Float32x16) {
	_ = dst[15*nr+3]
	o0, o1, o2, o3 := interleave4(r0, r1, r2, r3)
	store4x4(dst, o0)
	store4x4(dst[4*nr:], o1)
	store4x4(dst[8*nr:], o2)
	store4x4(dst[12*nr:], o3)
}

// store4x4 stores the four 4-float quarters of v to dst, dst[nr:], dst[2nr:], dst[3nr:].
func store4x4(dst []float32, v archsimd.Float32x16) {
	l, h := v.GetLo(), v.GetHi()
	l.GetLo().Store((*[4]float32)(dst[0:4]))
	l.GetHi().Store((*[4]float32)(dst[nr : nr+4]))
	h.GetLo().Store((*[4]float32)(dst[2*nr : 2*nr+4]))
	h.GetHi().Store((*[4]float32)(dst[3*nr : 3*nr+4]))
}

// packB writes steps [p0, p0+kb) and columns [j0, j0+nb) of op(B) as strips of nr columns:
// dst[(t*kb+p)*nr + j] = op(B)[p0+p, j0+t*nr+j], zero past column nb.
func packB(dst, b []float32, ldb int, trans bool, p0, kb, j0, nb int) {
	for t := 0; t*nr < nb; t++ {
		strip := dst[t*kb*nr : (t+1)*kb*nr]
		cols := min(nr, nb-t*nr)
		jt := j0 + t*nr
		if trans { // op(B)[p,j] = b[j*ldb+p]
			j := 0
			if cols == nr { // 4 columns by 16 steps at a time, then the rest one by one
				p := 0
				for ; p+16 <= kb; p += 16 {
					for j = 0; j < nr; j += 4 {
						src := b[(jt+j)*ldb+p0+p:]
						transpose4(strip[p*nr+j:], archsimd.LoadFloat32x16Slice(src), archsimd.LoadFloat32x16Slice(src[ldb:]),
							archsimd.LoadFloat32x16Slice(src[2*ldb:]), archsimd.LoadFloat32x16Slice(src[3*ldb:]))
					}
				}
				for j = 0; j < nr && p < kb; j++ {
					src := b[(jt+j)*ldb+p0:]
					for q := p; q < kb; q++ {
						strip[q*nr+j] = src[q]
					}
				}
				continue
			}
			for ; j < nr; j++ {
				if j >= cols {
					for p := range kb {
						strip[p*nr+j] = 0
					}
					continue
				}
				src := b[(jt+j)*ldb+p0 : (jt+j)*ldb+p0+kb]
				for p, v := range src {
					strip[p*nr+j] = v
				}
			}
			continue
		}
		for p := range kb {
			row := strip[p*nr : (p+1)*nr]
			n := copy(row[:cols], b[(p0+p)*ldb+jt:])
			clear(row[n:])
		}
	}
}

// macroKernel adds alpha * (packed A [mb,kb]) x (packed B [kb,nb]) to c [mb,nb] (row stride
// ldc), a tile at a time; tiles cut by the edges go through a scratch tile.
func macroKernel(mb, nb, kb int, alpha float32, ap, bp, c []float32, ldc int) {
	var edge [mr * nr]float32
	for t := 0; t*nr < nb; t++ {
		cols := min(nr, nb-t*nr)
		b := bp[t*kb*nr : (t+1)*kb*nr]
		for s := 0; s*mr < mb; s++ {
			rows := min(mr, mb-s*mr)
			a := ap[s*kb*mr : (s+1)*kb*mr]
			if rows == mr && cols == nr {
				microKernel(kb, a, b, c[s*mr*ldc+t*nr:], ldc, alpha)
				continue
			}
			clear(edge[:])
			microKernel(kb, a, b, edge[:], nr, alpha)
			for r := range rows {
				dst := c[(s*mr+r)*ldc+t*nr:][:cols]
				for j, v := range edge[r*nr : r*nr+cols] {
					dst[j] += v
				}
			}
		}
	}
}

// microKernel adds alpha * a [kb][mr] x b [kb][nr] to the mr x nr tile at c (row stride
// ldc), its 8 accumulators in registers (Go allocates 15 vector registers), 2
// steps of k per iteration.
func microKernel(kb int, a, b, c []float32, ldc int, alpha float32) {
	if cap(a) < kb*mr+3 {
		panic("blas: packed A without its slack")
	}
	pa := unsafe.Pointer(unsafe.SliceData(a))
	var c00, c01, c10, c11, c20, c21, c30, c31 archsimd.Float32x16
	var b0, b1 archsimd.Float32x16
	for ; kb >= 2; kb -= 2 {
		bb := b[: 2*nr : 2*nr]
		b0, b1 = archsimd.LoadFloat32x16Slice(bb[0:]), archsimd.LoadFloat32x16Slice(bb[16:])
		c00 = vmath.BroadcastAt(pa, 0).MulAdd(b0, c00)
		c01 = vmath.BroadcastAt(pa, 0).MulAdd(b1, c01)
		c10 = vmath.BroadcastAt(pa, 4).MulAdd(b0, c10)
		c11 = vmath.BroadcastAt(pa, 4).MulAdd(b1, c11)
		c20 = vmath.BroadcastAt(pa, 8).MulAdd(b0, c20)
		c21 = vmath.BroadcastAt(pa, 8).MulAdd(b1, c21)
		c30 = vmath.BroadcastAt(pa, 12).MulAdd(b0, c30)
		c31 = vmath.BroadcastAt(pa, 12).MulAdd(b1, c31)
		b0, b1 = archsimd.LoadFloat32x16Slice(bb[32:]), archsimd.LoadFloat32x16Slice(bb[48:])
		c00 = vmath.BroadcastAt(pa, 16).MulAdd(b0, c00)
		c01 = vmath.BroadcastAt(pa, 16).MulAdd(b1, c01)
		c10 = vmath.BroadcastAt(pa, 20).MulAdd(b0, c10)
		c11 = vmath.BroadcastAt(pa, 20).MulAdd(b1, c11)
		c20 = vmath.BroadcastAt(pa, 24).MulAdd(b0, c20)
		c21 = vmath.BroadcastAt(pa, 24).MulAdd(b1, c21)
		c30 = vmath.BroadcastAt(pa, 28).MulAdd(b0, c30)
		c31 = vmath.BroadcastAt(pa, 28).MulAdd(b1, c31)
		pa, b = unsafe.Add(pa, 2*mr*4), b[2*nr:]
	}
	for ; kb > 0; kb-- {
		bb := b[:nr:nr]
		b0, b1 = archsimd.LoadFloat32x16Slice(bb[0:]), archsimd.LoadFloat32x16Slice(bb[16:])
		c00 = vmath.BroadcastAt(pa, 0).MulAdd(b0, c00)
		c01 = vmath.BroadcastAt(pa, 0).MulAdd(b1, c01)
		c10 = vmath.BroadcastAt(pa, 4).MulAdd(b0, c10)
		c11 = vmath.BroadcastAt(pa, 4).MulAdd(b1, c11)
		c20 = vmath.BroadcastAt(pa, 8).MulAdd(b0, c20)
		c21 = vmath.BroadcastAt(pa, 8).MulAdd(b1, c21)
		c30 = vmath.BroadcastAt(pa, 12).MulAdd(b0, c30)
		c31 = vmath.BroadcastAt(pa, 12).MulAdd(b1, c31)
		pa, b = unsafe.Add(pa, mr*4), b[nr:]
	}
	va := archsimd.BroadcastFloat32x16(alpha)
	var row []float32
	row = c[0*ldc : 0*ldc+32]
	c00.MulAdd(va, archsimd.LoadFloat32x16Slice(row)).StoreSlice(row)
	c01.MulAdd(va, archsimd.LoadFloat32x16Slice(row[16:])).StoreSlice(row[16:])
	row = c[1*ldc : 1*ldc+32]
	c10.MulAdd(va, archsimd.LoadFloat32x16Slice(row)).StoreSlice(row)
	c11.MulAdd(va, archsimd.LoadFloat32x16Slice(row[16:])).StoreSlice(row[16:])
	row = c[2*ldc : 2*ldc+32]
	c20.MulAdd(va, archsimd.LoadFloat32x16Slice(row)).StoreSlice(row)
	c21.MulAdd(va, archsimd.LoadFloat32x16Slice(row[16:])).StoreSlice(row[16:])
	row = c[3*ldc : 3*ldc+32]
	c30.MulAdd(va, archsimd.LoadFloat32x16Slice(row)).StoreSlice(row)
	c31.MulAdd(va, archsimd.LoadFloat32x16Slice(row[16:])).StoreSlice(row[16:])
}
