package loss

import (
	"math"

	"example.com/xent/internal/blas"
	"example.com/xent/internal/parallel"
)

// The class-blocked algorithm of LinearCrossEntropyKernel, for many classes and few rows:
// the logits go in blocks of all N rows and Vb classes, z[:, c0:c1] = h w[c0:c1]^T + b[c0:c1],
// so that each GEMM has all the rows and each block of w is read once a pass. A row's
// log-sum-exp needs all its classes, so it takes two passes:
//
//	pass 1, per block: the block's row max m_b, sum s_b of exp(z - m_b) and sum of z, merged
//	        into each row's m, s and sum z (s = s e^(m_old - m) + s_b e^(m_b - m)), and the
//	        label's logit: lse = m + log s and the row losses, as SoftmaxCrossEntropyKernel's;
//	pass 2, per block: the logits again, their gradient dz (the softmax from m and s), then
//	        db[c0:c1] = sum_n dz, dw[c0:c1] = dz^T h and dh += dz w[c0:c1].
//
// That is 8NDV flops against the row chunks' 6NDV, but the row chunks read w (and read and
// write dw) once per chunk of N/36 rows: when w is large against the rows the blocks win.
// Forward is pass 1 and Backward pass 2.

// classBlock returns the classes per block for n rows, or 0 for row chunks: blocks when a
// block of all rows within the scratch budget (N*V/36 logits, half with a soft-cap, less the
// GEMM's workspace) has at
// least minClassBlock classes and the weight matrix outweighs the rows' share of the work.
func (x *LinearCrossEntropyKernel[T]) classBlock(n int) int {
	if x.algorithm == LinearRowChunks || x.algorithm == LinearAuto && !blocksPay(n, x.v) {
		return 0
	}
	per, planes := 36, 1
	if x.opts.Softcap > 0 {
		per, planes = 72, 2
	}
	column := planes * n * int(sizeOf[T]()) // bytes of one class of the block
	vb := x.v/per - (blas.WorkspaceBytes()+column-1)/column
	if x.algorithm == LinearClassBlocks {
		vb = max(vb, min(x.v, 8))
	}
	if x.blockCols > 0 {
		vb = x.blockCols
	}
	vb = min(vb, x.v)
	if vb < minClassBlock && x.algorithm != LinearClassBlocks {
		return 0
	}
	return vb
}

const minClassBlock = 256

// blocksPay reports whether the class blocks are expected to be faster than the row chunks.
// Measured on the Zen 4 (lossbench -linear -impls fused -algorithm rows|blocks): at
// 2048x2048x128256 the blocks took 24.8 s against the chunks' 26.6; at 4096x512x32000 3.94
// against 3.08, at 8192x768x50257 15.3 against 11.7 (their GEMMs over blocks of 888 and 1,396
// classes ran slower than the chunks' over whole rows). So: few rows, many classes.
func blocksPay(n, v int) bool { return n <= 2048 && v >= 36*minClassBlock }

// blockStats is pass 1's per-row accumulation: max m, s = sum exp(z - m), sum of z, sum of
// w[k] z (with weights and smoothing), the label's logit, and whether a logit was not finite.
type blockStats[T Float] struct {
	m              []T
	s, sum, wz, zy []float64
	bad            []bool
}

func (b *blockStats[T]) reset(n int) {
	b.m, b.s, b.sum = resized(b.m, n), resized(b.s, n), resized(b.sum, n)
	b.wz, b.zy, b.bad = resized(b.wz, n), resized(b.zy, n), resized(b.bad, n)
	for i := range n {
		b.m[i], b.s[i], b.sum[i], b.wz[i], b.zy[i], b.bad[i] = T(math.Inf(-1)), 0, 0, 0, 0, false
	}
}

// blockTask runs one block's per-row work across cores: pass 1's merge or pass 2's gradient.
type blockTask[T Float] struct {
	x        *LinearCrossEntropyKernel[T]
	z, dz    []T // the block's logits and gradient [N, vb] (the same slice without a soft-cap)
	c0, vb   int
	labels   []int
	backward bool
	coef     []float64 // pass 2: per row, c = g/D in the loss's units (0: the row does not count)
}

func (t *blockTask[T]) Run(lo, hi int) {
	if t.backward {
		t.gradRows(lo, hi)
	} else {
		t.statRows(lo, hi)
	}
}

