package loss

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/internal/graphop"

	"example.com/xent/internal/parallel"
)

// probKernel computes both losses against probability targets (see
// CrossEntropyWithProbsKernel); kl says which.
type probKernel[T Float] struct {
	opts    Options
	kl      bool
	k       int
	stats   rowStats[T]
	rows    []float64
	norm    float64
	fault   firstFault
	grad    bool
	logits  []T
	targets []T
	dlogits []T
	g       []T
}

// CrossEntropyWithProbsKernel is CrossEntropyWithProbs over plain slices: the
// cross-entropy of softmax(z) against probability targets, over row-major
// logits z [N,K] and targets p [N,K] (each row a distribution; rows need not sum to 1, as
// in PyTorch). With eps the label smoothing, p' = (1-eps)*p + eps/K, and w the class weights:
//
//	l_n = sum_k w[k]*p'[n,k]*(lse_n - z[n,k])                      (cross-entropy H(p', q))
//	l_n = sum_k p[n,k]*(log p[n,k] - log q[n,k]),  0*log 0 = 0     (KL divergence D(p || q))
//
// with q = softmax(z) and lse_n the row's log-sum-exp, so that D(p||q) = H(p,q) - H(p,p).
// The loss is sum_n l_n / D with D = N for Mean (PyTorch's mean for probability targets,
// and its "batchmean" for KL) and 1 for Sum and None. The gradient is
//
//	dL/dz[n,j] = g/D * (q[n,j]*sum_k w[k]*p'[n,k] - w[j]*p'[n,j]),
//
// the same for both, since H(p,p) does not depend on z. The targets get no gradient.
// KL takes no weights and no smoothing; neither takes an ignored label.
type CrossEntropyWithProbsKernel[T Float] struct{ probKernel[T] }

// NewCrossEntropyWithProbsKernel returns the kernel over k classes; it takes
// WithReduction, WithWeights, WithSmoothing and WithUnits.
func NewCrossEntropyWithProbsKernel[T Float](k int, opts ...Option) (*CrossEntropyWithProbsKernel[T], error) {
	x := new(CrossEntropyWithProbsKernel[T])
	if err := x.init(k, false, opts); err != nil {
		return nil, err
	}
	return x, nil
}

// KLDivergenceKernel is KLDivergence over plain slices: D(p || softmax(z)) for logits z
// [N,K] and probability targets p [N,K] (the formulas are CrossEntropyWithProbsKernel's).
type KLDivergenceKernel[T Float] struct{ probKernel[T] }

// NewKLDivergenceKernel returns the kernel over k classes; it takes WithReduction and
// WithUnits.
func NewKLDivergenceKernel[T Float](k int, opts ...Option) (*KLDivergenceKernel[T], error) {
	x := new(KLDivergenceKernel[T])
	if err := x.init(k, true, opts); err != nil {
		return nil, err
	}
	return x, nil
}

func newProbKernel[T Float](k int, kl bool, opts []Option) (*probKernel[T], error) {
	x := new(probKernel[T])
	if err := x.init(k, kl, opts); err != nil {
		return nil, err
	}
	return x, nil
}

// init sets x up for k classes: the KL divergence if kl, else the cross-entropy.
func (x *probKernel[T]) init(k int, kl bool, opts []Option) error {
	if k < 1 {
		return fmt.Errorf("loss: %s over %d classes: %w", probName(kl), k, ErrShape)
	}
	o, err := NewOptions(k, opts...)
	if err != nil {
		return err
	}
	if err := o.logitOnly(probName(kl)); err != nil {
		return err
	}
	if o.HasIgnore || kl && (o.Weights != nil || o.Smoothing != 0) {
		takes := "reduction, units, weights and smoothing"
		if kl {
			takes = "reduction and units"
		}
		return fmt.Errorf("loss: %s takes %s, not %v: %w", probName(kl), takes, &o, ErrOption)
	}
	x.opts, x.kl, x.k = o, kl, k
	return nil
}

func probName(kl bool) string {
	if kl {
		return "KL divergence"
	}
	return "cross-entropy with probability targets"
}

