package winograd

import (
	"fmt"
	"testing"
)

// BenchmarkPhases times each step of a chunk of 16 images on one core, at airbench's
// Winograd-sized convolutions.
func BenchmarkPhases(b *testing.B) {
	for _, tc := range []struct{ c, f, h int }{{256, 256, 7}, {64, 256, 15}, {256, 64, 15}, {64, 64, 15}} {
		p, _ := NewPlan(tc.c, tc.f, tc.h, tc.h)
		x := make([]float32, Lanes*tc.c*tc.h*tc.h)
		y := make([]float32, Lanes*tc.f*tc.h*tc.h)
		u, w := make([]float32, p.WeightsLen()), make([]float32, tc.f*tc.c*9)
		v, m, scratch := make([]float32, p.InputLen()), make([]float32, p.OutputLen()), make([]float32, p.ScratchLen())
		name := fmt.Sprintf("c%d_f%d_%dx%d", tc.c, tc.f, tc.h, tc.h)
		b.Run(name+"/weights", func(b *testing.B) {
			for b.Loop() {
				p.TransformWeights(u, w)
			}
		})
		b.Run(name+"/input", func(b *testing.B) {
			for b.Loop() {
				p.TransformInput(v, x, scratch, Lanes)
			}
		})
		b.Run(name+"/multiply", func(b *testing.B) {
			for b.Loop() {
				p.Multiply(m, u, v)
			}
			b.ReportMetric(float64(b.N)*36*float64(p.fp*tc.c*p.Columns())*2/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(name+"/output", func(b *testing.B) {
			for b.Loop() {
				p.TransformOutput(y, m, nil, scratch, Lanes)
			}
		})
	}
}
