package loss

import (
	"fmt"
	"math"
	"sync/atomic"

	"example.com/xent/internal/vmath"
)

// Float is the element type of logits and gradients: float32 or float64.
type Float = vmath.Float

// minElemsPerWorker keeps chunks big enough that splitting rows across cores pays for the
// hand-off (a few microseconds).
const minElemsPerWorker = 64 << 10

func minRows(k int) int { return max(1, minElemsPerWorker/max(k, 1)) }

// rowMaxSumExp returns m = max_k z[k], s = sum_k exp(z[k]-m) and t = sum_k (z[k]-m) for
// z [K]. t is non-finite, or m infinite, exactly when z holds a NaN or an infinity.
func rowMaxSumExp[T Float](z []T) (m T, s, t float64) {
	if z32, ok := any(z).([]float32); ok {
		m32, s, t := vmath.MaxSumExp32(z32)
		return T(m32), s, t
	}
	m = T(math.Inf(-1))
	for _, v := range z {
		if v > m {
			m = v
		}
	}
	for _, v := range z {
		d := float64(v - m)
		s += math.Exp(d)
		t += d
	}
	return m, s, t
}

// rowExpAffine writes dst[k] = exp(z[k]-m)*a + b for z, dst [K].
func rowExpAffine[T Float](dst, z []T, m T, a, b float64) {
	if z32, ok := any(z).([]float32); ok {
		vmath.ExpAffine32(any(dst).([]float32), z32, float32(m), float32(a), float32(b))
		return
	}
	for k, v := range z {
		dst[k] = T(math.Exp(float64(v-m))*a + b)
	}
}

// rowStats is what a forward pass keeps of its rows for the backward, per row n: the max
// m[n] and s[n] = sum_k exp(z[n,k]-m[n]), so that softmax(z_n)[k] = exp(z[n,k]-m[n])/s[n]
// and lse_n = m[n] + log s[n]; and t[n] = sum_k (z[n,k]-m[n]), non-finite (or m[n]
// infinite) exactly when the row holds a NaN or an infinity. For float32 it runs the
// vmath block kernels, whose float32 buffers it keeps.
type rowStats[T Float] struct {
	m       []T
	s, t, l []float64 // l = log s
	a, b    []float64 // per-row scale and offset for expAffine

	s32, t32, l32, a32, b32 []float32
}

func (st *rowStats[T]) resize(n int) {
	st.m, st.s, st.t, st.l = resized(st.m, n), resized(st.s, n), resized(st.t, n), resized(st.l, n)
	st.a, st.b = resized(st.a, n), resized(st.b, n)
	if _, ok := any(st.m).([]float32); ok {
		st.s32, st.t32, st.l32 = resized(st.s32, n), resized(st.t32, n), resized(st.l32, n)
		st.a32, st.b32 = resized(st.a32, n), resized(st.b32, n)
	}
}

// compute fills m, s, t and l = log s for rows [lo, hi) of z [N,K]. For float32 the
// logarithms are vmath.Logs32's, within 1 ulp of float32, 16 rows at a time.
func (st *rowStats[T]) compute(z []T, k, lo, hi int) {
	if z32, ok := any(z).([]float32); ok {
		m32 := any(st.m).([]float32)
		vmath.RowStats32(z32[lo*k:hi*k], k, m32[lo:hi], st.s32[lo:hi], st.t32[lo:hi])
		vmath.Logs32(st.l32[lo:hi], st.s32[lo:hi])
		for n := lo; n < hi; n++ {
			st.s[n], st.t[n], st.l[n] = float64(st.s32[n]), float64(st.t32[n]), float64(st.l32[n])
		}
		return
	}
	for n := lo; n < hi; n++ {
		st.m[n], st.s[n], st.t[n] = rowMaxSumExp(z[n*k : (n+1)*k])
		st.l[n] = math.Log(st.s[n])
	}
}

// bad reports whether row n holds a NaN or an infinity.
func (st *rowStats[T]) bad(n int) bool { return !finite(float64(st.m[n])) || !finite(st.t[n]) }

// expAffine writes dz[n,k] = exp(z[n,k]-m[n])*a[n] + b[n] for rows [lo, hi) of z, dz [N,K].
func (st *rowStats[T]) expAffine(dz, z []T, k, lo, hi int) {
	if z32, ok := any(z).([]float32); ok {
		for n := lo; n < hi; n++ {
			st.a32[n], st.b32[n] = float32(st.a[n]), float32(st.b[n])
		}
		vmath.ExpAffineRows32(any(dz).([]float32)[lo*k:hi*k], z32[lo*k:hi*k], k,
			any(st.m).([]float32)[lo:hi], st.a32[lo:hi], st.b32[lo:hi])
		return
	}
	for n := lo; n < hi; n++ {
		rowExpAffine(dz[n*k:(n+1)*k], z[n*k:(n+1)*k], st.m[n], st.a[n], st.b[n])
	}
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// firstNonFinite returns the first column of z [K] holding NaN or an infinity, or -1.
func firstNonFinite[T Float](z []T) int {
	for k, v := range z {
		if !finite(float64(v)) {
			return k
		}
	}
	return -1
}

// firstFault records the lowest row at fault when rows run on several cores, so that the
// error reported does not depend on the number of cores.
type firstFault struct{ row atomic.Int64 }

func (f *firstFault) reset(n int) { f.row.Store(int64(n)) }

func (f *firstFault) report(n int) {
	for {
		cur := f.row.Load()
		if int64(n) >= cur || f.row.CompareAndSwap(cur, int64(n)) {
			return
		}
	}
}

// at returns the row at fault, or -1 when there is none among n rows.
func (f *firstFault) at(n int) int {
	if r := int(f.row.Load()); r < n {
		return r
	}
	return -1
}

// checkUpstream panics unless an upstream gradient of length ng fits the reduction over n rows:
// one value for Mean and Sum, n for None.
func checkUpstream(kernel string, r Reduction, ng, n int) {
	want := 1
	if r == None {
		want = n
	}
	if ng != want {
		panic(fmt.Sprintf("loss: %s.Backward: upstream gradient of length %d, want %d", kernel, ng, want))
	}
}

// resized returns s with length n, reusing its storage when it is large enough.
func resized[E any](s []E, n int) []E {
	if cap(s) < n {
		return make([]E, n)
	}
	return s[:n]
}
