package model

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/internal/graphop"
	"example.com/xent/internal/parallel"
	"example.com/xent/internal/vmath"
)

// bnKernel is BatchNorm2d over x [N,C,H,W] with scale g [C] and shift b [C], as PyTorch's:
//
//	training:   mu, var = mean and biased variance of channel c over N,H,W;
//	            y = g*(x - mu)/sqrt(var + eps) + b;
//	            running = (1-momentum)*running + momentum*(mu, unbiased var)
//	evaluation: y = g*(x - running mean)/sqrt(running var + eps) + b
//
// with, in training, xhat = (x - mu)/sqrt(var + eps) and M = N*H*W:
//
//	db = sum dy,  dg = sum dy*xhat,  dx = g/sqrt(var + eps) * (dy - db/M - xhat*dg/M)
//
// and in evaluation dx = g/sqrt(running var + eps) * dy. The running statistics live in
// tensors shared by the training and evaluation graphs of a model (and saved with it); only
// the training graph's op changes them. (Gorgonia's BatchNorm zeroes them whenever a
// machine is built and flips a shared op to inference.)
type bnKernel[T vmath.Float] struct {
	train        bool
	momentum     float64
	eps          float64
	runMean      []T // [C], shared with the other graph
	runVar       []T
	mean, invStd []float64    // of the last forward, per channel
	db, dg       []float64    // sum dy and sum dy*xhat per channel, of the backward under way
	step         graphop.Step // db and dg are made by the step's first gradient node, for all three
	y, dx        *tensor.Dense
	dgT, dbT     *tensor.Dense
	// the pass under way, for Run
	pass                     bnPass
	xs, gs, bs, ys, dys, dxs []T
	n, ch, hw                int
}

func (k *bnKernel[T]) String() string {
	return fmt.Sprintf("xent.BatchNorm2d{train=%v momentum=%v eps=%v stats=%p}", k.train, k.momentum, k.eps, k.runMean)
}
func (k *bnKernel[T]) DiffWRT() []bool { return []bool{true, true, true} }
func (k *bnKernel[T]) Types() ([]hm.Type, hm.Type) {
	return []hm.Type{graphop.Tensor4A, graphop.VectorA, graphop.VectorA}, graphop.Tensor4A
}

func (k *bnKernel[T]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	x := in[0]
	if x.Dims() != 4 || in[1].TotalSize() != x[1] || in[2].TotalSize() != x[1] {
		return nil, fmt.Errorf("batchnorm of %v with scale %v and shift %v: want [N,C,H,W], [C], [C]", x, in[1], in[2])
	}
	return x.Clone(), nil
}

// plane returns the offset of channel c of image i in x [N,C,HW].
func plane(i, c, ch, hw int) int { return (i*ch + c) * hw }

// bnPass is what Run does: the forward, the backward's per-channel sums, or dx.
type bnPass int

const (
	bnForward bnPass = iota
	bnSums
	bnDx
)

// Run does channels [lo, hi) of the pass under way; parallel.For calls it. Each channel's
// sums run in one order whatever the split, so results do not depend on the core count.
func (k *bnKernel[T]) Run(lo, hi int) {
	n, ch, hw := k.n, k.ch, k.hw
	m := float64(n * hw)
	x, g := k.xs, k.gs
	for c := lo; c < hi; c++ {
		switch k.pass {
		case bnForward:
			mean, variance := float64(k.runMean[c]), float64(k.runVar[c])
			if k.train {
				var sum, sq float64
				for i := range n {
					for _, v := range x[plane(i, c, ch, hw):][:hw] {
						sum += float64(v)
					}
				}
				mean = sum / m
				for i := range n {
					for _, v := range x[plane(i, c, ch, hw):][:hw] {
						d := float64(v) - mean
						sq += d * d
					}
				}
				variance = sq / m
				unbiased := sq / math.Max(m-1, 1)
				k.runMean[c] = T((1-k.momentum)*float64(k.runMean[c]) + k.momentum*mean)
				k.runVar[c] = T((1-k.momentum)*float64(k.runVar[c]) + k.momentum*unbiased)
			}
			inv := 1 / math.Sqrt(variance+k.eps)
			k.mean[c], k.invStd[c] = mean, inv
			scale, shift := T(float64(g[c])*inv), T(float64(k.bs[c])-float64(g[c])*inv*mean)
			for i := range n {
				off := plane(i, c, ch, hw)
				out := k.ys[off : off+hw]
				for j, v := range x[off : off+hw] {
					out[j] = v*scale + shift
				}
			}
		case bnSums: // db = sum dy, dg = sum dy*xhat
			mean, inv := k.mean[c], k.invStd[c]
			var db, dg float64
			for i := range n {
				off := plane(i, c, ch, hw)
				for j, v := range x[off : off+hw] {
					d := float64(k.dys[off+j])
					db += d
					dg += d * (float64(v) - mean) * inv
				}
			}
			k.db[c], k.dg[c] = db, dg
		case bnDx:
			mean, inv, gc := k.mean[c], k.invStd[c], float64(g[c])
			for i := range n {
				off := plane(i, c, ch, hw)
				for j, v := range x[off : off+hw] {
					d := float64(k.dys[off+j])
					if k.train {
						xhat := (float64(v) - mean) * inv
						d -= k.db[c]/m + xhat*k.dg[c]/m
					}
					k.dxs[off+j] = T(gc * inv * d)
				}
			}
		}
	}
}

