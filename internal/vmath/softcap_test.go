package vmath

import (
	"math"
	"testing"
)

func TestSoftcap32(t *testing.T) {
	var x []float32
	for v := -12.0; v <= 12; v += 0.0137 {
		x = append(x, float32(v))
	}
	x = append(x, 0, 1e-30, -1e-20, 3e38, -3e38, 0.6249, 0.6251)
	for _, s := range []float32{1, 2.5, 30} {
		for _, n := range []int{len(x), 15, 17, 1} {
			dst := make([]float32, n)
			if !Softcap32(dst, x[:n], s) {
				t.Fatalf("finite input reported non-finite")
			}
			for i, v := range x[:n] {
				want := float64(s) * math.Tanh(float64(v)/float64(s))
				ulp := math.Abs(float64(math.Nextafter32(float32(want), float32(math.Inf(1))) - float32(want)))
				if d := math.Abs(float64(dst[i]) - want); d > 3*ulp && d > 1e-45 {
					t.Fatalf("s=%v: softcap(%v) = %v, want %v (%.1f ulp)", s, v, dst[i], want, d/ulp)
				}
			}
		}
	}
	for _, bad := range []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())} {
		in := []float32{1, 2, bad, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}
		if Softcap32(make([]float32, len(in)), in, 5) {
			t.Errorf("%v: reported finite", bad)
		}
	}
	dz, zc := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}, make([]float32, 17)
	for i := range zc {
		zc[i] = float32(i) / 4
	}
	want := make([]float32, len(dz))
	for i := range dz {
		u := zc[i] / 5
		want[i] = dz[i] * (1 - u*u)
	}
	SoftcapGrad32(dz, zc, 5)
	for i := range dz {
		if math.Abs(float64(dz[i]-want[i])) > 1e-6*math.Abs(float64(want[i]))+1e-7 {
			t.Errorf("grad %d: %v, want %v", i, dz[i], want[i])
		}
	}
}