// statRows merges the block's rows [lo, hi) into the accumulators.
func (t *blockTask[T]) statRows(lo, hi int) {
	x, vb, bs := t.x, t.vb, &t.x.blk
	st := &x.inner.stats
	if x.opts.Softcap > 0 {
		softcapInPlace(t.z[lo*vb:hi*vb], x.opts.Softcap, bs.bad[lo:hi], vb)
	}
	st.compute(t.z, vb, lo, hi)
	weighted := x.opts.Weights != nil && x.opts.Smoothing > 0
	for n := lo; n < hi; n++ {
		if x.opts.ignored(t.labels[n]) {
			continue
		}
		mb := st.m[n]
		if st.bad(n) {
			bs.bad[n] = true
			continue
		}
		m := max(bs.m[n], mb)
		bs.s[n] = bs.s[n]*math.Exp(float64(bs.m[n]-m)) + st.s[n]*math.Exp(float64(mb-m))
		bs.m[n] = m
		bs.sum[n] += st.t[n] + float64(vb)*float64(mb)
		row := t.z[n*vb : (n+1)*vb]
		if y := t.labels[n] - t.c0; y >= 0 && y < vb {
			bs.zy[n] = float64(row[y])
		}
		if weighted {
			for j, v := range row {
				bs.wz[n] += x.opts.Weights[t.c0+j] * float64(v)
			}
		}
	}
}

// softcapInPlace caps z [rows, vb] to s*tanh(z/s), marking rows that held a non-finite logit.
func softcapInPlace[T Float](z []T, s float64, bad []bool, vb int) {
	for r := range bad {
		row := z[r*vb : (r+1)*vb]
		bad[r] = !softcapRow(row, row, s) || bad[r]
	}
}

// gradRows writes the block's gradient rows [lo, hi): with p = exp(z - m)/s the softmax,
// dz = c*(A*p - (1-eps)*w[y]*[k = y] - (eps/K)*w[k]), A = (1-eps)*w[y] + (eps/K)*sum w + 2*zl*w[y]*lse,
// times the soft-cap's derivative.
func (t *blockTask[T]) gradRows(lo, hi int) {
	x, vb, bs, o := t.x, t.vb, &t.x.blk, &t.x.opts
	st := &x.inner.stats
	k, eps := float64(x.v), o.Smoothing
	for n := lo; n < hi; n++ {
		c := t.coef[n]
		st.m[n] = bs.m[n]
		st.a[n], st.b[n] = 0, 0
		if c == 0 {
			continue
		}
		y := t.labels[n]
		lse := float64(bs.m[n]) + math.Log(bs.s[n])
		zl := 2 * o.ZLoss * o.weight(y) * lse
		if o.Weights == nil {
			st.a[n], st.b[n] = c*(1+zl)/bs.s[n], -c*eps/k
		} else {
			st.a[n] = c * ((1-eps)*o.Weights[y] + eps/k*x.inner.wSum + zl) / bs.s[n]
		}
	}
	st.expAffine(t.dz, t.z, vb, lo, hi)
	for n := lo; n < hi; n++ {
		dz, c := t.dz[n*vb:(n+1)*vb], t.coef[n]
		if c == 0 || x.v == 1 && o.ZLoss == 0 {
			clear(dz)
			continue
		}
		if o.Weights != nil && eps > 0 {
			for j := range dz {
				dz[j] -= T(c * eps / k * o.Weights[t.c0+j])
			}
		}
		if y := t.labels[n]; y-t.c0 >= 0 && y-t.c0 < vb {
			dz[y-t.c0] = T(float64(dz[y-t.c0]) - c*(1-eps)*o.weight(y))
		}
		if o.Softcap > 0 {
			softcapGrad(dz, t.z[n*vb:(n+1)*vb], T(o.Softcap))
		}
	}
}

// blockLogits writes z[:, c0:c0+vb] = h w[c0:c0+vb]^T + b[c0:c0+vb] into z [n, vb].
func blockLogits[T Float](z, h, w, b []T, n, d, c0, vb int) {
	beta := T(0)
	if b != nil {
		for i := range n {
			copy(z[i*vb:(i+1)*vb], b[c0:c0+vb])
		}
		beta = 1
	}
	blas.Gemm(false, true, n, vb, d, 1, h, d, w[c0*d:], d, beta, z, vb)
}

