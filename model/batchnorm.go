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
// and in evaluation dx = g/sqrt(running var + eps) * dy. With gelu the node is
// GELU(BatchNorm(x)): the output plane is finished by GELU while it is in cache, and the
// backward first turns dy into dz = dy*GELU'(z), z = BatchNorm(x) made again from x, in
// dx's array, which the sums and dx then read (dx overwrites it). That is the arithmetic of
// the two nodes, bit for bit, with two passes over the batch and z's array fewer.
// The running statistics live in
// tensors shared by the training and evaluation graphs of a model (and saved with it); only
// the training graph's op changes them. (Gorgonia's BatchNorm zeroes them whenever a
// machine is built and flips a shared op to inference.)
type bnKernel[T vmath.Float] struct {
	train        bool
	gelu         bool // the output is GELU(y)
	momentum     float64
	eps          float64
	runMean      []T // [C], shared with the other graph
	runVar       []T
	mean, invStd []float64 // of the last forward, per channel
	db, dg       []float64 // sum dy and sum dy*xhat per channel, of the backward under way: sums[:C], sums[C:]
	sums         []float64 // [2C]: db, then dg
	local        []float64 // [2C]: the parameters' gradients db and dg of this replica (with sync, its share of all replicas')
	stats        []float64 // [C+1] (sync): per-channel sums, then the replica's M
	m            float64   // values per channel in the batch: N*H*W, of all replicas with sync
	sync         func([]float64) error
	step         graphop.Step // db and dg are made by the step's first gradient node, for all three
	y, dx        *tensor.Dense
	dgT, dbT     *tensor.Dense
	// the pass under way, for Run
	pass                     bnPass
	xs, gs, bs, ys, dys, dxs []T
	n, ch, hw                int
}

func (k *bnKernel[T]) String() string {
	return fmt.Sprintf("xent.BatchNorm2d{train=%v gelu=%v momentum=%v eps=%v sync=%v stats=%p}", k.train, k.gelu, k.momentum, k.eps, k.sync != nil, k.runMean)
}
func (k *bnKernel[T]) DiffWRT() []bool           { return []bool{true, true, true} }
func (k *bnKernel[T]) Outputs() []**tensor.Dense { return []**tensor.Dense{&k.y, &k.dx, nil, nil} }
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

// bnPass is what Run does: the forward, the backward's per-channel sums, or dx; with the
// statistics of every replica (sync), the forward's three parts one after another.
type bnPass int

const (
	bnForward bnPass = iota
	bnSums
	bnDx
	bnSyncSum   // sync: each channel's sum, summed over the replicas next
	bnSyncSq    // sync: each channel's squared deviations from the mean of all replicas
	bnSyncApply // sync: y from the statistics of all replicas
)

// Run does channels [lo, hi) of the pass under way; parallel.For calls it. Each channel's
// sums run in one order whatever the split, so results do not depend on the core count.
func (k *bnKernel[T]) Run(lo, hi int) {
	for c := lo; c < hi; c++ {
		switch k.pass {
		case bnForward:
			mean, variance := float64(k.runMean[c]), float64(k.runVar[c])
			if k.train {
				mean = k.channelSum(c) / k.m
				sq := k.squares(c, mean)
				variance = sq / k.m
				k.updateRunning(c, mean, sq)
			}
			k.mean[c], k.invStd[c] = mean, 1/math.Sqrt(variance+k.eps)
			k.apply(c)
		case bnSyncSum:
			k.stats[c] = k.channelSum(c)
		case bnSyncSq:
			k.stats[c] = k.squares(c, k.mean[c])
		case bnSyncApply:
			k.updateRunning(c, k.mean[c], k.stats[c])
			k.invStd[c] = 1 / math.Sqrt(k.stats[c]/k.m+k.eps)
			k.apply(c)
		case bnSums: // db = sum dy, dg = sum dy*xhat
			k.db[c], k.dg[c] = k.gradSums(c)
		case bnDx:
			k.channelDx(c)
		}
	}
}

// The float32 passes run package vmath's plane kernels (AVX-512 where built), which take
// the mean rounded to float32, m; the channel's sums put the rounding back:
//
//	sum (x - mean)^2    = sum (x - m)^2 - M (mean - m)^2     (sum (x - m) = M (mean - m))
//	sum dy (x - mean)   = sum dy (x - m) - (mean - m) sum dy
//	dx = g inv (dy - db/M - (x - mean) inv dg/M) = a dy + b (x - m) + c,
//	     a = g inv,  b = -g inv^2 dg/M,  c = -g inv db/M - b (mean - m)

