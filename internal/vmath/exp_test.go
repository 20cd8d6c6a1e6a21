package vmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

// ulps is the distance in units in the last place between got and the float64 value want,
// measured at want's float32 rounding.
func ulps(got float32, want float64) float64 {
	w := float32(want)
	ulp := math.Nextafter32(w, float32(math.Inf(1))) - w
	return math.Abs(float64(got)-want) / float64(ulp)
}

func TestExp32Accuracy(t *testing.T) {
	worst := 0.0
	for x := float32(-87); x < 88.7; x += 0.00731 {
		want := math.Exp(float64(x))
		if u := ulps(Exp32(x), want); u > worst {
			worst = u
		}
	}
	if worst > 2 {
		t.Errorf("Exp32: worst error %.2f ulp over [-87, 88.7], want <= 2", worst)
	}
	t.Logf("Exp32 worst error %.2f ulp", worst)
}

func TestExp32Edges(t *testing.T) {
	inf := float32(math.Inf(1))
	tests := []struct {
		x, want float32
	}{
		{0, 1},
		{-inf, 0},
		{-200, 0},
		{inf, inf},
		{89, inf},
		{-100, float32(math.Exp(-100))}, // subnormal
	}
	for _, tc := range tests {
		got := Exp32(tc.x)
		if got != tc.want && !(tc.want != 0 && ulps(got, float64(tc.want)) <= 2) {
			t.Errorf("Exp32(%v) = %v, want %v", tc.x, got, tc.want)
		}
	}
	if v := Exp32(float32(math.NaN())); v == v {
		t.Errorf("Exp32(NaN) = %v, want NaN", v)
	}
}

// TestKernels checks the dispatched kernels (AVX-512 in the simd build) against float64
// over lengths that exercise the vector body and the scalar tail.
func TestKernels(t *testing.T) {
	t.Logf("SIMD kernels in use: %v", SIMD())
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 7, 15, 16, 17, 33, 100, 1000, 32000} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * 20)
		}
		wantMax := math.Inf(-1)
		for _, v := range x {
			wantMax = math.Max(wantMax, float64(v))
		}
		m, s, tt := MaxSumExp32(x)
		if float64(m) != wantMax {
			t.Fatalf("n=%d: max = %v, want %v", n, m, wantMax)
		}
		var wantS, wantT float64
		for _, v := range x {
			wantS += math.Exp(float64(v - m))
			wantT += float64(v - m)
		}
		if math.Abs(s-wantS) > 1e-5*wantS || math.Abs(tt-wantT) > 1e-5*math.Abs(wantT)+1e-4 {
			t.Errorf("n=%d: MaxSumExp32 sums %v, %v, want %v, %v", n, s, tt, wantS, wantT)
		}
		dst := make([]float32, n)
		ExpAffine32(dst, x, m, 0.5, -0.25)
		for i, v := range x {
			want := math.Exp(float64(v-m))*0.5 - 0.25
			if math.Abs(float64(dst[i])-want) > 3e-7 {
				t.Fatalf("n=%d i=%d: ExpAffine32 = %v, want %v", n, i, dst[i], want)
			}
		}
	}
}

func TestNonFiniteShowsInShiftedSum(t *testing.T) {
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1)), float32(math.Inf(1))} {
		x := make([]float32, 40)
		x[21] = bad
		_, _, tt := MaxSumExp32(x)
		if !math.IsNaN(tt) && !math.IsInf(tt, 0) {
			t.Errorf("MaxSumExp32 with %v: shifted sum %v is finite", bad, tt)
		}
	}
}

func BenchmarkMaxSumExp32(b *testing.B) {
	x := make([]float32, 32000)
	for i := range x {
		x[i] = float32(i%97) * 0.1
	}
	b.SetBytes(int64(4 * len(x)))
	b.ReportAllocs()
	for b.Loop() {
		MaxSumExp32(x)
	}
}

func BenchmarkExpAffine32(b *testing.B) {
	x := make([]float32, 32000)
	dst := make([]float32, len(x))
	b.SetBytes(int64(8 * len(x)))
	b.ReportAllocs()
	for b.Loop() {
		ExpAffine32(dst, x, 10, 1, 0)
	}
}

// BenchmarkShortRow: a 10-class row is one masked vector step in the SIMD build.
func BenchmarkShortRow(b *testing.B) {
	x := []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	b.SetBytes(int64(4 * len(x)))
	b.ReportAllocs()
	for b.Loop() {
		MaxSumExp32(x)
	}
}

func TestLog32Accuracy(t *testing.T) {
	worst := 0.0
	for x := float32(1e-30); x < 1e30; x *= 1.0007 {
		if u := ulps(Log32(x), math.Log(float64(x))); u > worst {
			worst = u
		}
	}
	for x := float32(1); x < 40000; x += 0.37 { // the range the losses use: sums in [1, K]
		if u := ulps(Log32(x), math.Log(float64(x))); u > worst {
			worst = u
		}
	}
	if worst > 2 {
		t.Errorf("Log32: worst error %.2f ulp, want <= 2", worst)
	}
	if Log32(1) != 0 {
		t.Errorf("Log32(1) = %v, want exactly 0", Log32(1))
	}
	t.Logf("Log32 worst error %.2f ulp", worst)
}

