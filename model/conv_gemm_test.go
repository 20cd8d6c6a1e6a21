package model

import (
	"testing"

	"gorgonia.org/tensor"

	"example.com/xent/internal/vmath"
)

// TestIm2col checks im2col against its definition, col[(c,i,j), (oy,ox)] = x[c, oy*S-P+i,
// ox*S-P+j] (0 outside), for the plane-keeping route (im2colSame) and the others, with
// images side by side (ld > HO*WO), in float64 and in float32.
func TestIm2col(t *testing.T) {
	t.Run("float64", testIm2col[float64])
	t.Run("float32", testIm2col[float32])
}

func testIm2col[T vmath.Float](t *testing.T) {
	for _, tc := range []struct{ c, h, w, k, stride, pad int }{
		{2, 5, 5, 3, 1, 1}, {3, 7, 7, 5, 1, 2}, {1, 3, 3, 7, 1, 3}, {2, 4, 6, 3, 1, 1},
		{2, 5, 5, 3, 2, 1}, {2, 6, 6, 2, 2, 0}, {3, 40, 40, 3, 2, 1}, {2, 33, 35, 5, 2, 2}, {1, 4, 4, 3, 1, 0}, {1, 2, 2, 5, 1, 4}, {2, 5, 4, 1, 1, 0},
	} {
		g, err := newConvGeom(tensor.Shape{1, tc.c, tc.h, tc.w}, tensor.Shape{1, tc.c, tc.k, tc.k}, tc.stride, tc.pad)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]T, g.chw)
		for i := range x {
			x[i] = T(i + 1)
		}
		ld := g.hw + 3
		col := make([]T, g.ckk*ld)
		for i := range col {
			col[i] = -1 // what im2col must overwrite, or leave beyond each row's HO*WO
		}
		im2col(col, x, &g, ld)
		for c := range g.c {
			for i := range g.kh {
				for j := range g.kw {
					row := col[((c*g.kh+i)*g.kw+j)*ld:][:ld]
					for p := range ld {
						want := T(-1)
						if p < g.hw {
							oy, ox := p/g.wo, p%g.wo
							y, xx := oy*g.stride-g.pad+i, ox*g.stride-g.pad+j
							want = 0
							if y >= 0 && y < g.h && xx >= 0 && xx < g.w {
								want = x[(c*g.h+y)*g.w+xx]
							}
						}
						if row[p] != want {
							t.Fatalf("%+v: col[(%d,%d,%d), %d] = %v, want %v", tc, c, i, j, p, row[p], want)
						}
					}
				}
			}
		}
	}
}