// channelSum is sum x over channel c's N*H*W values, plane by plane in image order.
func (k *bnKernel[T]) channelSum(c int) float64 {
	var sum float64
	for i := range k.n {
		p := k.xs[plane(i, c, k.ch, k.hw):][:k.hw]
		if p32, ok := any(p).([]float32); ok {
			sum += vmath.Sum32(p32)
			continue
		}
		for _, v := range p {
			sum += float64(v)
		}
	}
	return sum
}

// squares is sum (x - mean)^2 over channel c.
func (k *bnKernel[T]) squares(c int, mean float64) float64 {
	var sq float64
	if xs, ok := any(k.xs).([]float32); ok {
		m := float32(mean)
		for i := range k.n {
			sq += vmath.SquaredDeviations32(xs[plane(i, c, k.ch, k.hw):][:k.hw], m)
		}
		shift := mean - float64(m)
		return max(sq-k.m*shift*shift, 0)
	}
	for i := range k.n {
		for _, v := range k.xs[plane(i, c, k.ch, k.hw):][:k.hw] {
			d := float64(v) - mean
			sq += d * d
		}
	}
	return sq
}

// updateRunning moves channel c's running statistics toward the batch's mean and unbiased
// variance sq/(M-1).
func (k *bnKernel[T]) updateRunning(c int, mean, sq float64) {
	unbiased := sq / math.Max(k.m-1, 1)
	k.runMean[c] = T((1-k.momentum)*float64(k.runMean[c]) + k.momentum*mean)
	k.runVar[c] = T((1-k.momentum)*float64(k.runVar[c]) + k.momentum*unbiased)
}

// affine is channel c's g*(x - mean)*invStd + b as one scale and shift.
func (k *bnKernel[T]) affine(c int) (scale, shift T) {
	mean, inv := k.mean[c], k.invStd[c]
	return T(float64(k.gs[c]) * inv), T(float64(k.bs[c]) - float64(k.gs[c])*inv*mean)
}

// normalized writes z = scale*x + shift over one plane.
func normalized[T vmath.Float](z, x []T, scale, shift T) {
	if z32, ok := any(z).([]float32); ok {
		vmath.Affine32(z32, any(x).([]float32), float32(scale), float32(shift))
		return
	}
	for j, v := range x {
		z[j] = T(v*scale) + shift
	}
}

// apply is y = g*(x - mean)*invStd + b over channel c (then GELU, with gelu), plane by plane.
func (k *bnKernel[T]) apply(c int) {
	scale, shift := k.affine(c)
	for i := range k.n {
		off := plane(i, c, k.ch, k.hw)
		out := k.ys[off : off+k.hw]
		normalized(out, k.xs[off:off+k.hw], scale, shift)
		if k.gelu {
			geluInto(out, out)
		}
	}
}

// gradSums is db = sum dy and dg = sum dy*xhat over channel c. With gelu, dy is dz =
// dy*GELU'(z), written plane by plane into dx's array (z made again from x in it, then
// overwritten element by element) just before the plane is summed, while it is in cache.
func (k *bnKernel[T]) gradSums(c int) (db, dg float64) {
	mean, inv := k.mean[c], k.invStd[c]
	scale, shift := k.affine(c)
	for i := range k.n {
		off := plane(i, c, k.ch, k.hw)
		dys := k.dys[off : off+k.hw]
		if k.gelu {
			dz := k.dxs[off : off+k.hw]
			normalized(dz, k.xs[off:off+k.hw], scale, shift)
			geluGradInto(dz, dz, dys)
			dys = dz
		}
		if d32, ok := any(dys).([]float32); ok {
			sd, sdx := vmath.GradSums32(d32, any(k.xs[off:off+k.hw]).([]float32), float32(mean))
			db, dg = db+sd, dg+sdx // dg holds sum dy (x - m) until the end
			continue
		}
		for j, v := range k.xs[off : off+k.hw] {
			d := float64(dys[j])
			db += d
			dg += d * (float64(v) - mean) * inv
		}
	}
	if _, ok := any(k.xs).([]float32); ok {
		dg = (dg - (mean-float64(float32(mean)))*db) * inv
	}
	return db, dg
}

