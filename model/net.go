package model

import (
	"fmt"
	"io"
	"text/tabwriter"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/internal/graphop"
)

// A Graph is one of a model's two graphs over the same weights.
type Graph struct {
	G      *gorgonia.ExprGraph
	Input  *gorgonia.Node   // images [Batch,3,32,32]
	Logits *gorgonia.Node   // [Batch,K]
	Params []*gorgonia.Node // the trainable tensors' nodes, in the order of Net.Trainable
	Batch  int
}

// A Net is a classifier: its tensors, a training graph and an evaluation graph over them.
type Net struct {
	Name      string
	Params    *Params
	Train     *Graph
	Eval      *Graph
	Layers    []Layer // the training graph's layers, for the summary
	Ops       []Op    // the evaluation graph's layers, for exporters
	step      uint64
	arena     graphop.Arena    // the memory of the layers' outputs in machines made by Machine
	infer     *inference       // Infer's state, made on its first call
	evalNodes []*gorgonia.Node // the output node of each of Ops
}

// Machine compiles a tape machine that runs the part of g (Train or Eval) that roots need,
// with the layers' outputs in memory shared by the machines of this Net
// (graphop.Arena): a value's array serves other values once it has been read for the last
// time, so a training step holds its activations' gradients only while they are used and
// an evaluation holds almost nothing of its own. keep names the nodes whose values are read
// after a run, besides roots. Each graph gets at most one such machine; run one of them at
// a time; Infer cannot run a planned evaluation graph.
func (n *Net) Machine(g *Graph, roots gorgonia.Nodes, keep ...*gorgonia.Node) (gorgonia.VM, error) {
	sub := g.G.SubgraphRoots(roots...)
	if err := n.arena.Plan(sub, keep...); err != nil {
		return nil, fmt.Errorf("model: %s: %w", n.Name, err)
	}
	return gorgonia.NewTapeMachine(sub), nil
}

// SetStep tells the model which training step runs next: dropout draws its masks from
// (seed, step), so a resumed run repeats them.
func (n *Net) SetStep(step int) { n.step = uint64(step) }

// Options says how to build a Net.
type Options struct {
	TrainBatch, EvalBatch int    // batch sizes of the two graphs
	Seed                  uint64 // seeds the initialisation and dropout
	// Replica is this copy's number in data-parallel training (0 alone): each copy draws
	// its own dropout masks, as its batch is another part of the data.
	Replica int
	// SumReplicas, when not nil, makes BatchNorm's training statistics those of the batch
	// of every replica together (sync BN): it replaces buf, in each replica, with the
	// elementwise sum of every replica's buf. Every replica's training graph calls it
	// in the same order, with buffers of one length. Nil: each copy's own batch.
	SumReplicas func(buf []float64) error
}

// New builds the named architecture (see Named).
func New(name string, o Options) (*Net, error) {
	arch, init, err := Named(name)
	if err != nil {
		return nil, err
	}
	return Build(name, arch, init, o)
}

// Build builds arch twice over one Params store: the training graph (batch statistics,
// dropout) and the evaluation graph, in float32 (the layers' ops also take float64, for
// gradient checks of each op).
func Build(name string, arch Arch, init Init, o Options) (*Net, error) {
	if o.TrainBatch < 1 || o.EvalBatch < 1 {
		return nil, fmt.Errorf("model: batch sizes %d and %d, want >= 1", o.TrainBatch, o.EvalBatch)
	}
	if err := checkLanesEnv(); err != nil {
		return nil, err
	}
	n := &Net{Name: name, Params: NewParams()}
	var err error
	var layers []Layer
	var train *Builder
	if n.Train, train, err = n.build(arch, init, o, true); err != nil {
		return nil, err
	}
	layers = train.layers
	n.Layers = layers
	var eval *Builder
	if n.Eval, eval, err = n.build(arch, init, o, false); err != nil {
		return nil, err
	}
	n.Ops, n.evalNodes = eval.ops, eval.opNodes
	return n, nil
}

func (n *Net) build(arch Arch, init Init, o Options, train bool) (*Graph, *Builder, error) {
	batch := o.EvalBatch
	if train {
		batch = o.TrainBatch
	}
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(batch, 3, 32, 32), gorgonia.WithName("images"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(batch, 3, 32, 32), tensor.Of(tensor.Float32))))
	b := newBuilder(g, n.Params, train, init, o.Seed, &n.step)
	b.replica, b.sum = o.Replica, o.SumReplicas
	b.opOf[x] = -1
	logits := arch(b, x)
	if err := b.Err(); err != nil {
		return nil, nil, err
	}
	if logits == nil || logits.Shape().Dims() != 2 || logits.Shape()[0] != batch {
		return nil, nil, fmt.Errorf("model: %s gives %v, want logits [%d, classes]", n.Name, shapeOf(logits), batch)
	}
	if i, ok := b.opOf[logits]; !ok || i != len(b.ops)-1 {
		return nil, nil, fmt.Errorf("model: %s: its logits are not the output of its last layer", n.Name)
	}
	return &Graph{G: g, Input: x, Logits: logits, Params: b.nodes, Batch: batch}, b, nil
}

func shapeOf(x *gorgonia.Node) any {
	if x == nil {
		return "nothing"
	}
	return x.Shape()
}

// NeedsData reports whether a layer initialises itself from training images (Whiten):
// then call InitFromData before training.
func (n *Net) NeedsData() bool { return len(n.Params.initOrder) > 0 }

// InitFromData runs the data-dependent initialisations on n normalised training images
// [n,3,32,32] (airbench uses 5,000). A resumed run restores the checkpoint afterwards.
func (n *Net) InitFromData(images []float32, count int) error {
	for _, name := range n.Params.initOrder {
		if err := n.Params.inits[name](images, count); err != nil {
			return fmt.Errorf("model: %s: %w", name, err)
		}
	}
	return nil
}

// Trainable returns the trainable tensors in the order of Graph.Params.
func (n *Net) Trainable() []*Param {
	var out []*Param
	for _, p := range n.Params.List() {
		if p.Trainable {
			out = append(out, p)
		}
	}
	return out
}

// MACs returns the multiply-accumulates of one image's forward pass; FLOPs are twice that.
func (n *Net) MACs() int64 {
	var m int64
	for _, l := range n.Layers {
		m += l.MACs
	}
	return m
}

// Summary writes a table of the layers: name, kind, output shape, parameters and FLOPs per
// image, with the totals.
func (n *Net) Summary(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "layer\tkind\toutput\tparams\tFLOPs/img\n")
	for _, l := range n.Layers {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%d\t%d\n", l.Name, l.Kind, l.Out, l.Params, 2*l.MACs)
	}
	fmt.Fprintf(tw, "total\t%s\t%v\t%d\t%d\n", n.Name, n.Train.Logits.Shape(), n.Params.Count(), 2*n.MACs())
	return tw.Flush()
}
