package model_test

import (
	"bytes"
	"math"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"

	"example.com/xent/model"
)

// The reference models of ../shared/peers/README.md: parameters and forward MACs per image.
func TestReferenceModelsMatchThePeer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params int
		macs   float64 // millions, as the peer's table rounds them
	}{
		{"mlp", 1578506, 1.6},
		{"cnn-small", 620362, 10.8},
		{"resnet-tiny", 121226, 17.0},
	} {
		net, err := model.New(tc.name, model.Options{TrainBatch: 2, EvalBatch: 3})
		if err != nil {
			t.Fatal(err)
		}
		if got := net.Params.Count(); got != tc.params {
			t.Errorf("%s: %d parameters, the peer has %d", tc.name, got, tc.params)
		}
		if got := float64(net.MACs()) / 1e6; math.Abs(got-tc.macs) > 0.05 {
			t.Errorf("%s: %.2f M MACs per image, the peer has %.1f", tc.name, got, tc.macs)
		}
		if net.Train.Logits.Shape()[0] != 2 || net.Eval.Logits.Shape()[0] != 3 {
			t.Errorf("%s: logits %v and %v", tc.name, net.Train.Logits.Shape(), net.Eval.Logits.Shape())
		}
		var buf bytes.Buffer
		if err := net.Summary(&buf); err != nil || !strings.Contains(buf.String(), "total") ||
			strings.Count(buf.String(), "\n") != len(net.Layers)+2 {
			t.Errorf("%s: summary\n%s", tc.name, buf.String())
		}
	}
}

func TestUniqueNamesAndErrors(t *testing.T) {
	twice := func(b *model.Builder, x *G.Node) *G.Node {
		return b.Linear("fc", b.Linear("fc", b.Flatten(x), 10), 10)
	}
	if _, err := model.Build("twice", twice, model.PyTorchDefault, model.Options{TrainBatch: 2, EvalBatch: 2}); err == nil ||
		!strings.Contains(err.Error(), `"fc"`) {
		t.Errorf("two layers named fc: err = %v", err)
	}
	noFlatten := func(b *model.Builder, x *G.Node) *G.Node { return b.Linear("fc", x, 10) }
	if _, err := model.Build("x", noFlatten, model.PyTorchDefault, model.Options{TrainBatch: 2, EvalBatch: 2}); err == nil {
		t.Error("a linear layer on a 4-D input was accepted")
	}
	if _, _, err := model.Named("resnet50"); err == nil {
		t.Error("an unknown architecture was accepted")
	}
	net, _ := model.New("resnet-tiny", model.Options{TrainBatch: 2, EvalBatch: 2})
	seen := map[string]bool{}
	for _, p := range net.Params.List() {
		if seen[p.Name] {
			t.Errorf("parameter %s twice", p.Name)
		}
		seen[p.Name] = true
	}
}

func TestInitialisation(t *testing.T) {
	a, _ := model.New("cnn-small", model.Options{TrainBatch: 1, EvalBatch: 1, Seed: 3})
	b, _ := model.New("cnn-small", model.Options{TrainBatch: 1, EvalBatch: 1, Seed: 3})
	c, _ := model.New("cnn-small", model.Options{TrainBatch: 1, EvalBatch: 1, Seed: 4})
	w := func(n *model.Net, name string) []float32 { return n.Params.Get(name).T.Data().([]float32) }
	if w(a, "conv2.weight")[5] != w(b, "conv2.weight")[5] || w(a, "conv2.weight")[5] == w(c, "conv2.weight")[5] {
		t.Error("initialisation is not a function of the seed")
	}
	// PyTorch's default: U(+-1/sqrt(fan_in)) for weights and biases; conv2's fan-in is 32*9.
	bound := float32(1 / math.Sqrt(32*9))
	var maxAbs float32
	for _, v := range append(w(a, "conv2.weight"), w(a, "conv2.bias")...) {
		maxAbs = max(maxAbs, float32(math.Abs(float64(v))))
	}
	if maxAbs > bound || maxAbs < 0.9*bound {
		t.Errorf("conv2 weights reach %v, want just under 1/sqrt(fan_in) = %v", maxAbs, bound)
	}
	// He: N(0, 2/fan_out) for resnet9's convolutions, BatchNorm scale 1 and shift 0.
	r, _ := model.New("resnet9-16", model.Options{TrainBatch: 1, EvalBatch: 1})
	wts := r.Params.Get("layer2.conv.weight").T.Data().([]float32) // [64,32,3,3]
	var sq float64
	for _, v := range wts {
		sq += float64(v) * float64(v)
	}
	if std, want := math.Sqrt(sq/float64(len(wts))), math.Sqrt(2.0/(64*9)); math.Abs(std-want) > 0.05*want {
		t.Errorf("He init std %v, want %v", std, want)
	}
	if g := r.Params.Get("prep.bn.weight").T.Data().([]float32); g[0] != 1 {
		t.Errorf("BatchNorm scale starts at %v", g[0])
	}
}

// The evaluation graph sees the training graph's weights, and BatchNorm's running
// statistics survive building machines (Gorgonia's own BatchNorm zeroes them then).
func TestTrainAndEvalShareWeights(t *testing.T) {
	net, _ := model.New("resnet9-8", model.Options{TrainBatch: 16, EvalBatch: 16, Seed: 5})
	images, labels := randomBatch(16, 9)
	tr := newTrainer(t, net, images, labels, 1e-3)
	for range 3 {
		tr.step(t, 1e-3)
	}
	mean := net.Params.Get("layer1.bn.running_mean").T.Data().([]float32)
	before := append([]float32(nil), mean...)
	if before[0] == 0 {
		t.Fatal("running mean did not move in training")
	}
	copy(net.Eval.Input.Value().Data().([]float32), images)
	vm := G.NewTapeMachine(net.Eval.G)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	for i := range mean {
		if mean[i] != before[i] {
			t.Fatalf("running mean[%d] changed in evaluation: %v -> %v", i, before[i], mean[i])
		}
	}
	// For a network without BatchNorm or dropout the two graphs compute the same logits.
	mlp, _ := model.New("mlp", model.Options{TrainBatch: 16, EvalBatch: 16, Seed: 5})
	tm := newTrainer(t, mlp, images, labels, 1e-3)
	tm.step(t, 1e-3)
	tm.step(t, 1e-3) // the logits of this step are computed with updated weights
	train := append([]float32(nil), mlp.Train.Logits.Value().Data().([]float32)...)
	// evaluate with the weights the second step's forward used: undo nothing, rerun both
	copy(mlp.Eval.Input.Value().Data().([]float32), images)
	ev := G.NewTapeMachine(mlp.Eval.G)
	defer ev.Close()
	tm.vm.Reset()
	if err := tm.vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if err := ev.RunAll(); err != nil {
		t.Fatal(err)
	}
	got, want := mlp.Eval.Logits.Value().Data().([]float32), mlp.Train.Logits.Value().Data().([]float32)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("eval logit %d = %v, train %v", i, got[i], want[i])
		}
	}
	if train[0] == want[0] {
		t.Error("the optimizer step did not change the logits")
	}
}
