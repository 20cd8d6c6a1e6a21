package loss

import (
	"errors"
	"fmt"

	"example.com/xent/internal/blas"
	"example.com/xent/internal/parallel"
)

// LinearCrossEntropyKernel is the cross-entropy of a linear layer's logits that never holds
// them all: for h [N,D], w [V,D] and an optional bias b [V] it is SoftmaxCrossEntropyKernel's
// loss, with the same options, of
//
//	z = h w^T + b                                      [N,V]
//
// and its gradients, with dz = dL/dz [N,V] as SoftmaxCrossEntropyKernel gives it,
//
//	dh = dz w [N,D],   dw = dz^T h [V,D],   db = sum_n dz[n,:] [V].
//
// Rows go in chunks of R: a chunk's logits z[r0:r1] [R,V] come from one GEMM, their loss and
// gradient from SoftmaxCrossEntropyKernel in place (its max-shifted log-sum-exp over the whole
// row), dh[r0:r1] from a second GEMM and the chunk's share of dw from a third, so that at most R
// rows of logits exist at once: R = N/36 (N/72 with a soft-cap, whose gradient needs the capped
// logits beside it) less what the GEMM's workspace takes (ChunkRows), at least 32 rows, so
// that the scratch, with the per-row vectors, stays under 1/32 of the logits' size when
// N >= 1,152 and V >= 1,000.
//
// ForwardBackward forms the gradients in the same pass as the loss, 6NDV flops; Forward
// alone is 2NDV, and Backward after it recomputes each chunk's logits, 6NDV more. With few
// rows and many classes (N <= 2048, V >= 9,216; see blocksPay) the kernel goes by blocks of
// classes instead, in two passes (linear_xent_blocked.go). A kernel reused for the same
// shapes allocates nothing; it is not safe for concurrent use.
type LinearCrossEntropyKernel[T Float] struct {
	opts  Options
	v     int
	inner *SoftmaxCrossEntropyKernel[T] // the options, with reduction Sum (None for None)
	rows  []float64                     // row losses [N]
	norm  float64                       // D: the normaliser of Mean, 1 otherwise
	n, d  int                           // the shapes of the last Forward
	z, dz []T                           // a chunk's logits and, with a soft-cap, their gradient
	g     []T                           // the upstream gradient of a chunk's rows
	sum   colSum[T]

	chunkRows int // rows per chunk; 0 picks it from N
	blockCols int // classes per block; 0 picks it from V
	algorithm LinearAlgorithm
	blk       blockStats[T] // the class blocks' per-row accumulators (linear_xent_blocked.go)
	task      blockTask[T]
	coef      []float64
}

// A LinearAlgorithm is how LinearCrossEntropyKernel goes over the logits.
type LinearAlgorithm int

const (
	LinearAuto        LinearAlgorithm = iota // by the shapes: class blocks when few rows share many classes
	LinearRowChunks                          // chunks of rows with whole rows of logits, one pass (6NDV)
	LinearClassBlocks                        // blocks of classes over all rows, two passes (8NDV)
)

// SetBlockClasses sets the classes per block of LinearClassBlocks (c >= 1), or with 0 the
// default (V/36).
func (x *LinearCrossEntropyKernel[T]) SetBlockClasses(c int) { x.blockCols = max(c, 0) }

// SetAlgorithm chooses the algorithm (LinearAuto by default).
func (x *LinearCrossEntropyKernel[T]) SetAlgorithm(a LinearAlgorithm) { x.algorithm = a }

