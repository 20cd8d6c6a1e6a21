package train

import (
	"fmt"

	"gorgonia.org/tensor"

	"example.com/xent/data/cifar10"
	"example.com/xent/internal/graphop"
	"example.com/xent/internal/tta"
	"example.com/xent/loss"
	"example.com/xent/metric"
)

// split names what evaluate measures: "val" (-val's held-out images) or "test".
func (r *runner) split() string {
	if r.cfg.Val > 0 {
		return "val"
	}
	return "test"
}

// evaluate runs the evaluation graph over the evaluation split (test, or -val's); with
// -tta flip, each image's logits are the mean of its own and its mirror image's. With
// several ranks, each takes every ranks()-th batch (and rank 0's BatchNorm statistics), and
// their tallies are summed.
func (r *runner) evaluate() (metric.Evaluation, error) {
	if err := r.shareStatistics(); err != nil {
		return metric.Evaluation{}, err
	}
	g := r.net.Eval
	k := len(r.data.Classes)
	e := metric.NewEvaluator(k)
	in := graphop.Slice[float32](g.Input.Value().(*tensor.Dense))
	for i := r.comm.Rank(); i < r.test.BatchesPerEpoch(); i += r.ranks() {
		if err := r.test.Seek(cifar10.Position{Seed: 0, Index: i}); err != nil {
			return metric.Evaluation{}, err
		}
		b := r.test.Next()
		copy(in, b.Images)
		clear(in[len(b.Images):]) // a short last batch: the rest of the graph's batch is ignored
		logits, err := tta.Logits(r.cfg.TTA.level(), in[:len(b.Images)], b.Images, k, r.infer, &r.ttaSum)
		if err != nil {
			return metric.Evaluation{}, err
		}
		e.Add(logits[:b.N*k], b.Labels)
	}
	if r.ranks() > 1 {
		t := e.Tallies()
		if err := r.comm.Sum64(t); err != nil {
			return metric.Evaluation{}, fmt.Errorf("evaluation: %w", err)
		}
		if err := e.SetTallies(t); err != nil {
			return metric.Evaluation{}, err
		}
	}
	return e.Result(), nil
}

// infer runs the evaluation graph on its bound images and returns its logits.
func (r *runner) infer() ([]float32, error) {
	r.evm.Reset()
	if err := r.evm.RunAll(); err != nil {
		return nil, fmt.Errorf("evaluation: %w", loss.FromMachine(err))
	}
	return graphop.Data[float32](r.net.Eval.Logits.Value(), "the logits")
}

// countCorrect returns how many rows of logits [N,K] have their largest value at the
// label's class.
func countCorrect(logits []float32, labels []int) int {
	k := len(logits) / len(labels)
	right := 0
	for n, y := range labels {
		best := 0
		for c := 1; c < k; c++ {
			if logits[n*k+c] > logits[n*k+best] {
				best = c
			}
		}
		if best == y {
			right++
		}
	}
	return right
}
