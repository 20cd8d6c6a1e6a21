package model_test

import (
	"errors"
	"math"
	"regexp"
	"strconv"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/loss"
	"example.com/xent/model"
)

// FuzzSpec: whatever the spec, parsing and building never panic (a spec that does not
// parse is a *SpecError; one that does not fit its shapes an error naming the layer), and
// a model that builds runs a training step's forward and backward to finite values.
// Numbers in the spec are kept small so that a case fits in memory.
func FuzzSpec(f *testing.F) {
	for _, s := range []string{
		"pool16,conv8x7,fc10", "pool8,conv8x11,fc10", "conv8x67,fc10", "conv32x99,fc10", // padding wider than the input
		"conv8x5s2,bn,relu,drop0.1,res(conv8,bn,relu),pool2,gap,fc7,scale0.5",
		"conv16,relu,res(conv16,relu,conv16),relu,conv32s2,relu,gap,fc10",
		"flatten,fc64,relu,fc10", "pool32,flatten,fc10", "conv4s9,pool3,gap,fc3", "res(bn),gap,fc2",
	} {
		f.Add(s)
	}
	big := regexp.MustCompile(`[0-9]+`)
	f.Fuzz(func(t *testing.T, spec string) {
		if len(spec) > 64 {
			t.Skip("long spec")
		}
		for _, n := range big.FindAllString(spec, -1) {
			if v, err := strconv.Atoi(n); err != nil || v > 100 {
				t.Skip("a number too large to build in a test")
			}
		}
		if _, err := model.ParseSpec(spec); err != nil {
			var se *model.SpecError
			if !errors.As(err, &se) {
				t.Fatalf("%q: parse error %v is not a *SpecError", spec, err)
			}
			return
		}
		net, err := model.New(spec, model.Options{TrainBatch: 2, EvalBatch: 1})
		if err != nil {
			return // a shape that does not fit: an error naming the layer
		}
		if net.Params.Count() > 1<<22 || net.MACs() > 2e7 {
			t.Skip("a model too large for a test")
		}
		g := net.Train
		if len(g.Params) == 0 {
			return // nothing to train (train refuses such a model)
		}
		labels := G.NewVector(g.G, tensor.Int, G.WithShape(2), G.WithName("labels"),
			G.WithValue(tensor.New(tensor.WithShape(2), tensor.WithBacking([]int{0, 0}))))
		if g.Logits.Shape()[1] < 1 {
			t.Fatalf("%q: logits %v", spec, g.Logits.Shape())
		}
		cost, err := loss.SoftmaxCrossEntropy(g.Logits, labels)
		if err != nil {
			t.Fatalf("%q: loss: %v", spec, err)
		}
		grads, err := G.Grad(cost, g.Params...)
		if err != nil {
			t.Fatalf("%q: gradients: %v", spec, err)
		}
		in := g.Input.Value().Data().([]float32)
		for i := range in {
			in[i] = float32(i%17)/8 - 1
		}
		vm := G.NewTapeMachine(g.G.SubgraphRoots(append(G.Nodes{cost}, grads...)...))
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatalf("%q: a step: %v", spec, err)
		}
		if l := cost.Value().Data().(float32); math.IsNaN(float64(l)) || math.IsInf(float64(l), 0) {
			t.Fatalf("%q: loss %v", spec, l)
		}
	})
}
