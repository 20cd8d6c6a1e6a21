package train

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/loss"
)

// buildGraphs adds the loss and the parameters' gradients to the training graph and
// compiles the two machines: training (only what a step needs: the loss and the
// gradients, not dL/d(images)) and evaluation (the logits), their layers' outputs in the
// Net's shared memory (model.Net.Machine).
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
	// The step reads the logits (accuracy) besides the loss and the gradients.
	if r.vm, err = r.net.Machine(g, append(G.Nodes{r.cost}, r.grads...), g.Logits); err != nil {
		return err
	}
	r.evm, err = r.net.Machine(r.net.Eval, G.Nodes{r.net.Eval.Logits})
	return err
}