// channelDx is dx over channel c.
func (k *bnKernel[T]) channelDx(c int) {
	mean, inv, gc := k.mean[c], k.invStd[c], float64(k.gs[c])
	if xs, ok := any(k.xs).([]float32); ok {
		dys, dxs, m := any(k.dys).([]float32), any(k.dxs).([]float32), float32(mean)
		a, b, shift := gc*inv, 0.0, 0.0
		if k.train {
			b = -gc * inv * inv * k.dg[c] / k.m
			shift = -gc*inv*k.db[c]/k.m - b*(mean-float64(m))
		}
		for i := range k.n {
			off := plane(i, c, k.ch, k.hw)
			vmath.NormGrad32(dxs[off:off+k.hw], dys[off:off+k.hw], xs[off:off+k.hw], float32(a), float32(b), m, float32(shift))
		}
		return
	}
	for i := range k.n {
		off := plane(i, c, k.ch, k.hw)
		for j, v := range k.xs[off : off+k.hw] {
			d := float64(k.dys[off+j])
			if k.train {
				xhat := (float64(v) - mean) * inv
				d -= k.db[c]/k.m + xhat*k.dg[c]/k.m
			}
			k.dxs[off+j] = T(gc * inv * d)
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
		k.sums, k.local, k.stats = make([]float64, 2*k.ch), make([]float64, 2*k.ch), make([]float64, k.ch+1)
		k.db, k.dg = k.sums[:k.ch], k.sums[k.ch:]
	}
	k.step.Forward()
	k.m = float64(k.n * k.hw)
	if !k.train || k.sync == nil {
		k.pass = bnForward
		parallel.For(k.ch, bnMinChannels, k)
		return k.y, nil
	}
	// sync: the mean over every replica's batch, then the variance about it
	k.pass = bnSyncSum
	parallel.For(k.ch, bnMinChannels, k)
	k.stats[k.ch] = k.m
	if err := k.sync(k.stats); err != nil {
		return nil, fmt.Errorf("batchnorm statistics: %w", err)
	}
	k.m = k.stats[k.ch]
	for c := range k.ch {
		k.mean[c] = k.stats[c] / k.m
	}
	k.pass = bnSyncSq
	parallel.For(k.ch, bnMinChannels, k)
	if err := k.sync(k.stats[:k.ch]); err != nil {
		return nil, fmt.Errorf("batchnorm statistics: %w", err)
	}
	k.pass = bnSyncApply
	parallel.For(k.ch, bnMinChannels, k)
	return k.y, nil
}

func (k *bnKernel[T]) Backward(wrt int, in []gorgonia.Value, _, grad gorgonia.Value) (gorgonia.Value, error) {
	if err := k.bind(in, grad); err != nil {
		return nil, err
	}
	k.dx = graphop.Reused[T](k.dx, in[0].Shape()...)
	k.dxs = graphop.Slice[T](k.dx)
	if k.step.Backward(wrt) { // once for the three gradient nodes
		k.pass = bnSums
		parallel.For(k.ch, bnMinChannels, k)
		if k.train && k.sync != nil { // dx needs the sums over every replica's batch
			if err := k.sync(k.sums); err != nil {
				return nil, fmt.Errorf("batchnorm gradient: %w", err)
			}
		}
		// The parameters' gradients: this replica's sums alone, or with sync its share
		// (its part of the values, M/M_all) of the sums over every replica, which the
		// caller's sum over the replicas makes whole again. The share is exact in float64
		// and loses nothing to the cancellation of the replicas' float32 partial sums.
		share := float64(k.n*k.hw) / k.m
		for i, v := range k.sums {
			k.local[i] = v * share
		}
	}
	switch wrt {
	case 1, 2:
		out, src := &k.dgT, k.local[k.ch:]
		if wrt == 2 {
			out, src = &k.dbT, k.local[:k.ch]
		}
		*out = graphop.Reused[T](*out, k.ch)
		d := graphop.Slice[T](*out)
		for c := range k.ch {
			d[c] = T(src[c])
		}
		return *out, nil
	}
	if k.gelu {
		k.dys = k.dxs // dz, which dx overwrites element by element
	}
	k.pass = bnDx
	parallel.For(k.ch, bnMinChannels, k)
	return k.dx, nil
}

// batchNorm applies the kernel to x [N,C,H,W]; with sum (sync BN, training only), the
// statistics and the gradient's sums are those of every replica's batch together; with
// gelu, the node is GELU(BatchNorm(x)).
func batchNorm(x, g, b *gorgonia.Node, runMean, runVar tensor.Tensor, train, gelu bool, momentum, eps float64, sum func([]float64) error) (*gorgonia.Node, error) {
	if x.Dtype() == tensor.Float64 {
		return graphop.Apply(&bnKernel[float64]{train: train, gelu: gelu, momentum: momentum, eps: eps, sync: sum,
			runMean: runMean.Data().([]float64), runVar: runVar.Data().([]float64)}, x, g, b)
	}
	return graphop.Apply(&bnKernel[float32]{train: train, gelu: gelu, momentum: momentum, eps: eps, sync: sum,
		runMean: runMean.Data().([]float32), runVar: runVar.Data().([]float32)}, x, g, b)
}
