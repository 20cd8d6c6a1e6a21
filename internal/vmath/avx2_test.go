//go:build goexperiment.simd && amd64

package vmath

import (
	"math"
	"math/rand/v2"
	"simd/archsimd"
	"testing"
)

// The AVX2 kernels are checked directly against the Go ones on every processor with AVX2
// and FMA, AVX-512 ones included (where the dispatch would not pick them).
func needAVX2(t *testing.T) {
	if !archsimd.X86.AVX2() || !archsimd.X86.FMA() {
		t.Skip("this processor has no AVX2 with FMA")
	}
}

// avx2Inputs are rows of n values from N(0, scale^2) with the edges of exp in them: 0,
// -Inf, +Inf, NaN, far below expMin, near expMax, subnormal results.
func avx2Inputs(n int, scale float64, edges bool) []float32 {
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * scale)
	}
	if edges {
		special := []float32{0, float32(math.Inf(-1)), float32(math.Inf(1)), float32(math.NaN()), -200, -103.5, -100, -87.5, 88.5, 88.8, 89.5, 1e30, -1e30}
		for i, v := range special {
			if i*3 < n {
				x[i*3] = v
			}
		}
	}
	return x
}

// sameOrClose reports whether got and want are both NaN, equal, or within ulp ulps.
func sameOrClose(got, want float32, ulp float64) bool {
	if got != got || want != want {
		return got != got && want != want
	}
	if got == want {
		return true
	}
	if math.IsInf(float64(want), 0) || math.IsInf(float64(got), 0) {
		return false
	}
	return ulps(got, float64(want)) <= ulp
}

func TestExp8MatchesExp32(t *testing.T) {
	needAVX2(t)
	x := avx2Inputs(4096, 40, true)
	for i := 0; i+8 <= len(x); i += 8 {
		var got [8]float32
		exp8(archsimd.LoadFloat32x8Slice(x[i:])).Store(&got)
		for j, g := range got {
			if want := Exp32(x[i+j]); !sameOrClose(g, want, 1) {
				t.Fatalf("exp8(%v) = %v, Exp32 %v", x[i+j], g, want)
			}
		}
	}
	archsimd.ClearAVXUpperBits()
}

func TestAVX2KernelsMatchGo(t *testing.T) {
	needAVX2(t)
	for _, n := range []int{1, 7, 8, 9, 31, 32, 33, 100, 1000} {
		x := avx2Inputs(n, 20, false)
		dy := avx2Inputs(n+1, 1, false)[1:]
		m, s, tt := maxSumExp32AVX2(x)
		gm, gs, gt := maxSumExp32Go(x)
		if m != gm || math.Abs(s-gs) > 1e-6*gs || math.Abs(tt-gt) > 1e-5*math.Abs(gt)+1e-4 {
			t.Errorf("n=%d: maxSumExp32AVX2 %v %v %v, Go %v %v %v", n, m, s, tt, gm, gs, gt)
		}
		a, b := make([]float32, n), make([]float32, n)
		check := func(name string, ulp float64) {
			t.Helper()
			for i := range a {
				if !sameOrClose(a[i], b[i], ulp) && math.Abs(float64(a[i]-b[i])) > 1e-7 {
					t.Fatalf("n=%d: %s[%d] of %v: AVX2 %v, Go %v", n, name, i, x[i], a[i], b[i])
				}
			}
		}
		expAffine32AVX2(a, x, m, 0.5, -0.25)
		expAffine32Go(b, x, m, 0.5, -0.25)
		check("expAffine32", 2)
		gelu32AVX2(a, x)
		gelu32Go(b, x)
		check("gelu32", 4)
		geluGrad32AVX2(a, x, dy)
		geluGrad32Go(b, x, dy)
		check("geluGrad32", 4)
		relu32AVX2(a, x)
		relu32Go(b, x)
		check("relu32", 0)
		reluGrad32AVX2(a, x, dy)
		reluGrad32Go(b, x, dy)
		check("reluGrad32", 0)
		if got, want := sum32AVX2(x), sum32Go(x); math.Abs(got-want) > 1e-5*(1+math.Abs(want)) {
			t.Errorf("n=%d: sum32AVX2 %v, Go %v", n, got, want)
		}
		w, g, mom := append([]float32(nil), x...), dy, append([]float32(nil), dy...)
		w2, mom2 := append([]float32(nil), x...), append([]float32(nil), dy...)
		sgdMomentum32AVX2(w, g, mom, 0.1, 1e-3, 0.9, 0.75, true, false)
		sgdMomentum32Go(w2, g, mom2, 0.1, 1e-3, 0.9, 0.75, true, false)
		for i := range w {
			if w[i] != w2[i] || mom[i] != mom2[i] {
				t.Fatalf("n=%d: sgdMomentum32AVX2 element %d: %v %v, Go %v %v", n, i, w[i], mom[i], w2[i], mom2[i])
			}
		}
	}
}

