package train

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/loss"
)

// buildGraphs adds the loss and the parameters' gradients to the training graph and
// compiles the two machines: training (only what a step needs: the loss and the
// gradients, not dL/d(images)) and evaluation (the logits).
func (r *runner) buildGraphs() error {
	g := r.net.Train
	r.labels = make([]int, g.Batch)
	y := G.NewVector(g.G, tensor.Int, G.WithShape(g.Batch), G.WithName("labels"),
		G.WithValue(tensor.New(tensor.WithShape(g.Batch), tensor.WithBacking(r.labels))))
	var err error
	if r.cost, err = loss.SoftmaxCrossEntropy(g.Logits, y, loss.WithSmoothing(r.cfg.LabelSmoothing)); err != nil {
		return err
	}
	if r.grads, err = G.Grad(r.cost, g.Params...); err != nil {
		return fmt.Errorf("train: gradients: %w", err)
	}
	r.vm = G.NewTapeMachine(g.G.SubgraphRoots(append(G.Nodes{r.cost}, r.grads...)...))
	r.evm = G.NewTapeMachine(r.net.Eval.G.SubgraphRoots(r.net.Eval.Logits))
	return nil
}