// NewLinearCrossEntropyKernel returns the kernel for v classes with the options of
// SoftmaxCrossEntropyKernel.
func NewLinearCrossEntropyKernel[T Float](v int, opts ...Option) (*LinearCrossEntropyKernel[T], error) {
	if v < 1 {
		return nil, fmt.Errorf("loss: linear cross-entropy over %d classes: %w", v, ErrShape)
	}
	o, err := NewOptions(v, opts...)
	if err != nil {
		return nil, err
	}
	inner := o
	if o.Reduction != None {
		inner.Reduction = Sum
	}
	x := &LinearCrossEntropyKernel[T]{opts: o, v: v}
	if x.inner, err = NewSoftmaxCrossEntropyKernel[T](v, func(p *Options) { *p = inner }); err != nil {
		return nil, err
	}
	x.inner.capInPlace = true
	return x, nil
}

// Options returns the kernel's options.
func (x *LinearCrossEntropyKernel[T]) Options() Options { return x.opts }

// SetChunkRows sets the rows per chunk (r >= 1), or with 0 the default (about N/36).
func (x *LinearCrossEntropyKernel[T]) SetChunkRows(r int) { x.chunkRows = max(r, 0) }

// ChunkRows returns the rows per chunk for n rows: by default N/36 (N/72 with a soft-cap,
// whose chunk has two planes of logits), less the rows that the GEMM's own workspace on the
// Go heap would fill (blas.WorkspaceBytes), so that the two together stay within 1/32 of
// the logits; at least 32.
func (x *LinearCrossEntropyKernel[T]) ChunkRows(n int) int {
	if x.chunkRows > 0 {
		return min(x.chunkRows, max(n, 1))
	}
	per, planes := 36, 1 // 32, and room for the per-row vectors
	if x.opts.Softcap > 0 {
		per, planes = 72, 2
	}
	plane := planes * x.v * int(sizeOf[T]()) // bytes of one row of the chunk
	return max(n/per-(blas.WorkspaceBytes()+plane-1)/plane, min(n, 32))
}

// ScratchBytes returns the bytes the kernel holds beyond its inputs and their gradients.
func (x *LinearCrossEntropyKernel[T]) ScratchBytes() int {
	size := int(sizeOf[T]())
	st := &x.inner.stats
	bs := &x.blk
	b := size*(cap(x.z)+cap(x.dz)+cap(x.g)+cap(st.m)+cap(x.inner.capped)+cap(bs.m)) +
		8*(cap(x.rows)+cap(st.s)+cap(st.t)+cap(st.l)+cap(st.a)+cap(st.b)+cap(x.inner.rows)+cap(x.inner.c)) +
		8*(cap(bs.s)+cap(bs.sum)+cap(bs.wz)+cap(bs.zy)+cap(x.coef)) + cap(bs.bad) +
		4*(cap(st.s32)+cap(st.t32)+cap(st.l32)+cap(st.a32)+cap(st.b32))
	return b
}

func sizeOf[T Float]() uintptr {
	var e T
	if _, ok := any(e).(float32); ok {
		return 4
	}
	return 8
}

// Forward returns the loss of h [N,D] and w [V,D] (and b [V], or nil) against labels [N],
// reduced as the options say (None returns the sum; RowLosses has the rows). It fails with
// an *InputError naming the row of a label out of range or of a non-finite logit.
func (x *LinearCrossEntropyKernel[T]) Forward(h, w, b []T, labels []int) (float64, error) {
	return x.run(nil, nil, nil, h, w, b, labels, nil, false)
}

// ForwardBackward is Forward, and writes the gradients of its loss (with upstream gradient
// 1) into dh [N,D], dw [V,D] and db [V] (nil without a bias), overwriting them. It does not
// take reduction None, whose gradient needs the upstream gradient of each row: use Forward,
// then Backward.
func (x *LinearCrossEntropyKernel[T]) ForwardBackward(dh, dw, db, h, w, b []T, labels []int) (float64, error) {
	if x.opts.Reduction == None {
		return 0, fmt.Errorf("loss: LinearCrossEntropyKernel.ForwardBackward: reduction none needs the rows' upstream gradients (Forward, then Backward): %w", ErrOption)
	}
	return x.run(dh, dw, db, h, w, b, labels, nil, true)
}

