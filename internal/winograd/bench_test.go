package winograd

import (
	"fmt"
	"testing"

	"example.com/xent/internal/conv3"
)

// BenchmarkPhases times each step of a chunk of 16 images on one core, at airbench's
// Winograd-sized convolutions (weights once a step, dw-weights once per group of chunks),
// and beside them conv3's direct kernel on the same 16 images, the path Winograd replaces.
func BenchmarkPhases(b *testing.B) {
	for _, tc := range []struct{ c, f, h int }{{256, 256, 7}, {64, 256, 15}, {256, 64, 15}, {64, 64, 15}} {
		p, _ := NewPlan(tc.c, tc.f, tc.h, tc.h)
		x := make([]float32, Lanes*tc.c*tc.h*tc.h)
		y := make([]float32, Lanes*tc.f*tc.h*tc.h)
		u, w := make([]float32, p.WeightsLen()), make([]float32, tc.f*tc.c*9)
		v, m, scratch := make([]float32, p.InputLen()), make([]float32, p.OutputLen()), make([]float32, p.ScratchLen())
		vt, d, dwt := make([]float32, p.TransposedLen()), make([]float32, p.GradOutputLen()), make([]float32, p.WeightGradLen())
		dw := make([]float32, tc.f*9*tc.c)
		p.TransformWeights(u, w) // every buffer written once before any phase is timed
		p.TransformInput(v, x, scratch, Lanes)
		p.Multiply(m, u, v)
		products := float64(36 * p.fp * tc.c * p.Columns()) // multiply-adds of Multiply
		for _, ph := range []struct {
			name  string
			flops float64
			run   func()
		}{
			{"weights", 0, func() { p.TransformWeights(u, w) }},
			{"input", 0, func() { p.TransformInput(v, x, scratch, Lanes) }},
			{"multiply", 2 * products, func() { p.Multiply(m, u, v) }},
			{"output", 0, func() { p.TransformOutput(y, m, nil, scratch, Lanes) }},
			{"dw-transpose", 0, func() { p.TransposeInput(vt, v) }},
			{"dw-gradoutput", 0, func() { p.TransformGradOutput(d, y, scratch, Lanes) }},
			{"dw-multiply", 2 * float64(36*p.fp*p.cPad()*p.Columns()), func() { p.AccumulateWeightGrad(dwt, d, vt) }},
			{"dw-weights", 0, func() { p.TransformWeightGrad(dw, dwt) }},
			{"conv3-direct", 0, directConvolution(tc.c, tc.f, tc.h, x, w, y)},
		} {
			b.Run(fmt.Sprintf("c%d_f%d_%dx%d/%s", tc.c, tc.f, tc.h, tc.h, ph.name), func(b *testing.B) {
				if ph.run == nil {
					b.Skip("no AVX-512 kernel")
				}
				for b.Loop() {
					ph.run()
				}
				if ph.flops > 0 {
					b.ReportMetric(float64(b.N)*ph.flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				}
			})
		}
	}
}

// directConvolution returns conv3's direct convolution of the Lanes images x into y, or nil
// without its AVX-512 kernel.
func directConvolution(c, f, h int, x, w, y []float32) func() {
	if !conv3.Fast {
		return nil
	}
	d, _ := conv3.NewPlan(c, f, h, h)
	xp, wp := make([]float32, d.PaddedLen()), make([]float32, d.PackedLen())
	d.PackWeights(wp, w)
	in, out := c*h*h, f*h*h
	return func() {
		for n := range Lanes {
			d.Pad(xp, x[n*in:(n+1)*in])
			d.Convolve(y[n*out:(n+1)*out], xp, wp, conv3.Epilogue{})
		}
	}
}
