package loss

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/internal/graphop"
	"example.com/xent/internal/vmath"

	"example.com/xent/internal/parallel"
)

// SoftmaxCrossEntropyKernel is the fused log-softmax cross-entropy over row-major slices: logits z [N,K],
// labels y [N] in [0, K). With eps the label smoothing and w the class weights (1 without),
// the row loss is
//
//	l_n = (1-eps)*w[y_n]*(lse_n - z[n,y_n]) + (eps/K)*sum_k w[k]*(lse_n - z[n,k]),
//	lse_n = m_n + log sum_k exp(z[n,k] - m_n),  m_n = max_k z[n,k],
//
// and the loss is L = sum_n l_n / D, with D = sum over counted rows of w[y_n] for Mean and
// D = 1 for Sum and None. Its gradient, with upstream gradient g (a scalar, or g_n for None), is
//
//	dL/dz[n,j] = g/D * (softmax(z_n)[j]*((1-eps)*w[y_n] + (eps/K)*sum_k w[k])
//	                    - (1-eps)*w[y_n]*[j = y_n] - (eps/K)*w[j]),
//
// which without weights is the familiar g/D * (softmax(z_n) - (1-eps)*onehot(y_n) - eps/K).
// WithZLoss(c) adds c*w[y_n]*lse_n^2 to l_n and so 2c*w[y_n]*lse_n*softmax(z_n) to its
// gradient. WithSoftcap(s) first replaces z by s*tanh(z/s): everything above runs on the
// capped logits, and the gradient is multiplied by their derivative 1 - tanh^2(z/s).
// Rows with the ignored label count nowhere. In Bits both are divided by ln 2. When no row
// counts (every label ignored, or the weights of the counted rows sum to 0), Mean gives loss 0
// and gradient 0 rather than PyTorch's NaN, so that a fully masked batch is a no-op step.
//
// Forward keeps each row's max and sum of exponentials, so that Backward takes one exp per
// element and one pass per row. Rows are split across cores when N*K is large; a kernel
// reused for the same N allocates nothing. A kernel is not safe for concurrent use.
type SoftmaxCrossEntropyKernel[T Float] struct {
	opts    Options
	k       int
	wSum    float64 // sum_k w[k]
	stats   rowStats[T]
	rows    []float64
	norm    float64
	fault   firstFault
	grad    bool // which pass Run performs
	logits  []T
	labels  []int
	dlogits []T
	g       []T
	c       []float64 // per row: g/D, the backward's factor
	// With a soft-cap, the capped logits s*tanh(z/s) [N,K] that both passes run on: a
	// buffer of the kernel's, or the logits themselves when capInPlace (the linear
	// cross-entropy's chunks, which are its own).
	capped     []T
	capInPlace bool
	zc         []T
}

// NewSoftmaxCrossEntropyKernel returns the kernel for k classes with the given options.
func NewSoftmaxCrossEntropyKernel[T Float](k int, opts ...Option) (*SoftmaxCrossEntropyKernel[T], error) {
	if k < 1 {
		return nil, fmt.Errorf("loss: softmax cross-entropy over %d classes: %w", k, ErrShape)
	}
	o, err := NewOptions(k, opts...)
	if err != nil {
		return nil, err
	}
	x := &SoftmaxCrossEntropyKernel[T]{opts: o, k: k, wSum: float64(k)}
	if o.Weights != nil {
		x.wSum = 0
		for _, w := range o.Weights {
			x.wSum += w
		}
	}
	return x, nil
}

// Options returns the kernel's options.
func (x *SoftmaxCrossEntropyKernel[T]) Options() Options { return x.opts }

