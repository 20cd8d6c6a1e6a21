package model_test

import (
	"math"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"

	"example.com/xent/internal/conv3"
	"example.com/xent/model"
)

// Net.Ops describes the evaluation graph: each op reads earlier ops (or the images), its
// parameters are the net's, the last one gives the logits, and every parameter tensor
// belongs to an op.
func TestOpsDescribeTheNet(t *testing.T) {
	for _, name := range []string{"mlp", "cnn-small", "resnet-tiny", "resnet9-8", "airbench-8-16-32",
		"conv8x5s2,bn,relu,drop0.1,res(conv8,bn,relu),pool2,gap,fc10,scale0.5"} {
		net, err := model.New(name, model.Options{TrainBatch: 2, EvalBatch: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(net.Ops) == 0 || !slices.Equal(net.Ops[len(net.Ops)-1].Shape, []int{10}) {
			t.Fatalf("%s: %d ops, the last gives %v", name, len(net.Ops), net.Ops[len(net.Ops)-1].Shape)
		}
		used := map[string]bool{}
		for i, op := range net.Ops {
			for _, in := range op.Inputs {
				if in < -1 || in >= i {
					t.Errorf("%s: op %d (%s) reads op %d", name, i, op.Kind, in)
				}
			}
			var suffixes []string
			switch op.Kind {
			case model.OpConv:
				suffixes = []string{".weight"}
				if op.Bias {
					suffixes = append(suffixes, ".bias")
				}
			case model.OpLinear:
				suffixes = []string{".weight", ".bias"}
			case model.OpBatchNorm:
				suffixes = []string{".weight", ".bias", ".running_mean", ".running_var"}
			}
			for _, s := range suffixes {
				if net.Params.Get(op.Name+s) == nil {
					t.Errorf("%s: op %d (%s %s) has no parameter %s", name, i, op.Kind, op.Name, op.Name+s)
				}
				used[op.Name+s] = true
			}
		}
		for _, p := range net.Params.List() {
			if !used[p.Name] {
				t.Errorf("%s: parameter %s belongs to no op", name, p.Name)
			}
		}
	}
}

// Infer runs the evaluation graph as a Gorgonia machine does, bit for bit, and allocates
// nothing once warm (in the SIMD build; the pure-Go one's GEMM allocates).
func TestInferIsTheMachine(t *testing.T) {
	for _, name := range []string{"mlp", "cnn-small", "resnet-tiny", "resnet9-8", "airbench-8-16-32",
		"conv8x5s2,bn,relu,res(conv8,bn,relu),pool2,gap,fc10,scale0.5"} {
		net, err := model.New(name, model.Options{TrainBatch: 2, EvalBatch: 4, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		images, _ := randomBatch(4, 9)
		copy(net.Eval.Input.Value().Data().([]float32), images)
		vm := G.NewTapeMachine(net.Eval.G.SubgraphRoots(net.Eval.Logits))
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		want := append([]float32(nil), net.Eval.Logits.Value().Data().([]float32)...)
		vm.Close()
		got, err := net.Infer()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: logit %d = %v, the machine's %v", name, i, got[i], want[i])
			}
		}
		if !conv3.Fast {
			continue // the pure-Go build's GEMM is gonum's, which allocates in every call
		}
		if a := testing.AllocsPerRun(3, func() { net.Infer() }); a != 0 {
			t.Errorf("%s: Infer allocated %v times a call once warm", name, a)
		}
	}
}
