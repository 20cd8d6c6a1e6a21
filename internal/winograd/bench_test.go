package winograd

import (
	"fmt"
	"testing"
)

// BenchmarkPhases times each step of a chunk of 16 images on one core, at airbench's
// Winograd-sized convolutions (dw-weights once per group of chunks).
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
		vt, d, dwt := make([]float32, p.TransposedLen()), make([]float32, p.GradOutputLen()), make([]float32, p.WeightGradLen())
		b.Run(name+"/dw-transpose", func(b *testing.B) {
			for b.Loop() {
				p.TransposeInput(vt, v)
			}
		})
		b.Run(name+"/dw-gradoutput", func(b *testing.B) {
			for b.Loop() {
				p.TransformGradOutput(d, y, scratch, Lanes)
			}
		})
		b.Run(name+"/dw-multiply", func(b *testing.B) {
			for b.Loop() {
				p.AccumulateWeightGrad(dwt, d, vt)
			}
			b.ReportMetric(float64(b.N)*36*float64(p.fp*p.cPad()*p.Columns())*2/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		dw := make([]float32, tc.f*9*tc.c)
		b.Run(name+"/dw-weights", func(b *testing.B) {
			for b.Loop() {
				p.TransformWeightGrad(dw, dwt)
			}
		})
	}
}
