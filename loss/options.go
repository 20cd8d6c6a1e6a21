package loss

import (
	"fmt"
	"math"
	"strings"

	"gorgonia.org/gorgonia"
)

// Reduction says how per-row losses become the node's value, as PyTorch's reduction argument.
type Reduction int

const (
	// Mean divides the sum of row losses by the normaliser: the number of counted rows, or
	// with class weights the sum of the weights of the counted rows' labels.
	Mean Reduction = iota
	// Sum adds the row losses.
	Sum
	// None returns the row losses, a vector [N]; ignored rows give 0.
	None
)

func (r Reduction) String() string {
	switch r {
	case Mean:
		return "mean"
	case Sum:
		return "sum"
	case None:
		return "none"
	}
	return fmt.Sprintf("Reduction(%d)", int(r))
}

// Units is the base of the logarithm the loss is reported in.
type Units int

const (
	// Nats uses the natural logarithm, as PyTorch does.
	Nats Units = iota
	// Bits uses log2: the loss and its gradient are the nats values divided by ln 2.
	Bits
)

func (u Units) String() string {
	switch u {
	case Nats:
		return "nats"
	case Bits:
		return "bits"
	}
	return fmt.Sprintf("Units(%d)", int(u))
}

// Options is the resolved set of options of a loss. The zero value is PyTorch's default:
// mean reduction, no class weights, no ignored label, no label smoothing, nats.
type Options struct {
	Reduction Reduction
	Weights   []float64 // per-class weights [K]; nil means all 1
	Ignore    int       // the ignored label, when HasIgnore
	HasIgnore bool
	Smoothing float64 // label smoothing eps in [0, 1]: target (1-eps)*onehot + eps/K
	Units     Units
	ZLoss     float64 // c >= 0: each counted row adds c*w[y_n]*lse_n^2 (softmax losses only)
	Softcap   float64 // s > 0 replaces logits z by s*tanh(z/s); 0 leaves them (softmax losses only)

	bias *gorgonia.Node // LinearCrossEntropy's bias [V], WithBias; no kernel reads it
}

// An Option sets one field of Options.
type Option func(*Options)

// WithReduction sets the reduction: Mean (the default), Sum or None.
func WithReduction(r Reduction) Option { return func(o *Options) { o.Reduction = r } }

// WithWeights sets per-class weights w [K]: row n counts w[y_n] times, and the mean divides
// by the sum of w[y_n] over the counted rows. The slice is copied.
func WithWeights(w []float64) Option {
	return func(o *Options) { o.Weights = append([]float64(nil), w...) }
}

// WithIgnore leaves rows whose label is the given value out of the loss, the gradient and
// the normaliser (PyTorch's ignore_index; it may be any int, -100 as in PyTorch or -1).
func WithIgnore(label int) Option {
	return func(o *Options) { o.Ignore, o.HasIgnore = label, true }
}

// WithSmoothing sets label smoothing eps: the target becomes (1-eps)*onehot(y) + eps/K.
func WithSmoothing(eps float64) Option { return func(o *Options) { o.Smoothing = eps } }

// WithZLoss adds PaLM's auxiliary z-loss c*lse_n^2 to each counted row's loss, lse_n the
// log-sum-exp of the row's logits (weighted by w[y_n] like the rest of the row), which keeps
// the softmax's normaliser near 1. c = 0 (the default) turns it off. Softmax losses only.
func WithZLoss(c float64) Option { return func(o *Options) { o.ZLoss = c } }

// WithSoftcap replaces each logit z by s*tanh(z/s) before the loss (Gemma 2's soft-capping),
// which bounds the logits to (-s, s). s = 0 (the default) turns it off. Softmax losses only.
func WithSoftcap(s float64) Option { return func(o *Options) { o.Softcap = s } }

// WithBias gives LinearCrossEntropy a bias b [V]: the logits become h w^T + b. Other losses
// refuse it.
func WithBias(b *gorgonia.Node) Option { return func(o *Options) { o.bias = b } }

// WithUnits reports the loss in Nats (the default) or Bits.
func WithUnits(u Units) Option { return func(o *Options) { o.Units = u } }

// NewOptions applies opts to the defaults and checks the result for k classes.
func NewOptions(k int, opts ...Option) (Options, error) {
	var o Options
	for _, opt := range opts {
		opt(&o)
	}
	return o, o.check(k)
}

func (o *Options) check(k int) error {
	if o.bias != nil {
		return fmt.Errorf("loss: WithBias is LinearCrossEntropy's option, for a node: %w", ErrOption)
	}
	if o.Reduction < Mean || o.Reduction > None {
		return fmt.Errorf("loss: unknown reduction %v", o.Reduction)
	}
	if o.Units != Nats && o.Units != Bits {
		return fmt.Errorf("loss: unknown units %v", o.Units)
	}
	if !(o.Smoothing >= 0 && o.Smoothing <= 1) {
		return fmt.Errorf("loss: label smoothing %v outside [0, 1]", o.Smoothing)
	}
	if !(o.ZLoss >= 0) || math.IsInf(o.ZLoss, 0) {
		return fmt.Errorf("loss: z-loss coefficient %v: want a finite c >= 0", o.ZLoss)
	}
	if !(o.Softcap >= 0) || math.IsInf(o.Softcap, 0) {
		return fmt.Errorf("loss: soft-cap %v: want a finite s > 0, or 0 for none", o.Softcap)
	}
	if o.Weights != nil && len(o.Weights) != k {
		return fmt.Errorf("loss: %d class weights for %d classes: %w", len(o.Weights), k, ErrShape)
	}
	for c, w := range o.Weights {
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return fmt.Errorf("loss: class weight %d is %v: %w", c, w, ErrNonFinite)
		}
	}
	return nil
}

// unitScale is the factor that turns nats into the reported units.
func (o *Options) unitScale() float64 {
	if o.Units == Bits {
		return 1 / math.Ln2
	}
	return 1
}

// weight returns the weight of class c.
func (o *Options) weight(c int) float64 {
	if o.Weights == nil {
		return 1
	}
	return o.Weights[c]
}

// logitOnly refuses the options that act on logits (z-loss, soft-capping) for a loss that
// takes none.
func (o *Options) logitOnly(loss string) error {
	if o.ZLoss != 0 || o.Softcap != 0 {
		return fmt.Errorf("loss: %s takes no z-loss or soft-cap (they act on logits; use SoftmaxCrossEntropy): %w", loss, ErrOption)
	}
	return nil
}

func (o *Options) ignored(label int) bool { return o.HasIgnore && label == o.Ignore }

// String encodes every option, so that nodes with different options never share a hash.
func (o *Options) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "reduction=%v units=%v smoothing=%v", o.Reduction, o.Units, o.Smoothing)
	if o.ZLoss != 0 {
		fmt.Fprintf(&b, " zloss=%v", o.ZLoss)
	}
	if o.Softcap != 0 {
		fmt.Fprintf(&b, " softcap=%v", o.Softcap)
	}
	if o.HasIgnore {
		fmt.Fprintf(&b, " ignore=%d", o.Ignore)
	}
	if o.Weights != nil {
		fmt.Fprintf(&b, " weights=%v", o.Weights)
	}
	return b.String()
}
