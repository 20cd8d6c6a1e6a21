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
	"example.com/xent/internal/winograd"
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
	lanes        bool // x [N,C,H,W] is in the lanes layout (lanes.go): a chunk of 16 images is one of n
	momentum     float64
	eps          float64
	runMean      []T // [C], shared with the other graph
	runVar       []T
	mean, invStd []float64 // of the last forward, per channel
	scale, shift []T       // [C]: the forward's y = scale*x + shift (before GELU)
	coef         []float64 // [3C]: dx's a, b and shift per channel (setDxCoefficients)
	parts        []float64 // [2][N][C]: a pass's sums per plane
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
	return fmt.Sprintf("xent.BatchNorm2d{train=%v gelu=%v lanes=%v momentum=%v eps=%v sync=%v stats=%p}", k.train, k.gelu, k.lanes, k.momentum, k.eps, k.sync != nil, k.runMean)
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

// bnPass is what Run does: the training forward's per-plane sums and squared deviations,
// the output from the channels' statistics, the backward's per-plane sums, or dx.
type bnPass int

const (
	bnSum    bnPass = iota // parts: each plane's sum x
	bnSquare               // parts: each plane's sum (x - mean)^2
	bnApply                // y = scale*x + shift (then GELU), the channel's scale and shift
	bnSums                 // parts: each plane's sum dy and sum dy*(x - mean) (dy through GELU first)
	bnDx                   // dx from the channel's coefficients
)

// Run does images [lo, hi) of the pass under way, every channel of an image in memory
// order; parallel.For calls it. A channel's planes lie a whole image apart, so visiting
// them in turn reads memory in jumps the prefetchers do not follow (evaluation's pass ran
// at ~1 GB/s that way); each plane's sums go to parts [N][C], which the channel's totals
// then add in image order: the same sums, bit for bit, whatever the split across cores.
func (k *bnKernel[T]) Run(lo, hi int) {
	for i := lo; i < hi; i++ {
		for c := range k.ch {
			off := plane(i, c, k.ch, k.hw)
			switch k.pass {
			case bnSum:
				k.parts[i*k.ch+c] = planeSum(k.xs[off : off+k.hw])
			case bnSquare:
				k.parts[i*k.ch+c] = k.planeSquares(off, k.mean[c])
			case bnApply:
				k.applyPlane(off, k.scale[c], k.shift[c])
			case bnSums:
				k.parts[i*k.ch+c], k.parts[(k.n+i)*k.ch+c] = k.planeGradSums(off, c)
			case bnDx:
				k.planeDx(off, c)
			}
		}
	}
}

// runPass runs pass p over the batch's images, the cores sharing them.
func (k *bnKernel[T]) runPass(p bnPass) {
	k.pass = p
	parallel.For(k.n, bnMinImages, k)
}

// channelTotals writes into out[c] the sum over images, in order, of parts [N][C]'s
// column c (from part, 0 or N: the first or second half of parts).
func (k *bnKernel[T]) channelTotals(out []float64, part int) {
	columnTotals(out[:k.ch], k.parts[part*k.ch:], k.n)
}

// The float32 passes run package vmath's plane kernels (AVX-512 where built), which take
// the mean rounded to float32, m; the channel's sums put the rounding back:
//
//	sum (x - mean)^2    = sum (x - m)^2 - M (mean - m)^2     (sum (x - m) = M (mean - m))
//	sum dy (x - mean)   = sum dy (x - m) - (mean - m) sum dy
//	dx = g inv (dy - db/M - (x - mean) inv dg/M) = a dy + b (x - m) + c,
//	     a = g inv,  b = -g inv^2 dg/M,  c = -g inv db/M - b (mean - m)

// planeSquares is sum (x - mean)^2 over the plane at off (float32: about float32(mean),
// corrected in squares).
func (k *bnKernel[T]) planeSquares(off int, mean float64) float64 {
	if xs, ok := any(k.xs).([]float32); ok {
		return vmath.SquaredDeviations32(xs[off:off+k.hw], float32(mean))
	}
	var sq float64
	for _, v := range k.xs[off : off+k.hw] {
		d := float64(v) - mean
		sq += d * d
	}
	return sq
}

