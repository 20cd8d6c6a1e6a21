package blas

import (
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	gblas "gonum.org/v1/gonum/blas"
)

// naive is C = alpha*op(A)*op(B) + beta*C in float64, from the definition.
func naive(ta, tb bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				ai, bi := i*lda+p, p*ldb+j
				if ta {
					ai = p*lda + i
				}
				if tb {
					bi = j*ldb + p
				}
				av, bv := a[ai], b[bi]
				s += av * bv
			}
			c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
		}
	}
}

func TestGemmAgainstDefinition(t *testing.T) {
	t.Logf("implementation: %s", Name())
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sz := range [][3]int{{3, 4, 5}, {130, 140, 150}, {150, 130, 140}} { // split by columns, then by rows
		m, n, k := sz[0], sz[1], sz[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				a, b, c := make([]float64, m*k), make([]float64, k*n), make([]float64, m*n)
				for _, s := range [][]float64{a, b, c} {
					for i := range s {
						s[i] = rng.NormFloat64()
					}
				}
				lda, ldb := k, n
				if ta {
					lda = m
				}
				if tb {
					ldb = k
				}
				want := append([]float64(nil), c...)
				naive(ta, tb, m, n, k, 0.5, a, lda, b, ldb, 2, want, n)
				got := append([]float64(nil), c...)
				Gemm(ta, tb, m, n, k, 0.5, a, lda, b, ldb, 2, got, n)
				got32 := make([]float32, len(c))
				for i := range c {
					got32[i] = float32(c[i])
				}
				Gemm(ta, tb, m, n, k, float32(0.5), to32(a), lda, to32(b), ldb, float32(2), got32, n)
				for i := range want {
					if math.Abs(got[i]-want[i]) > 1e-10*math.Max(1, math.Abs(want[i])) ||
						math.Abs(float64(got32[i])-want[i]) > 1e-4*math.Max(1, math.Abs(want[i])) {
						t.Fatalf("%v ta=%v tb=%v: C[%d] = %v (float32 %v), want %v", sz, ta, tb, i, got[i], got32[i], want[i])
					}
				}
			}
		}
	}
}

func to32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// The float32 path (Gemm, and xent's AVX-512 GEMM itself in the SIMD build) across its block and tile edges:
// k past kc = 256, n past nc = 1024, m past mc = 64, partial 8 x 32 tiles, row strides wider
// than the matrices, and beta 0, 1 and 0.5 (beta 0 must overwrite NaN in C).
func TestGemmFloat32Edges(t *testing.T) {
	t.Logf("implementation: %s", Name())
	rng := rand.New(rand.NewPCG(3, 4))
	for _, sz := range [][3]int{{1, 1, 1}, {8, 32, 1}, {9, 33, 257}, {70, 1030, 300}, {64, 961, 216}, {16, 17, 600}} {
		m, n, k := sz[0], sz[1], sz[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, beta := range []float64{0, 1, 0.5} {
					rowsA, colsA := m, k
					if ta {
						rowsA, colsA = k, m
					}
					rowsB, colsB := k, n
					if tb {
						rowsB, colsB = n, k
					}
					lda, ldb, ldc := colsA+3, colsB+1, n+5
					a, b, c := make([]float64, rowsA*lda), make([]float64, rowsB*ldb), make([]float64, m*ldc)
					for _, s := range [][]float64{a, b, c} {
						for i := range s {
							s[i] = float64(float32(rng.NormFloat64()))
						}
					}
					want := append([]float64(nil), c...)
					naive(ta, tb, m, n, k, 0.5, a, lda, b, ldb, beta, want, ldc)
					impls := []func(got []float32){func(got []float32) {
						Gemm(ta, tb, m, n, k, float32(0.5), to32(a), lda, to32(b), ldb, float32(beta), got, ldc)
					}}
					if simdSgemm != nil { // whatever the size: Gemm runs it on large products only
						impls = append(impls, func(got []float32) {
							simdSgemm(ta, tb, m, n, k, float32(0.5), to32(a), lda, to32(b), ldb, float32(beta), got, ldc)
						})
					}
					for impl, gemm := range impls {
						got := to32(c)
						if beta == 0 {
							for i := range got {
								got[i] = float32(math.NaN())
							}
						}
						gemm(got)
						tol := 2e-6 * math.Sqrt(float64(k)) * 4
						for i := range m {
							for j := range ldc {
								g, w := float64(got[i*ldc+j]), want[i*ldc+j]
								if j >= n { // outside C: untouched
									if beta == 0 {
										continue
									}
									w = float64(float32(c[i*ldc+j]))
								}
								if !(math.Abs(g-w) <= tol*math.Max(1, math.Abs(w))) {
									t.Fatalf("impl %d: m%d n%d k%d ta=%v tb=%v beta=%v: C[%d,%d] = %v, want %v", impl, m, n, k, ta, tb, beta, i, j, g, w)
								}
							}
						}
					}
				}
			}
		}
	}
}