// Forward returns the loss of logits [N,K] against labels [N], reduced as the options say
// (None returns the sum; RowLosses has the rows). It fails with an *InputError on a label
// out of range or a non-finite logit, naming the first such row.
func (x *SoftmaxCrossEntropyKernel[T]) Forward(logits []T, labels []int) (float64, error) {
	n := len(labels)
	if len(logits) != n*x.k {
		return 0, fmt.Errorf("loss: softmax cross-entropy: %d logits for %d labels of %d classes: %w",
			len(logits), n, x.k, ErrShape)
	}
	x.stats.resize(n)
	x.rows, x.c = resized(x.rows, n), resized(x.c, n)
	x.logits, x.labels, x.grad = logits, labels, false
	x.zc = logits
	if x.opts.Softcap > 0 && !x.capInPlace {
		x.capped = resized(x.capped, len(logits))
		x.zc = x.capped
	}
	x.fault.reset(n)
	parallel.For(n, minRows(x.k), x)
	x.logits, x.zc = nil, nil
	if r := x.fault.at(n); r >= 0 {
		return 0, x.faultAt(logits, labels, r)
	}
	var total float64
	x.norm = 0
	for i, y := range labels {
		total += x.rows[i]
		if !x.opts.ignored(y) {
			x.norm += x.opts.weight(y)
		}
	}
	switch x.opts.Reduction {
	case Mean:
		if x.norm == 0 {
			return 0, nil
		}
		return total / x.norm, nil
	default:
		x.norm = 1
		return total, nil
	}
}

// RowLosses returns the row losses l_n [N] of the last Forward, in its units; ignored rows
// are 0. The slice is reused by the next Forward.
func (x *SoftmaxCrossEntropyKernel[T]) RowLosses() []float64 { return x.rows }

// Backward writes the gradient of the last Forward's loss into dlogits [N,K], overwriting
// it. logits and labels must be those of that Forward; g is the upstream gradient: [1] for
// Mean and Sum, [N] for None.
func (x *SoftmaxCrossEntropyKernel[T]) Backward(dlogits, logits []T, labels []int, g []T) {
	n := len(labels)
	if len(logits) != n*x.k || len(dlogits) != n*x.k || len(x.rows) != n {
		panic("loss: SoftmaxCrossEntropyKernel.Backward: shapes differ from the last Forward")
	}
	checkUpstream("SoftmaxCrossEntropyKernel", x.opts.Reduction, len(g), n)
	x.dlogits, x.logits, x.labels, x.g, x.grad = dlogits, logits, labels, g, true
	x.zc = logits
	if x.opts.Softcap > 0 && !x.capInPlace {
		x.zc = x.capped
	}
	parallel.For(n, minRows(x.k), x)
	x.dlogits, x.logits, x.zc, x.g = nil, nil, nil, nil
}

// Run computes rows [lo, hi) of the current pass; parallel.For calls it.
func (x *SoftmaxCrossEntropyKernel[T]) Run(lo, hi int) {
	if x.grad {
		x.backwardRows(lo, hi)
	} else {
		x.forwardRows(lo, hi)
	}
}

// forwardRows first computes every row's statistics in one block (the float32 block
// kernels do 16 short rows at a time), then checks the labels and takes the losses; the
// logarithms, long chains of dependent multiplies, overlap from row to row.
func (x *SoftmaxCrossEntropyKernel[T]) forwardRows(lo, hi int) {
	k, o, st := x.k, &x.opts, &x.stats
	if o.Softcap > 0 {
		x.softcapRows(lo, hi)
	}
	st.compute(x.zc, k, lo, hi)
	eps, unit := o.Smoothing, o.unitScale()
	for n := lo; n < hi; n++ {
		y := x.labels[n]
		x.rows[n] = 0
		if o.ignored(y) {
			continue
		}
		if uint(y) >= uint(k) || st.bad(n) {
			x.fault.report(n)
			continue
		}
		m, z := float64(st.m[n]), x.zc[n*k:(n+1)*k]
		logS := st.l[n]
		l := (1 - eps) * o.weight(y) * (m - float64(z[y]) + logS)
		if o.ZLoss > 0 {
			lse := m + logS
			l += o.ZLoss * o.weight(y) * lse * lse
		}
		if eps > 0 {
			// sum_k w[k]*(lse - z[k]), with lse - z[k] = (m - z[k]) + log s
			smooth := float64(k)*logS - st.t[n]
			if o.Weights != nil {
				smooth = 0
				for c, v := range z {
					smooth += o.Weights[c] * (m - float64(v) + logS)
				}
			}
			l += eps / float64(k) * smooth
		}
		x.rows[n] = l * unit
	}
}

