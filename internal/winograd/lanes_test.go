package winograd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestLanesTransformsEqualPlanar checks the lanes-layout transforms against the NCHW ones
// on the same chunk of 16 images: V, y (with a bias) and D equal bit for bit, for plane
// sizes that fill the last tile and that do not, with both kernels (Go and, where built,
// AVX-512). Buffers start as garbage (NaN) so that a value left unwritten shows.
func TestLanesTransformsEqualPlanar(t *testing.T) {
	for _, simd := range []bool{false, true} {
		in, out, grad, gather, scatter := inputBlock, outputBlock, gradBlock, gatherRows, scatterRows
		if !simd {
			inputBlock, outputBlock, gradBlock, gatherRows, scatterRows = inputBlockGo, outputBlockGo, gradBlockGo, gatherRowsGo, scatterRowsGo
		}
		for _, tc := range []struct{ c, f, h, w int }{{1, 1, 1, 1}, {3, 5, 7, 7}, {2, 7, 4, 4}, {16, 6, 15, 15}, {5, 3, 8, 9}, {4, 2, 3, 10}} {
			t.Run(fmt.Sprintf("simd=%v/%+v", simd, tc), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(tc.c*7+tc.f), uint64(tc.h*100+tc.w)))
				p, err := NewPlan(tc.c, tc.f, tc.h, tc.w)
				if err != nil {
					t.Fatal(err)
				}
				x := normals(rng, Lanes*tc.c*tc.h*tc.w, 1)
				dy := normals(rng, Lanes*tc.f*tc.h*tc.w, 1)
				m := normals(rng, p.OutputLen(), 1)
				bias := normals(rng, tc.f, 1)
				xl, dyl := garbage(len(x)), garbage(len(dy))
				ToLanes(xl, x, tc.c*tc.h*tc.w)
				ToLanes(dyl, dy, tc.f*tc.h*tc.w)
				for n := range Lanes { // the layout itself: lane n of pixel k is image n's value k
					for k := range tc.c * tc.h * tc.w {
						if xl[k*Lanes+n] != x[n*tc.c*tc.h*tc.w+k] {
							t.Fatalf("ToLanes: [%d][%d] = %g, want image %d's value %d, %g", k, n, xl[k*Lanes+n], n, k, x[n*tc.c*tc.h*tc.w+k])
						}
					}
				}
				back := garbage(len(x))
				FromLanes(back, xl, tc.c*tc.h*tc.w)
				same(t, "FromLanes(ToLanes(x))", back, x)

				v, vl := garbage(p.InputLen()), garbage(p.InputLen())
				p.TransformInput(v, x, garbage(p.ScratchLen()), Lanes)
				p.TransformInputLanes(vl, xl, garbage(p.ScratchLen()))
				same(t, "V", vl, v)

				y, yl := garbage(len(dy)), garbage(len(dy))
				p.TransformOutput(y, m, bias, garbage(p.ScratchLen()), Lanes)
				p.TransformOutputLanes(yl, m, bias, garbage(p.ScratchLen()))
				yBack := garbage(len(y))
				FromLanes(yBack, yl, tc.f*tc.h*tc.w)
				same(t, "y", yBack, y)

				d, dl := garbage(p.GradOutputLen()), garbage(p.GradOutputLen())
				p.TransformGradOutput(d, dy, garbage(p.ScratchLen()), Lanes)
				p.TransformGradOutputLanes(dl, dyl, garbage(p.ScratchLen()))
				same(t, "D", dl, d)
			})
		}
		inputBlock, outputBlock, gradBlock, gatherRows, scatterRows = in, out, grad, gather, scatter
	}
}

// garbage returns n NaNs.
func garbage(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(math.NaN())
	}
	return s
}

// same fails unless got and want hold the same bits (want has no NaN: a NaN in got is a
// value left unwritten).
func same(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %g, want %g", what, i, got[i], want[i])
		}
	}
}