// bind reads the inputs (and the upstream gradient of a backward pass) into the kernel.
func (k *bnKernel[T]) bind(in []gorgonia.Value, grad gorgonia.Value) error {
	var err error
	if k.xs, err = graphop.Data[T](in[0], "batchnorm input"); err != nil {
		return err
	}
	k.gs, _ = graphop.Data[T](in[1], "batchnorm scale")
	k.bs, _ = graphop.Data[T](in[2], "batchnorm shift")
	if grad != nil {
		if k.dys, err = graphop.Data[T](grad, "batchnorm output gradient"); err != nil {
			return err
		}
	}
	s := in[0].Shape()
	k.n, k.ch, k.hw = s[0], s[1], s[2]*s[3]
	return nil
}

// bnMinChannels is the fewest channels worth a core of their own per pass (at 8x8 planes
// and batch 128, a channel is ~8k elements).
const bnMinChannels = 2

func (k *bnKernel[T]) Forward(in []gorgonia.Value) (gorgonia.Value, error) {
	if err := k.bind(in, nil); err != nil {
		return nil, err
	}
	k.y = graphop.Reused[T](k.y, in[0].Shape()...)
	k.ys = graphop.Slice[T](k.y)
	if len(k.mean) != k.ch {
		k.mean, k.invStd = make([]float64, k.ch), make([]float64, k.ch)
		k.db, k.dg = make([]float64, k.ch), make([]float64, k.ch)
	}
	k.step.Forward()
	k.pass = bnForward
	parallel.For(k.ch, bnMinChannels, k)
	return k.y, nil
}

func (k *bnKernel[T]) Backward(wrt int, in []gorgonia.Value, _, grad gorgonia.Value) (gorgonia.Value, error) {
	if err := k.bind(in, grad); err != nil {
		return nil, err
	}
	if k.step.Backward(wrt) { // once for the three gradient nodes
		k.pass = bnSums
		parallel.For(k.ch, bnMinChannels, k)
	}
	switch wrt {
	case 1, 2:
		out, src := &k.dgT, k.dg
		if wrt == 2 {
			out, src = &k.dbT, k.db
		}
		*out = graphop.Reused[T](*out, k.ch)
		d := graphop.Slice[T](*out)
		for c := range k.ch {
			d[c] = T(src[c])
		}
		return *out, nil
	}
	k.dx = graphop.Reused[T](k.dx, in[0].Shape()...)
	k.dxs, k.pass = graphop.Slice[T](k.dx), bnDx
	parallel.For(k.ch, bnMinChannels, k)
	return k.dx, nil
}

func batchNorm(x, g, b *gorgonia.Node, runMean, runVar tensor.Tensor, train bool, momentum, eps float64) (*gorgonia.Node, error) {
	if x.Dtype() == tensor.Float64 {
		return graphop.Apply(&bnKernel[float64]{train: train, momentum: momentum, eps: eps,
			runMean: runMean.Data().([]float64), runVar: runVar.Data().([]float64)}, x, g, b)
	}
	return graphop.Apply(&bnKernel[float32]{train: train, momentum: momentum, eps: eps,
		runMean: runMean.Data().([]float32), runVar: runVar.Data().([]float32)}, x, g, b)
}
