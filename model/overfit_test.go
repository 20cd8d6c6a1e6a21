package model_test

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/loss"
	"example.com/xent/model"
	"example.com/xent/optim"
	"example.com/xent/train"
)

// trainer runs training steps of a Net on one fixed batch with AdamW.
type trainer struct {
	net    *model.Net
	cost   *G.Node
	grads  G.Nodes
	vm     G.VM
	opt    optim.Optimizer
	labels []int
}

func newTrainer(t testing.TB, net *model.Net, images []float32, labels []int, lr float64) *trainer {
	t.Helper()
	g := net.Train
	copy(g.Input.Value().Data().([]float32), images)
	y := G.NewVector(g.G, tensor.Int, G.WithShape(len(labels)), G.WithName("labels"),
		G.WithValue(tensor.New(tensor.WithShape(len(labels)), tensor.WithBacking(labels))))
	cost, err := loss.SoftmaxCrossEntropy(g.Logits, y)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := G.Grad(cost, g.Params...)
	if err != nil {
		t.Fatal(err)
	}
	params := train.OptimizerParams(net)
	opt, err := optim.NewAdamW(params, optim.AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g.G.SubgraphRoots(append(G.Nodes{cost}, grads...)...))
	t.Cleanup(func() { vm.Close() })
	return &trainer{net: net, cost: cost, grads: grads, vm: vm, opt: opt, labels: labels}
}

// step runs one training step and returns the loss and the batch accuracy before it.
func (tr *trainer) step(t testing.TB, lr float64) (float64, float64) {
	tr.vm.Reset()
	if err := tr.vm.RunAll(); err != nil {
		t.Fatal(loss.FromMachine(err))
	}
	grads := make([][]float32, len(tr.grads))
	for i, g := range tr.grads {
		grads[i] = g.Value().Data().([]float32)
	}
	if err := tr.opt.Step(lr, grads); err != nil {
		t.Fatal(err)
	}
	return float64(tr.cost.Value().Data().(float32)), accuracy(tr.net.Train.Logits.Value().Data().([]float32), tr.labels)
}

func accuracy(logits []float32, labels []int) float64 {
	k := len(logits) / len(labels)
	right := 0
	for n, y := range labels {
		best := 0
		for c := range k {
			if logits[n*k+c] > logits[n*k+best] {
				best = c
			}
		}
		if best == y {
			right++
		}
	}
	return float64(right) / float64(len(labels))
}

func randomBatch(n int, seed uint64) ([]float32, []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n*3*32*32)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	y := make([]int, n)
	for i := range y {
		y[i] = rng.IntN(10)
	}
	return x, y
}

// Each named model memorises 64 images of noise with random labels: the test of a model's
// plumbing (every layer's gradient reaches its weights) that airbench and llm.c start from.
func TestNamedModelsOverfitABatch(t *testing.T) {
	models := []struct {
		name  string
		lr    float64
		steps int
	}{
		{"mlp", 1e-3, 60},
		{"cnn-small", 1e-3, 120},
		{"resnet-tiny", 2e-3, 200},
		{"resnet9-8", 2e-3, 120},
	}
	if testing.Short() {
		models = models[:1]
	}
	for _, m := range models {
		t.Run(m.name, func(t *testing.T) {
			net, err := model.New(m.name, model.Options{TrainBatch: 64, EvalBatch: 64, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			images, labels := randomBatch(64, 2)
			tr := newTrainer(t, net, images, labels, m.lr)
			var l, acc float64
			for s := range m.steps {
				if l, acc = tr.step(t, m.lr); acc >= 0.99 && l < 0.1 {
					t.Logf("step %d: loss %.4f, accuracy %.3f", s, l, acc)
					return
				}
			}
			t.Errorf("after %d steps: loss %.4f, training accuracy %.3f, want >= 0.99", m.steps, l, acc)
		})
	}
}
