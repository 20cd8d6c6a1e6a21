package model_test

import (
	"math"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"

	"example.com/xent/model"
)

// lanesArch reaches every layer that takes the lanes layout, and the borders back to NCHW:
// a plain first convolution (3 channels), Winograd convolutions without bias, BatchNorm
// with and without GELU, ReLU, a residual sum of two lanes nodes, a 2x2 max pool in the
// layout and a 3x3 one that needs NCHW, then the head.
func lanesArch(b *model.Builder, x *gorgonia.Node) *gorgonia.Node {
	bn := model.BatchNormConfig{Momentum: 0.4, Eps: 1e-5}
	conv := model.ConvConfig{Out: 64, Kernel: 3, Pad: 1, NoBias: true}
	h := b.GELU(b.Conv("stem", x, conv))
	h1 := b.ReLU(b.BatchNorm("a.norm", b.Conv("a.conv", h, conv), bn))
	h2 := b.BatchNormGELU("b.norm", b.Conv("b.conv", h1, conv), bn)
	h = b.MaxPool2d(b.Add(h1, h2), 2)
	h = b.BatchNormGELU("c.norm", b.Conv("c.conv", h, conv), bn)
	return b.Linear("head", b.Flatten(b.MaxPool2d(h, 3)), 10)
}

func init() {
	if err := model.Register("lanes-test", "the lanes layout's layers (lanes_test.go)", lanesArch, model.PyTorchDefault); err != nil {
		panic(err)
	}
}

// Training in the lanes layout computes what NCHW computes, up to the rounding of sums
// taken in another order (BatchNorm's, dw's groups): the loss, the logits and every
// gradient, each within 1e-3 of its tensor's largest magnitude (a value in a wrong place
// is off by the order of that magnitude), in three steps at learning rate 0 (the same
// weights, the layers' arrays reused: a value a step leaves unwritten shows; these nets
// are chaotic enough that 1e-7 on the images moves a step's gradients by 2% of their
// scale, so the steps do not update). And a machine whose layers share memory
// (Net.Machine) computes the same bits as one that does not, in the layout too, over
// steps that update. Needs the AVX-512 build (Winograd); elsewhere there is no lanes
// layout to test.
func TestLanesMatchNCHW(t *testing.T) {
	for _, name := range []string{"airbench-64-64-64", "lanes-test"} {
		images, labels := randomBatch(32, 12)
		lanes := newMachines(t, name, true, images, labels)
		if !usesLanes(lanes.net) {
			t.Skipf("%s: no lanes layout in this build (Winograd needs the AVX-512 kernels)", name)
		}
		unplanned := newMachines(t, name, false, images, labels)
		old := model.SetLanesEnv("off")
		nchw := newMachines(t, name, true, images, labels)
		model.SetLanesEnv(old)
		if usesLanes(nchw.net) {
			t.Fatalf("%s: XENT_LANES=off built a lanes layout", name)
		}
		lanes.lr, nchw.lr = 0, 0
		for round := range 3 {
			got, want := lanes.step(t), nchw.step(t)
			worst := 0.0
			for i := range want {
				scale := 0.0
				for _, v := range want[i] {
					scale = max(scale, math.Abs(float64(v)))
				}
				for j := range want[i] {
					d := math.Abs(float64(got[i][j]-want[i][j])) / scale
					if !(d <= 1e-3) {
						t.Fatalf("%s: step %d, value %d [%d] = %v in lanes, %v in NCHW (largest %v)", name, round, i, j, got[i][j], want[i][j], scale)
					}
					worst = max(worst, d)
				}
			}
			t.Logf("%s: step %d: largest difference %.2g of its tensor's largest magnitude", name, round, worst)
		}
		planned := newMachines(t, name, true, images, labels)
		for round := range 3 {
			got, want := planned.step(t), unplanned.step(t)
			for i := range want {
				for j := range want[i] {
					if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
						t.Fatalf("%s: step %d, value %d [%d] = %v with shared memory, %v without", name, round, i, j, got[i][j], want[i][j])
					}
				}
			}
		}
	}
}

// usesLanes reports whether n's training graph converts a layout.
func usesLanes(n *model.Net) bool {
	for _, node := range n.Train.G.AllNodes() {
		if op := node.Op(); op != nil && op.String() == "xent.Layout{lanes=true}" {
			return true
		}
	}
	return false
}

// XENT_LANES takes "off" or nothing: another value fails the build with an error naming
// it, whatever the network (mlp has no layer that could take the layout).
func TestLanesEnvRejectsUnknown(t *testing.T) {
	old := model.SetLanesEnv("on")
	defer model.SetLanesEnv(old)
	for _, name := range []string{"airbench-64-64-64", "mlp"} {
		_, err := model.New(name, model.Options{TrainBatch: 32, EvalBatch: 10})
		if err == nil || !strings.Contains(err.Error(), "XENT_LANES") {
			t.Fatalf("%s with XENT_LANES=on: %v, want an error naming it", name, err)
		}
	}
}