// Backward writes the gradients of the last Forward's loss into dh, dw and db (nil without a
// bias), recomputing the logits chunk by chunk. h, w, b and labels must be those of that
// Forward; g is the upstream gradient: [1] for Mean and Sum, [N] for None.
func (x *LinearCrossEntropyKernel[T]) Backward(dh, dw, db, h, w, b []T, labels []int, g []T) {
	n := len(labels)
	if n != x.n || len(h) != n*x.d || len(x.rows) != n {
		panic("loss: LinearCrossEntropyKernel.Backward: shapes differ from the last Forward")
	}
	checkUpstream("LinearCrossEntropyKernel", x.opts.Reduction, len(g), n)
	if _, err := x.run(dh, dw, db, h, w, b, labels, g, true); err != nil {
		panic(fmt.Sprintf("loss: LinearCrossEntropyKernel.Backward: the inputs changed since Forward: %v", err))
	}
}

// RowLosses returns the row losses l_n [N] of the last Forward, in its units; ignored rows
// are 0. The slice is reused by the next Forward.
func (x *LinearCrossEntropyKernel[T]) RowLosses() []float64 { return x.rows }

// run is every pass: the loss, and with grad the gradients for upstream gradient g (nil: 1).
func (x *LinearCrossEntropyKernel[T]) run(dh, dw, db, h, w, b []T, labels []int, g []T, grad bool) (float64, error) {
	n, v := len(labels), x.v
	if n == 0 || len(h)%n != 0 {
		return 0, fmt.Errorf("loss: linear cross-entropy: %d values of h for %d labels: %w", len(h), n, ErrShape)
	}
	d := len(h) / n
	if len(w) != v*d || b != nil && len(b) != v {
		return 0, fmt.Errorf("loss: linear cross-entropy: h [%d,%d] needs w [%d,%d] and b [%d] or none, got %d and %d values: %w",
			n, d, v, d, v, len(w), len(b), ErrShape)
	}
	if grad && (len(dh) != len(h) || len(dw) != len(w) || len(db) != len(b)) {
		return 0, fmt.Errorf("loss: linear cross-entropy: gradients of %d, %d and %d values for inputs of %d, %d and %d: %w",
			len(dh), len(dw), len(db), len(h), len(w), len(b), ErrShape)
	}
	if err := x.normalise(labels); err != nil {
		return 0, err
	}
	if vb := x.classBlock(n); vb > 0 {
		return x.runBlocked(dh, dw, db, h, w, b, labels, g, grad, vb)
	}
	x.n, x.d = n, d
	x.rows = resized(x.rows, n)
	r := x.ChunkRows(n)
	x.z = resized(x.z, r*v)
	dz := x.z // the gradient overwrites the logits, but for a soft-cap's
	if grad && x.opts.Softcap > 0 {
		x.dz = resized(x.dz, r*v)
		dz = x.dz
	}
	var total float64
	for r0 := 0; r0 < n; r0 += r {
		r1 := min(r0+r, n)
		rows, hc, y := r1-r0, h[r0*d:r1*d], labels[r0:r1]
		z := x.z[:rows*v]
		beta := T(0)
		if b != nil {
			for i := range rows {
				copy(z[i*v:(i+1)*v], b)
			}
			beta = 1
		}
		blas.Gemm(false, true, rows, v, d, 1, hc, d, w, d, beta, z, v)
		l, err := x.inner.Forward(z, y)
		if err != nil {
			return 0, x.chunkFault(err, r0)
		}
		total += l
		copy(x.rows[r0:r1], x.inner.RowLosses())
		if !grad {
			continue
		}
		x.inner.Backward(dz[:rows*v], z, y, x.chunkUpstream(g, r0, r1))
		gz, first := dz[:rows*v], r0 == 0
		if db != nil {
			x.sum.add(db, gz, rows, v, first)
		}
		blas.Gemm(false, false, rows, d, v, 1, gz, v, w, d, 0, dh[r0*d:r1*d], d)
		accumulate := T(1)
		if first {
			accumulate = 0
		}
		blas.Gemm(true, false, v, d, rows, 1, gz, v, hc, d, accumulate, dw, d)
	}
	if x.opts.Reduction == Mean {
		if x.norm == 0 {
			return 0, nil
		}
		return total / x.norm, nil
	}
	return total, nil
}