// TestRowKernels checks the block kernels against the one-row kernels, row by row.
func TestRowKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, k := range []int{1, 10, 16, 17, 100} {
		const rows = 37
		z := make([]float32, rows*k)
		for i := range z {
			z[i] = float32(rng.NormFloat64() * 10)
		}
		m, s, tt := make([]float32, rows), make([]float32, rows), make([]float32, rows)
		RowStats32(z, k, m, s, tt)
		a, b := make([]float32, rows), make([]float32, rows)
		for r := range rows {
			wm, ws, wt := MaxSumExp32(z[r*k : (r+1)*k])
			if m[r] != wm || math.Abs(float64(s[r])-ws) > 1e-6*ws || math.Abs(float64(tt[r])-wt) > 1e-5*math.Abs(wt)+1e-4 {
				t.Fatalf("k=%d row %d: RowStats32 %v %v %v, MaxSumExp32 %v %v %v", k, r, m[r], s[r], tt[r], wm, ws, wt)
			}
			a[r], b[r] = float32(r)/rows, -float32(r)
		}
		dst := make([]float32, rows*k)
		ExpAffineRows32(dst, z, k, m, a, b)
		want := make([]float32, k)
		for r := range rows {
			ExpAffine32(want, z[r*k:(r+1)*k], m[r], a[r], b[r])
			for c := range k {
				if dst[r*k+c] != want[c] {
					t.Fatalf("k=%d row %d col %d: ExpAffineRows32 %v, ExpAffine32 %v", k, r, c, dst[r*k+c], want[c])
				}
			}
		}
	}
}

func TestRowStatsNonFinite(t *testing.T) {
	for _, k := range []int{3, 10, 16, 40} {
		for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1)), float32(math.Inf(1))} {
			z := make([]float32, 32*k)
			z[17*k+k/2] = bad
			m, s, tt := make([]float32, 32), make([]float32, 32), make([]float32, 32)
			RowStats32(z, k, m, s, tt)
			for r := range 32 {
				flagged := math.IsInf(float64(m[r]), 0) || math.IsNaN(float64(tt[r])) || math.IsInf(float64(tt[r]), 0)
				if flagged != (r == 17) {
					t.Errorf("k=%d %v: row %d flagged %v (m %v t %v)", k, bad, r, flagged, m[r], tt[r])
				}
			}
		}
	}
}

func BenchmarkRowStats32(b *testing.B) {
	const rows, k = 4096, 10
	z := make([]float32, rows*k)
	for i := range z {
		z[i] = float32(i%13) * 0.3
	}
	m, s, t := make([]float32, rows), make([]float32, rows), make([]float32, rows)
	b.SetBytes(int64(4 * len(z)))
	b.ReportAllocs()
	for b.Loop() {
		RowStats32(z, k, m, s, t)
	}
}

func TestLogs32MatchesLog32(t *testing.T) {
	var x []float32
	for v := float32(1e-20); v < 1e20; v *= 1.37 {
		x = append(x, v)
	}
	x = append(x, 1, 2, 0.70710677, 0.7071068, 10, 32000)
	dst := make([]float32, len(x))
	for _, n := range []int{len(x), 17, 16, 5} {
		Logs32(dst[:n], x[:n])
		for i := range n {
			if want := Log32(x[i]); dst[i] != want && ulps(dst[i], float64(want)) > 1 {
				t.Fatalf("Logs32(%v) = %v, Log32 %v", x[i], dst[i], want)
			}
		}
	}
}

func TestReLU(t *testing.T) {
	x := []float32{-2, 0, 3, float32(math.NaN()), -0.5, 7, 1e-30, -1e-30, 4, 5, 6, 7, 8, 9, 10, -11, 12, -13}
	dy := make([]float32, len(x))
	for i := range dy {
		dy[i] = float32(i + 1)
	}
	y, dx := make([]float32, len(x)), make([]float32, len(x))
	ReLU32(y, x)
	ReLUGrad32(dx, y, dy)
	for i, v := range x {
		want, wantD := float32(0), float32(0)
		if v > 0 {
			want, wantD = v, dy[i]
		}
		if v != v { // NaN passes through the forward; the gradient there is 0
			if y[i] == y[i] || dx[i] != 0 {
				t.Errorf("NaN: relu %v grad %v, want NaN 0", y[i], dx[i])
			}
			continue
		}
		if y[i] != want || dx[i] != wantD {
			t.Errorf("x=%v: relu %v grad %v, want %v %v", v, y[i], dx[i], want, wantD)
		}
	}
}