// blockedForward is pass 1: the row losses and their total, as run's.
func (x *LinearCrossEntropyKernel[T]) blockedForward(h, w, b []T, labels []int, vb int) (float64, error) {
	n, d, v, o := len(labels), x.d, x.v, &x.opts
	x.blk.reset(n)
	x.inner.stats.resize(n)
	x.z = resized(x.z, n*vb)
	t := &x.task
	for c0 := 0; c0 < v; c0 += vb {
		w0 := min(vb, v-c0)
		z := x.z[:n*w0]
		blockLogits(z, h, w, b, n, d, c0, w0)
		*t = blockTask[T]{x: x, z: z, c0: c0, vb: w0, labels: labels}
		parallel.For(n, minRows(w0), t)
	}
	*t = blockTask[T]{}
	var total float64
	unit, eps, k := o.unitScale(), o.Smoothing, float64(v)
	for i, y := range labels {
		x.rows[i] = 0
		if o.ignored(y) {
			continue
		}
		if x.blk.bad[i] || !finite(x.blk.s[i]) || !finite(x.blk.sum[i]) {
			return 0, x.blockFault(h, w, b, labels, i)
		}
		lse := float64(x.blk.m[i]) + math.Log(x.blk.s[i])
		l := (1 - eps) * o.weight(y) * (lse - x.blk.zy[i])
		if eps > 0 {
			smooth := k*lse - x.blk.sum[i]
			if o.Weights != nil {
				smooth = x.inner.wSum*lse - x.blk.wz[i]
			}
			l += eps / k * smooth
		}
		if o.ZLoss > 0 {
			l += o.ZLoss * o.weight(y) * lse * lse
		}
		x.rows[i] = l * unit
		total += x.rows[i]
	}
	return total, nil
}

// blockedBackward is pass 2 for upstream gradient g (nil: 1), after blockedForward.
func (x *LinearCrossEntropyKernel[T]) blockedBackward(dh, dw, db, h, w, b []T, labels []int, g []T, vb int) {
	n, d, v, o := len(labels), x.d, x.v, &x.opts
	x.coef = resized(x.coef, n)
	up := 1.0
	if g != nil && o.Reduction != None {
		up = float64(g[0])
	}
	for i, y := range labels {
		x.coef[i] = 0
		if o.ignored(y) || x.norm == 0 {
			continue
		}
		gi := up
		if o.Reduction == None {
			gi = float64(g[i])
		}
		x.coef[i] = gi * o.unitScale() / x.norm
	}
	x.z = resized(x.z, n*vb)
	dzBuf := x.z
	if o.Softcap > 0 {
		x.dz = resized(x.dz, n*vb)
		dzBuf = x.dz
	}
	t := &x.task
	for c0 := 0; c0 < v; c0 += vb {
		w0 := min(vb, v-c0)
		z, dz := x.z[:n*w0], dzBuf[:n*w0]
		blockLogits(z, h, w, b, n, d, c0, w0)
		if o.Softcap > 0 {
			x.blk.bad = resized(x.blk.bad, n)
			softcapInPlace(z, o.Softcap, x.blk.bad, w0)
		}
		*t = blockTask[T]{x: x, z: z, dz: dz, c0: c0, vb: w0, labels: labels, backward: true, coef: x.coef}
		parallel.For(n, minRows(w0), t)
		if db != nil {
			x.sum.add(db[c0:c0+w0], dz, n, w0, true)
		}
		blas.Gemm(true, false, w0, d, n, 1, dz, w0, h, d, 0, dw[c0*d:(c0+w0)*d], d)
		accumulate := T(1)
		if c0 == 0 {
			accumulate = 0
		}
		blas.Gemm(false, false, n, d, w0, 1, dz, w0, w[c0*d:], d, accumulate, dh, d)
	}
	*t = blockTask[T]{}
}

// blockFault names the first bad logit of row i, recomputing the row.
func (x *LinearCrossEntropyKernel[T]) blockFault(h, w, b []T, labels []int, i int) error {
	d := x.d
	for j := range x.v {
		var s float64
		for k := range d {
			s += float64(h[i*d+k]) * float64(w[j*d+k])
		}
		if b != nil {
			s += float64(b[j])
		}
		if z := T(s); !finite(float64(z)) {
			return &InputError{Loss: "linear cross-entropy (logits h w^T + b)", Row: i, Col: j, Value: float64(z), Err: ErrNonFinite}
		}
	}
	return &InputError{Loss: "linear cross-entropy (logits h w^T + b)", Row: i, Col: -1, Value: float64(labels[i]), Err: ErrNonFinite}
}
