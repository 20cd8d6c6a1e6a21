package parallel

import (
	"testing"
)

type spinRows struct{ out []float64 }

func (s *spinRows) Run(lo, hi int) {
	for i := lo; i < hi; i++ {
		x := 1.0
		for j := 0; j < 200; j++ {
			x = x*1.0000001 + 1e-9
		}
		s.out[i] = x
	}
}

func BenchmarkFor(b *testing.B) {
	s := &spinRows{out: make([]float64, 4096)}
	for b.Loop() {
		For(4096, 1, s)
	}
}
