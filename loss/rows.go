package loss

import (
	"fmt"
	"math"
	"sync/atomic"

	"xent/internal/vmath"
)

// Float is the element type of logits and gradients.
type Float interface{ float32 | float64 }

// minElemsPerWorker keeps chunks big enough that splitting rows across cores pays for the
// hand-off (a few microseconds).
const minElemsPerWorker = 8 << 10

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

// rowLog returns log s for a sum of exponentials s >= 1, in the precision of T: float32
// logits get vmath.Log32 (within 1 ulp of float32, four times faster than math.Log).
func rowLog[T Float](s float64) float64 {
	if _, ok := any(T(0)).(float32); ok {
		return float64(vmath.Log32(float32(s)))
	}
	return math.Log(s)
}

// rowExp returns exp(d) for d <= 0 in the precision of T.
func rowExp[T Float](d T) float64 {
	if d32, ok := any(d).(float32); ok {
		return float64(vmath.Exp32(d32))
	}
	return math.Exp(float64(d))
}

// rowStats is what a forward pass keeps of a row for its backward: the max m and
// s = sum_k exp(z[k]-m), so that softmax(z)[k] = exp(z[k]-m)/s and lse = m + log s.
type rowStats[T Float] struct {
	m T
	s float64
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

// grow returns s with length n, reusing its storage when it is large enough.
func grow[E any](s []E, n int) []E {
	if cap(s) < n {
		return make([]E, n)
	}
	return s[:n]
}
