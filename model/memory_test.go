package model_test

import (
	"math"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/loss"
	"example.com/xent/model"
	"example.com/xent/optim"
	"example.com/xent/train"
)

// machines is a Net with a training machine (loss and gradients) and an evaluation one.
type machines struct {
	net     *model.Net
	cost    *G.Node
	grads   G.Nodes
	vm, evm G.VM
	opt     optim.Optimizer
	lr      float64 // of each step's SGD update
}

func newMachines(t *testing.T, name string, planned bool, images []float32, labels []int) *machines {
	t.Helper()
	net, err := model.New(name, model.Options{TrainBatch: len(labels), EvalBatch: len(labels) + 1, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	g := net.Train
	copy(g.Input.Value().Data().([]float32), images)
	copy(net.Eval.Input.Value().Data().([]float32), images)
	y := G.NewVector(g.G, tensor.Int, G.WithShape(len(labels)), G.WithName("labels"),
		G.WithValue(tensor.New(tensor.WithShape(len(labels)), tensor.WithBacking(labels))))
	m := &machines{net: net, lr: 0.05}
	if m.cost, err = loss.SoftmaxCrossEntropy(g.Logits, y); err != nil {
		t.Fatal(err)
	}
	if m.grads, err = G.Grad(m.cost, g.Params...); err != nil {
		t.Fatal(err)
	}
	roots := append(G.Nodes{m.cost}, m.grads...)
	if planned {
		if m.vm, err = net.Machine(g, roots, g.Logits); err != nil {
			t.Fatal(err)
		}
		if m.evm, err = net.Machine(net.Eval, G.Nodes{net.Eval.Logits}); err != nil {
			t.Fatal(err)
		}
	} else {
		m.vm = G.NewTapeMachine(g.G.SubgraphRoots(roots...))
		m.evm = G.NewTapeMachine(net.Eval.G.SubgraphRoots(net.Eval.Logits))
	}
	t.Cleanup(func() { m.vm.Close(); m.evm.Close() })
	if m.opt, err = optim.NewSGD(train.OptimizerParams(net), optim.SGDConfig{Momentum: 0.9}); err != nil {
		t.Fatal(err)
	}
	return m
}

// step runs a training step and returns what it read: the loss, the logits and every
// gradient, before the SGD update.
func (m *machines) step(t *testing.T) [][]float32 {
	t.Helper()
	m.vm.Reset()
	if err := m.vm.RunAll(); err != nil {
		t.Fatal(loss.FromMachine(err))
	}
	out := [][]float32{{m.cost.Value().Data().(float32)}, clone(m.net.Train.Logits.Value())}
	grads := make([][]float32, len(m.grads))
	for i, gr := range m.grads {
		grads[i] = gr.Value().Data().([]float32)
		out = append(out, clone(gr.Value()))
	}
	if err := m.opt.Step(m.lr, grads); err != nil {
		t.Fatal(err)
	}
	return out
}

func (m *machines) eval(t *testing.T) [][]float32 {
	t.Helper()
	m.evm.Reset()
	if err := m.evm.RunAll(); err != nil {
		t.Fatal(err)
	}
	return [][]float32{clone(m.net.Eval.Logits.Value())}
}

func clone(v G.Value) []float32 { return append([]float32(nil), v.Data().([]float32)...) }

// Machines made by Net.Machine, whose layers' outputs share memory, compute what machines
// with an array per value compute, bit for bit: training steps (the loss, the logits, every
// gradient) and evaluations, interleaved as training runs them, on every kind of layer
// (residuals, dropout, BatchNorm, Winograd's and the direct convolutions).
func TestMachineSharedMemoryIsExact(t *testing.T) {
	for _, name := range []string{"mlp", "cnn-small", "resnet-tiny", "resnet9-8", "airbench-64-64-64",
		"conv8x5s2,bn,relu,res(conv8,bn,relu),drop0.25,pool2,gap,fc10,scale0.5"} {
		images, labels := randomBatch(5, 11)
		planned := newMachines(t, name, true, images, labels)
		plain := newMachines(t, name, false, images, labels)
		for round := range 3 {
			for part, run := range []func(*machines) [][]float32{
				func(m *machines) [][]float32 { return m.step(t) },
				func(m *machines) [][]float32 { return m.eval(t) },
			} {
				got, want := run(planned), run(plain)
				for i := range want {
					for j := range want[i] {
						if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
							t.Fatalf("%s: round %d, %s, value %d [%d] = %v with shared memory, %v without",
								name, round, []string{"training", "evaluation"}[part], i, j, got[i][j], want[i][j])
						}
					}
				}
			}
		}
	}
}

// A graph planned for one machine refuses to run on another (whose order the plan does not
// know) and in Infer, with an error instead of wrong values.
func TestPlannedGraphRunsOnlyOnItsMachine(t *testing.T) {
	images, labels := randomBatch(2, 3)
	m := newMachines(t, "airbench-8-16-32", true, images, labels)
	m.eval(t)
	if _, err := m.net.Infer(); err == nil || !strings.Contains(err.Error(), "planned") {
		t.Errorf("Infer on a planned evaluation graph: %v, want an error", err)
	}
	// The loss and the first layer's gradients only: the plan's order less the other
	// layers' weight gradients. (A machine that runs a prefix of the plan's order, such as
	// the forward alone, is within the plan and may run.)
	other := G.NewTapeMachine(m.net.Train.G.SubgraphRoots(m.cost, m.grads[0]))
	defer other.Close()
	m.step(t)
	if err := other.RunAll(); err == nil || !strings.Contains(err.Error(), "planned") {
		t.Errorf("another machine over a planned graph: %v, want an error", err)
	}
}
