package vmath

import (
	"math"
	"testing"
)

func TestSum32(t *testing.T) {
	for _, n := range []int{0, 1, 15, 63, 64, 65, 1000, 4099} {
		x := make([]float32, n)
		var want float64
		for i := range x {
			x[i] = float32(i%13)*0.25 - 1.3
			want += float64(x[i])
		}
		if got := Sum32(x); math.Abs(got-want) > 1e-6*float64(n+1) {
			t.Errorf("n %d: Sum32 = %v, want %v", n, got, want)
		}
	}
}