// Forward returns the loss of logits [N,K] against targets [N,K], reduced as the options
// say (None returns the sum; RowLosses has the rows). A non-finite logit or target, or a
// negative target, is an *InputError naming the first such row and column.
func (x *probKernel[T]) Forward(logits, targets []T) (float64, error) {
	if len(logits) != len(targets) || len(logits)%x.k != 0 {
		return 0, fmt.Errorf("loss: %s: %d logits and %d targets for %d classes: %w",
			probName(x.kl), len(logits), len(targets), x.k, ErrShape)
	}
	n := len(logits) / x.k
	x.stats.resize(n)
	x.rows = resized(x.rows, n)
	x.logits, x.targets, x.grad = logits, targets, false
	x.fault.reset(n)
	parallel.For(n, minRows(x.k), x)
	x.logits, x.targets = nil, nil
	if r := x.fault.at(n); r >= 0 {
		return 0, x.faultAt(logits, targets, r)
	}
	var total float64
	for _, l := range x.rows {
		total += l
	}
	x.norm = 1
	if x.opts.Reduction == Mean {
		x.norm = float64(max(n, 1))
	}
	return total / x.norm, nil
}

// RowLosses returns the row losses of the last Forward, reused by the next one.
func (x *probKernel[T]) RowLosses() []float64 { return x.rows }

// Backward overwrites dlogits [N,K] with the gradient of the last Forward's loss; logits
// and targets must be that Forward's, g the upstream gradient ([1], or [N] for None).
func (x *probKernel[T]) Backward(dlogits, logits, targets []T, g []T) {
	n := len(x.rows)
	if len(logits) != n*x.k || len(targets) != n*x.k || len(dlogits) != n*x.k {
		panic("loss: ProbXent.Backward: shapes differ from the last Forward")
	}
	checkUpstream("ProbXent", x.opts.Reduction, len(g), n)
	x.dlogits, x.logits, x.targets, x.g, x.grad = dlogits, logits, targets, g, true
	parallel.For(n, minRows(x.k), x)
	x.dlogits, x.logits, x.targets, x.g = nil, nil, nil, nil
}

// Run computes rows [lo, hi) of the current pass; parallel.For calls it.
func (x *probKernel[T]) Run(lo, hi int) {
	if x.grad {
		x.backwardRows(lo, hi)
		return
	}
	k, o, st := x.k, &x.opts, &x.stats
	eps := o.Smoothing
	st.compute(x.logits, k, lo, hi)
	for n := lo; n < hi; n++ {
		z, p := x.logits[n*k:(n+1)*k], x.targets[n*k:(n+1)*k]
		if st.bad(n) || badTarget(p) >= 0 {
			x.fault.report(n)
			continue
		}
		m, logS := float64(st.m[n]), st.l[n]
		var l float64
		for c, pc := range p {
			pt := (1-eps)*float64(pc) + eps/float64(k)
			l += o.weight(c) * pt * (m - float64(z[c]) + logS)
			if x.kl && pc > 0 {
				l += float64(pc) * math.Log(float64(pc))
			}
		}
		x.rows[n] = l * o.unitScale()
	}
}

// backwardRows: dz = c*(q*sum_k w[k]*p'[k]) by one block of exponentials, minus c*w*p'.
func (x *probKernel[T]) backwardRows(lo, hi int) {
	k, o, st := x.k, &x.opts, &x.stats
	eps := o.Smoothing
	for n := lo; n < hi; n++ {
		var mass float64 // sum_k w[k]*p'[k]
		for j, pj := range x.targets[n*k : (n+1)*k] {
			mass += o.weight(j) * ((1-eps)*float64(pj) + eps/float64(k))
		}
		st.a[n], st.b[n] = x.upstream(n)*mass/st.s[n], 0
	}
	st.expAffine(x.dlogits, x.logits, k, lo, hi)
	for n := lo; n < hi; n++ {
		c, dz := x.upstream(n), x.dlogits[n*k:(n+1)*k]
		for j, pj := range x.targets[n*k : (n+1)*k] {
			dz[j] -= T(c * o.weight(j) * ((1-eps)*float64(pj) + eps/float64(k)))
		}
	}
}

// upstream returns row n's gradient factor g/D in the loss's units.
func (x *probKernel[T]) upstream(n int) float64 {
	g := x.g[0]
	if x.opts.Reduction == None {
		g = x.g[n]
	}
	return float64(g) * x.opts.unitScale() / x.norm
}

// badTarget returns the first column of p [K] that is negative or non-finite, or -1.
func badTarget[T Float](p []T) int {
	for k, v := range p {
		if !(v >= 0) || math.IsInf(float64(v), 1) {
			return k
		}
	}
	return -1
}