// The row kernels on rows shorter and longer than a vector, with a NaN and infinities in
// some rows: the same statistics as the Go kernels (non-finite where those are).
func TestAVX2RowKernelsMatchGo(t *testing.T) {
	needAVX2(t)
	for _, k := range []int{3, 8, 10, 17, 100} {
		rows := 13
		z := avx2Inputs(rows*k, 10, false)
		z[2*k+1], z[5*k] = float32(math.NaN()), float32(math.Inf(1))
		m, s, tt := make([]float32, rows), make([]float32, rows), make([]float32, rows)
		gm, gs, gt := make([]float32, rows), make([]float32, rows), make([]float32, rows)
		rowStats32AVX2(z, k, m, s, tt)
		rowStats32Go(z, k, gm, gs, gt)
		for r := range rows {
			if !sameOrClose(m[r], gm[r], 0) || !sameOrClose(s[r], gs[r], 4) || (tt[r] == tt[r]) != (gt[r] == gt[r]) {
				t.Fatalf("k=%d row %d: AVX2 %v %v %v, Go %v %v %v", k, r, m[r], s[r], tt[r], gm[r], gs[r], gt[r])
			}
		}
		a, b := make([]float32, rows), make([]float32, rows)
		for r := range rows {
			a[r], b[r] = float32(r)*0.1, -0.01*float32(r)
		}
		for r := range gm { // finite maxima only: rows with a NaN give NaN either way
			if math.IsInf(float64(gm[r]), 0) || gm[r] != gm[r] {
				gm[r] = 0
			}
		}
		d1, d2 := make([]float32, len(z)), make([]float32, len(z))
		expAffineRows32AVX2(d1, z, k, gm, a, b)
		expAffineRows32Go(d2, z, k, gm, a, b)
		for i := range d1 {
			if !sameOrClose(d1[i], d2[i], 2) && math.Abs(float64(d1[i]-d2[i])) > 1e-7 {
				t.Fatalf("k=%d element %d of %v: expAffineRows32 AVX2 %v, Go %v", k, i, z[i], d1[i], d2[i])
			}
		}
	}
}

func TestAVX2MaxPoolMatchesGo(t *testing.T) {
	needAVX2(t)
	rng := rand.New(rand.NewPCG(9, 9))
	for _, w := range []int{32, 31, 16, 15, 8, 7, 6, 3, 2, 47} {
		ho, wo := 4, w/2
		x := make([]float32, 2*ho*w+3)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
			if i%5 == 0 {
				x[i] = 0 // ties
			}
		}
		y, arg, y2, arg2 := make([]float32, ho*wo), make([]int32, ho*wo), make([]float32, ho*wo), make([]int32, ho*wo)
		maxPool2x2AVX2(y, arg, x, w, ho, wo)
		maxPool2x2Go(y2, arg2, x, w, ho, wo)
		for o := range y {
			if y[o] != y2[o] || arg[o] != arg2[o] {
				t.Fatalf("w=%d output %d: AVX2 %v at %d, Go %v at %d", w, o, y[o], arg[o], y2[o], arg2[o])
			}
		}
	}
}