// runBlocked is run by class blocks: Forward is pass 1, Backward pass 2 on the statistics
// Forward kept, ForwardBackward both.
func (x *LinearCrossEntropyKernel[T]) runBlocked(dh, dw, db, h, w, b []T, labels []int, g []T, grad bool, vb int) (float64, error) {
	n := len(labels)
	var total float64
	if !grad || g == nil {
		x.n, x.d = n, len(h)/n
		x.rows = resized(x.rows, n)
		var err error
		if total, err = x.blockedForward(h, w, b, labels, vb); err != nil {
			return 0, err
		}
	}
	if grad {
		x.blockedBackward(dh, dw, db, h, w, b, labels, g, vb)
	}
	if x.opts.Reduction == Mean {
		if x.norm == 0 {
			return 0, nil
		}
		return total / x.norm, nil
	}
	return total, nil
}

// normalise checks the labels and sets D, Mean's normaliser: the sum of w[y_n] over the
// counted rows (their number without weights); 1 for Sum and None.
func (x *LinearCrossEntropyKernel[T]) normalise(labels []int) error {
	o := &x.opts
	x.norm = 0
	for i, y := range labels {
		if o.ignored(y) {
			continue
		}
		if y < 0 || y >= x.v {
			return &InputError{Loss: "linear cross-entropy", Row: i, Col: -1, Value: float64(y),
				Err: fmt.Errorf("%w [0, %d)", ErrLabel, x.v)}
		}
		x.norm += o.weight(y)
	}
	if o.Reduction != Mean {
		x.norm = 1
	}
	return nil
}

// chunkUpstream returns the inner kernel's upstream gradient for rows [r0, r1): g/D for
// Mean (0 when D is), g for Sum, the rows' g_n for None; g nil stands for 1.
func (x *LinearCrossEntropyKernel[T]) chunkUpstream(g []T, r0, r1 int) []T {
	if x.opts.Reduction == None {
		return g[r0:r1]
	}
	up := 1.0
	if g != nil {
		up = float64(g[0])
	}
	x.g = resized(x.g, 1)
	x.g[0] = 0
	if x.norm != 0 {
		x.g[0] = T(up / x.norm)
	}
	return x.g
}

// chunkFault turns the inner kernel's error about row n of a chunk into one about row r0+n
// of the whole.
func (x *LinearCrossEntropyKernel[T]) chunkFault(err error, r0 int) error {
	var ie *InputError
	if !errors.As(err, &ie) {
		return err
	}
	e := *ie
	e.Loss, e.Row = "linear cross-entropy (logits h w^T + b)", ie.Row+r0
	return &e
}

// colSum adds the columns of a chunk of the gradient into db: db[j] (+)= sum_r dz[r,j],
// split by columns across cores.
type colSum[T Float] struct {
	db, dz    []T
	rows, v   int
	overwrite bool
}

func (c *colSum[T]) add(db, dz []T, rows, v int, overwrite bool) {
	*c = colSum[T]{db: db, dz: dz, rows: rows, v: v, overwrite: overwrite}
	parallel.For(v, max(1, minElemsPerWorker/max(rows, 1)), c)
	c.db, c.dz = nil, nil
}

// Run sums columns [lo, hi); parallel.For calls it.
func (c *colSum[T]) Run(lo, hi int) {
	db := c.db[lo:hi]
	if c.overwrite {
		clear(db)
	}
	for r := range c.rows {
		row := c.dz[r*c.v+lo : r*c.v+hi]
		for j, g := range row {
			db[j] += g
		}
	}
}