// squares is channel c's sum (x - mean)^2 over this replica's values from its planes' sums
// sq (for float32 about m = float32(mean), less this replica's M (mean - m)^2).
func (k *bnKernel[T]) squares(c int, sq float64) float64 {
	if _, ok := any(k.xs).([]float32); ok {
		shift := k.mean[c] - float64(float32(k.mean[c]))
		return max(sq-float64(k.n*k.hw)*shift*shift, 0)
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

// setAffine fills scale and shift for every channel from mean and invStd.
func (k *bnKernel[T]) setAffine() {
	for c := range k.ch {
		k.scale[c], k.shift[c] = k.affine(c)
	}
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

// applyPlane is y = scale*x + shift over the plane at off (then GELU, with gelu).
func (k *bnKernel[T]) applyPlane(off int, scale, shift T) {
	out := k.ys[off : off+k.hw]
	normalized(out, k.xs[off:off+k.hw], scale, shift)
	if k.gelu {
		geluInto(out, out)
	}
}

// planeGradSums is sum dy and sum dy*(x - mean) over the plane at off of channel c (for
// float32 about float32(mean), corrected in Backward; for float64 times invStd). With
// gelu, dy is dz = dy*GELU'(z), written into dx's array (z made again from x in it, then
// overwritten element by element) just before the plane is summed, while it is in cache.
func (k *bnKernel[T]) planeGradSums(off, c int) (db, dg float64) {
	mean, inv := k.mean[c], k.invStd[c]
	dys := k.dys[off : off+k.hw]
	if k.gelu {
		dz := k.dxs[off : off+k.hw]
		normalized(dz, k.xs[off:off+k.hw], k.scale[c], k.shift[c])
		geluGradInto(dz, dz, dys)
		dys = dz
	}
	if d32, ok := any(dys).([]float32); ok {
		return vmath.GradSums32(d32, any(k.xs[off:off+k.hw]).([]float32), float32(mean))
	}
	for j, v := range k.xs[off : off+k.hw] {
		d := float64(dys[j])
		db += d
		dg += d * (float64(v) - mean) * inv
	}
	return db, dg
}

// setDxCoefficients fills, per channel, dx = a dy + b (x - m) + shift (float32; m the
// mean rounded to float32) from the sums db and dg (zero outside training).
func (k *bnKernel[T]) setDxCoefficients() {
	for c := range k.ch {
		mean, inv, gc := k.mean[c], k.invStd[c], float64(k.gs[c])
		a, b, shift := gc*inv, 0.0, 0.0
		if k.train {
			b = -gc * inv * inv * k.dg[c] / k.m
			shift = -gc*inv*k.db[c]/k.m - b*(mean-float64(float32(mean)))
		}
		k.coef[3*c], k.coef[3*c+1], k.coef[3*c+2] = a, b, shift
	}
}

// planeDx is dx over the plane at off of channel c.
func (k *bnKernel[T]) planeDx(off, c int) {
	if xs, ok := any(k.xs).([]float32); ok {
		dys, dxs := any(k.dys).([]float32), any(k.dxs).([]float32)
		a, b, shift := k.coef[3*c], k.coef[3*c+1], k.coef[3*c+2]
		vmath.NormGrad32(dxs[off:off+k.hw], dys[off:off+k.hw], xs[off:off+k.hw], float32(a), float32(b), float32(k.mean[c]), float32(shift))
		return
	}
	mean, inv, gc := k.mean[c], k.invStd[c], float64(k.gs[c])
	for j, v := range k.xs[off : off+k.hw] {
		d := float64(k.dys[off+j])
		if k.train {
			xhat := (float64(v) - mean) * inv
			d -= k.db[c]/k.m + xhat*k.dg[c]/k.m
		}
		k.dxs[off+j] = T(gc * inv * d)
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
	if k.lanes { // chunk i's channel c is one run of 16 planes side by side
		k.n, k.hw = s[0]/winograd.Lanes, s[2]*s[3]*winograd.Lanes
	}
	return nil
}

// bnMinImages is the fewest images worth a core of their own per pass.
const bnMinImages = 2

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
		k.scale, k.shift, k.coef = make([]T, k.ch), make([]T, k.ch), make([]float64, 3*k.ch)
	}
	if k.train {
		k.parts = sized(k.parts, 2*k.n*k.ch)
	}
	k.step.Forward()
	k.m = float64(k.n * k.hw)
	if !k.train {
		for c := range k.ch {
			k.mean[c], k.invStd[c] = float64(k.runMean[c]), 1/math.Sqrt(float64(k.runVar[c])+k.eps)
		}
		k.setAffine()
		k.runPass(bnApply)
		return k.y, nil
	}
	// the mean (over every replica's batch with sync), then the variance about it
	k.runPass(bnSum)
	k.channelTotals(k.stats[:k.ch], 0)
	k.stats[k.ch] = k.m
	if k.sync != nil {
		if err := k.sync(k.stats); err != nil {
			return nil, fmt.Errorf("batchnorm statistics: %w", err)
		}
		k.m = k.stats[k.ch]
	}
	for c := range k.ch {
		k.mean[c] = k.stats[c] / k.m
	}
	k.runPass(bnSquare)
	k.channelTotals(k.stats[:k.ch], 0)
	for c := range k.ch {
		k.stats[c] = k.squares(c, k.stats[c])
	}
	if k.sync != nil {
		if err := k.sync(k.stats[:k.ch]); err != nil {
			return nil, fmt.Errorf("batchnorm statistics: %w", err)
		}
	}
	for c := range k.ch {
		k.updateRunning(c, k.mean[c], k.stats[c])
		k.invStd[c] = 1 / math.Sqrt(k.stats[c]/k.m+k.eps)
	}
	k.setAffine()
	k.runPass(bnApply)
	return k.y, nil
}

func (k *bnKernel[T]) Backward(wrt int, in []gorgonia.Value, _, grad gorgonia.Value) (gorgonia.Value, error) {
	if err := k.bind(in, grad); err != nil {
		return nil, err
	}
	k.dx = graphop.Reused[T](k.dx, in[0].Shape()...)
	k.dxs = graphop.Slice[T](k.dx)
	if k.step.Backward(wrt) { // once for the three gradient nodes
		k.parts = sized(k.parts, 2*k.n*k.ch)
		k.runPass(bnSums) // db = sum dy, dg = sum dy*xhat
		k.channelTotals(k.db, 0)
		k.channelTotals(k.dg, k.n)
		if _, ok := any(k.xs).([]float32); ok { // dg held sum dy (x - m)
			for c := range k.ch {
				k.dg[c] = (k.dg[c] - (k.mean[c]-float64(float32(k.mean[c])))*k.db[c]) * k.invStd[c]
			}
		}
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
	k.setDxCoefficients()
	k.runPass(bnDx)
	return k.dx, nil
}

// batchNorm applies the kernel to x [N,C,H,W]; with sum (sync BN, training only), the
// statistics and the gradient's sums are those of every replica's batch together; with
// gelu, the node is GELU(BatchNorm(x)).
func batchNorm(x, g, b *gorgonia.Node, runMean, runVar tensor.Tensor, train, gelu, lanes bool, momentum, eps float64, sum func([]float64) error) (*gorgonia.Node, error) {
	if x.Dtype() == tensor.Float64 {
		return graphop.Apply(&bnKernel[float64]{train: train, gelu: gelu, momentum: momentum, eps: eps, sync: sum,
			runMean: runMean.Data().([]float64), runVar: runVar.Data().([]float64)}, x, g, b)
	}
	return graphop.Apply(&bnKernel[float32]{train: train, gelu: gelu, lanes: lanes, momentum: momentum, eps: eps, sync: sum,
		runMean: runMean.Data().([]float32), runVar: runVar.Data().([]float32)}, x, g, b)
}