func (x *probKernel[T]) faultAt(logits, targets []T, n int) error {
	z, p := logits[n*x.k:(n+1)*x.k], targets[n*x.k:(n+1)*x.k]
	if c := firstNonFinite(z); c >= 0 {
		return &InputError{Loss: probName(x.kl), Row: n, Col: c, Value: float64(z[c]), Err: ErrNonFinite}
	}
	c := max(badTarget(p), 0)
	err := ErrNonFinite
	if p[c] < 0 {
		err = ErrNegative
	}
	return &InputError{Loss: probName(x.kl) + " (targets)", Row: n, Col: c, Value: float64(p[c]), Err: err}
}

// CrossEntropyWithProbs adds one node computing the cross-entropy of softmax(logits) [N,K]
// against probability targets [N,K] of the same dtype, as ProbXent documents. It takes
// WithReduction, WithWeights, WithSmoothing and WithUnits.
func CrossEntropyWithProbs(logits, targets *gorgonia.Node, opts ...Option) (*gorgonia.Node, error) {
	return newProbNode(logits, targets, false, opts)
}

// KLDivergence adds one node computing D(p || softmax(logits)) = H(p,q) - H(p,p) for logits
// and targets p [N,K], as ProbXent documents. It takes WithReduction (Mean is PyTorch's
// "batchmean") and WithUnits. The targets get no gradient.
func KLDivergence(logits, targets *gorgonia.Node, opts ...Option) (*gorgonia.Node, error) {
	return newProbNode(logits, targets, true, opts)
}

func newProbNode(logits, targets *gorgonia.Node, kl bool, opts []Option) (*gorgonia.Node, error) {
	if err := checkFloatNode(logits, "logits", 2); err != nil {
		return nil, err
	}
	if err := checkFloatNode(targets, "targets", 2); err != nil {
		return nil, err
	}
	if !logits.Shape().Eq(targets.Shape()) || logits.Dtype() != targets.Dtype() {
		return nil, fmt.Errorf("loss: %s: logits %v and targets %v differ: %w",
			probName(kl), nodeShape(logits), nodeShape(targets), ErrShape)
	}
	k := logits.Shape()[1]
	if logits.Dtype() == tensor.Float32 {
		return probNodeOf[float32](k, kl, opts, logits, targets)
	}
	return probNodeOf[float64](k, kl, opts, logits, targets)
}

func probNodeOf[T Float](k int, kl bool, opts []Option, logits, targets *gorgonia.Node) (*gorgonia.Node, error) {
	x, err := newProbKernel[T](k, kl, opts)
	if err != nil {
		return nil, err
	}
	return applyLoss(&probNode[T]{x: x}, logits, targets)
}

// probNode runs ProbXent in a graph.
type probNode[T Float] struct {
	x  *probKernel[T]
	g  []T
	dz *tensor.Dense
}

func (nk *probNode[T]) String() string {
	name := "CrossEntropyWithProbs"
	if nk.x.kl {
		name = "KLDivergence"
	}
	return fmt.Sprintf("%s{%v}", name, &nk.x.opts)
}

func (nk *probNode[T]) DiffWRT() []bool { return lossWRT }

func (nk *probNode[T]) Types() ([]hm.Type, hm.Type) {
	return []hm.Type{graphop.MatrixA, graphop.MatrixA}, reducedType(nk.x.opts.Reduction)
}

func (nk *probNode[T]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	return reducedShape(nk.x.opts.Reduction, in[0][0]), nil
}

func (nk *probNode[T]) Forward(in []gorgonia.Value) (gorgonia.Value, error) {
	z, p, err := twoMatrices[T](in)
	if err != nil {
		return nil, err
	}
	l, err := nk.x.Forward(z, p)
	if err != nil {
		return nil, err
	}
	return reducedValue[T](nk.x.opts.Reduction, l, nk.x.RowLosses()), nil
}

func (nk *probNode[T]) Backward(_ int, in []gorgonia.Value, _, grad gorgonia.Value) (gorgonia.Value, error) {
	z, p, err := twoMatrices[T](in)
	if err != nil {
		return nil, err
	}
	if nk.g, err = upstreamOf(grad, nk.g); err != nil {
		return nil, err
	}
	nk.dz = graphop.Reused[T](nk.dz, len(z)/nk.x.k, nk.x.k)
	nk.x.Backward(graphop.Slice[T](nk.dz), z, p, nk.g)
	return nk.dz, nil
}

func twoMatrices[T Float](in []gorgonia.Value) ([]T, []T, error) {
	z, err := graphop.Data[T](in[0], "logits")
	if err != nil {
		return nil, nil, err
	}
	p, err := graphop.Data[T](in[1], "targets")
	return z, p, err
}