// backwardRows sets each row's scale and offset, runs the exponentials as one block, then
// mends what differs from exp*a + b: ignored rows, weighted smoothing, the label's column.
func (x *SoftmaxCrossEntropyKernel[T]) backwardRows(lo, hi int) {
	k, o, st := x.k, &x.opts, &x.stats
	eps, unit := o.Smoothing, o.unitScale()
	for n := lo; n < hi; n++ {
		c := 0.0 // g/D in the loss's units; 0 for a row that does not count
		if y := x.labels[n]; !o.ignored(y) && x.norm != 0 {
			g := x.g[0]
			if o.Reduction == None {
				g = x.g[n]
			}
			c = float64(g) * unit / x.norm
		}
		x.c[n] = c
		zl := 0.0 // the z-loss's share of the softmax's coefficient: 2c*w[y]*lse
		if c != 0 && o.ZLoss > 0 {
			zl = 2 * o.ZLoss * o.weight(x.labels[n]) * (float64(st.m[n]) + st.l[n])
		}
		switch {
		case c == 0:
			st.a[n], st.b[n] = 0, 0
		case o.Weights == nil:
			st.a[n], st.b[n] = c*(1+zl)/st.s[n], -c*eps/float64(k)
		default:
			st.a[n], st.b[n] = c*((1-eps)*o.Weights[x.labels[n]]+eps/float64(k)*x.wSum+zl)/st.s[n], 0
		}
	}
	st.expAffine(x.dlogits, x.zc, k, lo, hi)
	for n := lo; n < hi; n++ {
		dz, c := x.dlogits[n*k:(n+1)*k], x.c[n]
		// ignored rows (their logits were never checked); K = 1 has gradient 0 but for the z-loss
		if c == 0 || k == 1 && o.ZLoss == 0 {
			clear(dz)
			continue
		}
		y := x.labels[n]
		if o.Weights != nil && eps > 0 {
			for j, w := range o.Weights {
				dz[j] -= T(c * eps / float64(k) * w)
			}
		}
		dz[y] = T(float64(dz[y]) - c*(1-eps)*o.weight(y))
		if o.Softcap > 0 {
			softcapGrad(dz, x.zc[n*k:(n+1)*k], T(o.Softcap))
		}
	}
}

// softcapRows writes the capped logits s*tanh(z/s) of rows [lo, hi) into zc. A row with a
// non-finite logit is reported, since capping would hide an infinity.
func (x *SoftmaxCrossEntropyKernel[T]) softcapRows(lo, hi int) {
	k := x.k
	for n := lo; n < hi; n++ {
		if !softcapRow(x.zc[n*k:(n+1)*k], x.logits[n*k:(n+1)*k], x.opts.Softcap) && !x.opts.ignored(x.labels[n]) {
			x.fault.report(n)
		}
	}
}

// softcapRow writes zc = s*tanh(z/s) (vmath's for float32) and reports whether z was finite.
func softcapRow[T Float](zc, z []T, s float64) bool {
	if z32, ok := any(z).([]float32); ok {
		return vmath.Softcap32(any(zc).([]float32), z32, float32(s))
	}
	ok := true
	for j, v := range z {
		ok = ok && finite(float64(v))
		zc[j] = T(s * math.Tanh(float64(v)/s))
	}
	return ok
}

// softcapGrad multiplies dz [K] by the derivative of the soft-cap at z: with zc = s*tanh(z/s),
// d zc/dz = 1 - tanh^2(z/s) = 1 - (zc/s)^2.
func softcapGrad[T Float](dz, zc []T, s T) {
	if zc32, ok := any(zc).([]float32); ok {
		vmath.SoftcapGrad32(any(dz).([]float32), zc32, float32(s))
		return
	}
	for j, v := range zc {
		t := v / s
		dz[j] *= 1 - t*t
	}
}