// BenchmarkSgemmShapes times one core's float32 GEMM at the shapes airbench's convolutions
// make (forward F x HW x CKK, weight gradient F x CKK x HW with B transposed), with the
// implementation in use and, where one replaces it, the one underneath (sgemm: OpenBLAS or
// gonum).
func BenchmarkSgemmShapes(b *testing.B) {
	for _, s := range []struct {
		name    string
		tb      bool
		m, n, k int
	}{
		{"fwd-64x961x216", false, 64, 961, 216},
		{"fwd-256x261x2304", false, 256, 261, 2304},
		{"dw-256x2304x261", true, 256, 2304, 261},
		{"fwd-32x1024x144", false, 32, 1024, 144},
	} {
		a, bm, c := make([]float32, s.m*s.k), make([]float32, s.k*s.n), make([]float32, s.m*s.n)
		for i := range a {
			a[i] = float32(i%7) - 3
		}
		for i := range bm {
			bm[i] = float32(i%5) - 2
		}
		ldb := s.n
		if s.tb {
			ldb = s.k
		}
		impls := map[string]func(){"in-use": func() { gemm(false, s.tb, s.m, s.n, s.k, 1, a, s.k, bm, ldb, 0, c, s.n) }}
		if simdSgemm != nil {
			tb := gblas.NoTrans
			if s.tb {
				tb = gblas.Trans
			}
			impls["underneath"] = func() { sgemm(gblas.NoTrans, tb, s.m, s.n, s.k, 1, a, s.k, bm, ldb, 0, c, s.n) }
		}
		for name, f := range impls {
			b.Run(s.name+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					f()
				}
				b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkGemmMLP times Gemm (split across cores) at the mlp's two large products, batch
// 128: the forward x [128,3072] x w^T (w [512,3072]) and the weight gradient dy^T x x.
func BenchmarkGemmMLP(b *testing.B) {
	x, w, dy := make([]float32, 128*3072), make([]float32, 512*3072), make([]float32, 128*512)
	y, dw := make([]float32, 128*512), make([]float32, 512*3072)
	for i := range w {
		w[i] = float32(i%7) - 3
	}
	for i := range x {
		x[i] = float32(i%5) - 2
	}
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"forward", func() { Gemm(false, true, 128, 512, 3072, 1, x, 3072, w, 3072, 1, y, 512) }},
		{"weight-grad", func() { Gemm(true, false, 512, 3072, 128, 1, dy, 512, x, 3072, 0, dw, 3072) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.f()
			}
			b.ReportMetric(2*128*512*3072*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func TestPreferSIMD(t *testing.T) {
	for _, c := range []struct {
		env, core string
		want      bool
	}{
		{"", "SkylakeX", false}, {"", "Cooperlake", false}, {"", "SAPPHIRERAPIDS", false},
		{"", "Haswell", true}, {"", "Zen", true}, {"", "", true},
		{"xent", "SkylakeX", true}, {"openblas", "Haswell", false},
	} {
		if got := preferSIMD(c.env, c.core); got != c.want {
			t.Errorf("XENT_GEMM=%q, OpenBLAS core %q: xent's kernel %v, want %v", c.env, c.core, got, c.want)
		}
	}
}

func TestUpgradeCore(t *testing.T) {
	avx512, bf16, avx2 := features{avx512: true}, features{avx512: true, bf16: true}, features{}
	for _, c := range []struct {
		core, xentGemm string
		f              features
		want           string
	}{
		{"Haswell", "", bf16, "Cooperlake"}, // a Zen 5 with OPENBLAS_CORETYPE=Haswell
		{"Haswell", "", avx512, "SkylakeX"},
		{"Zen", "", bf16, "Cooperlake"},
		{"Haswell", "", avx2, ""}, // a Zen 3
		{"Cooperlake", "", bf16, ""},
		{"SkylakeX", "", bf16, ""}, // OpenBLAS's own choice stands
		{"SAPPHIRERAPIDS", "", bf16, ""},
		{"Haswell", "openblas", bf16, ""}, // XENT_GEMM keeps OpenBLAS as started
		{"Haswell", "xent", bf16, ""},
	} {
		if got := upgradeCore(c.core, c.xentGemm, c.f); got != c.want {
			t.Errorf("upgradeCore(%q, XENT_GEMM=%q, %+v) = %q, want %q", c.core, c.xentGemm, c.f, got, c.want)
		}
	}
}

// TestCoreUpgraded checks that OpenBLAS runs its AVX-512 kernels on this processor when it
// has AVX-512, the library can switch (DYNAMIC_ARCH) and XENT_GEMM asks for no GEMM.
func TestCoreUpgraded(t *testing.T) {
	if blasCore == "" || !strings.Contains(name, "DYNAMIC_ARCH") {
		t.Skipf("no OpenBLAS built with DYNAMIC_ARCH here (%s)", Name())
	}
	if !hostFeatures().avx512 || os.Getenv("XENT_GEMM") != "" {
		t.Skipf("no AVX-512, or XENT_GEMM=%q set", os.Getenv("XENT_GEMM"))
	}
	if !avx512Core(blasCore) || !strings.Contains(name, blasCore) {
		t.Errorf("OpenBLAS runs %q (%s), want an AVX-512 family", blasCore, name)
	}
}