// faultAt describes what is wrong with row n.
func (x *SoftmaxCrossEntropyKernel[T]) faultAt(logits []T, labels []int, n int) error {
	y := labels[n]
	if y < 0 || y >= x.k {
		return &InputError{Loss: "softmax cross-entropy", Row: n, Col: -1, Value: float64(y),
			Err: fmt.Errorf("%w [0, %d)", ErrLabel, x.k)}
	}
	z := logits[n*x.k : (n+1)*x.k]
	c := firstNonFinite(z)
	if c < 0 { // finite logits whose sum overflowed (float64 near its limit)
		c = 0
	}
	return &InputError{Loss: "softmax cross-entropy", Row: n, Col: c, Value: float64(z[c]), Err: ErrNonFinite}
}

// SoftmaxCrossEntropy adds one node computing the softmax cross-entropy of logits [N,K]
// (float32 or float64) against labels [N] (class indices of an int or float dtype) with the
// options, as SoftmaxCrossEntropyKernel documents: a scalar, or the row losses [N] with WithReduction(None).
// Its gradient with respect to the logits is one fused node; the labels get none.
func SoftmaxCrossEntropy(logits, labels *gorgonia.Node, opts ...Option) (*gorgonia.Node, error) {
	if err := checkFloatNode(logits, "logits", 2); err != nil {
		return nil, err
	}
	n, k := logits.Shape()[0], logits.Shape()[1]
	if labels == nil || labels.Shape().Dims() != 1 || labels.Shape()[0] != n {
		return nil, fmt.Errorf("loss: labels %v for logits %v of shape %v: want shape (%d): %w",
			nodeShape(labels), logits.Name(), logits.Shape(), n, ErrShape)
	}
	if logits.Dtype() == tensor.Float32 {
		return newXentNode[float32](k, opts, logits, labels)
	}
	return newXentNode[float64](k, opts, logits, labels)
}

func newXentNode[T Float](k int, opts []Option, logits, labels *gorgonia.Node) (*gorgonia.Node, error) {
	x, err := NewSoftmaxCrossEntropyKernel[T](k, opts...)
	if err != nil {
		return nil, err
	}
	return applyLoss(&xentNode[T]{x: x}, logits, labels)
}

// xentNode runs SoftmaxCrossEntropyKernel in a graph.
type xentNode[T Float] struct {
	x      *SoftmaxCrossEntropyKernel[T]
	labels []int
	g      []T
	dz     *tensor.Dense
}

func (nk *xentNode[T]) String() string {
	return fmt.Sprintf("SoftmaxCrossEntropy{%v}", &nk.x.opts)
}

func (nk *xentNode[T]) DiffWRT() []bool { return lossWRT }

func (nk *xentNode[T]) Types() ([]hm.Type, hm.Type) {
	return []hm.Type{graphop.MatrixA, graphop.VectorL}, reducedType(nk.x.opts.Reduction)
}

func (nk *xentNode[T]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	return reducedShape(nk.x.opts.Reduction, in[0][0]), nil
}

func (nk *xentNode[T]) Forward(in []gorgonia.Value) (gorgonia.Value, error) {
	z, err := graphop.Data[T](in[0], "logits")
	if err != nil {
		return nil, err
	}
	var y []int
	if y, nk.labels, err = labelsOf(in[1], nk.labels); err != nil {
		return nil, err
	}
	l, err := nk.x.Forward(z, y)
	if err != nil {
		return nil, err
	}
	return reducedValue[T](nk.x.opts.Reduction, l, nk.x.RowLosses()), nil
}

func (nk *xentNode[T]) Backward(_ int, in []gorgonia.Value, _, grad gorgonia.Value) (gorgonia.Value, error) {
	z, err := graphop.Data[T](in[0], "logits")
	if err != nil {
		return nil, err
	}
	var y []int
	if y, nk.labels, err = labelsOf(in[1], nk.labels); err != nil {
		return nil, err
	}
	if nk.g, err = upstreamOf(grad, nk.g); err != nil {
		return nil, err
	}
	nk.dz = graphop.Reused[T](nk.dz, len(y), nk.x.k)
	nk.x.Backward(graphop.Slice[T](nk.dz), z, y, nk.g)
	return nk.dz, nil
}
