package loss

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// lossBuilder adds a loss node over logits and a second input (labels or targets).
type lossBuilder func(z, second *G.Node) (*G.Node, error)

// graphLoss builds cost = loss(z, second) (summed when it is a vector), its gradient with
// respect to z, and returns a function that runs the graph at given logits.
func graphLoss(t *testing.T, dt tensor.Dtype, n, k int, second tensor.Tensor, build lossBuilder) func(z []float64) (float64, []float64) {
	t.Helper()
	g := G.NewGraph()
	zT := tensor.New(tensor.WithShape(n, k), tensor.Of(dt))
	z := G.NewMatrix(g, dt, G.WithShape(n, k), G.WithName("z"), G.WithValue(zT))
	s := G.NodeFromAny(g, second, G.WithName("second"))
	l, err := build(z, s)
	if err != nil {
		t.Fatal(err)
	}
	cost := l
	if l.Shape().Dims() == 1 {
		cost = G.Must(G.Sum(l))
	}
	grads, err := G.Grad(cost, z)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	t.Cleanup(func() { vm.Close() })
	return func(zv []float64) (float64, []float64) {
		switch d := zT.Data().(type) {
		case []float32:
			copy(d, to32(zv))
		case []float64:
			copy(d, zv)
		}
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		var c float64
		switch v := cost.Value().Data().(type) {
		case float32:
			c = float64(v)
		case float64:
			c = v
		}
		var dz []float64
		switch d := grads[0].Value().Data().(type) {
		case []float32:
			dz = to64(d)
		case []float64:
			dz = to64(d)
		}
		return c, dz
	}
}

func labelTensor(y []int, dt tensor.Dtype) tensor.Tensor {
	switch dt {
	case tensor.Float32:
		return tensor.New(tensor.WithShape(len(y)), tensor.WithBacking(to32(to64int(y))))
	case tensor.Float64:
		return tensor.New(tensor.WithShape(len(y)), tensor.WithBacking(to64int(y)))
	}
	return tensor.New(tensor.WithShape(len(y)), tensor.WithBacking(append([]int(nil), y...)))
}

func to64int(y []int) []float64 {
	out := make([]float64, len(y))
	for i, v := range y {
		out[i] = float64(v)
	}
	return out
}

func TestGraphGradients(t *testing.T) {
	const n, k = 4, 5
	rng := rand.New(rand.NewPCG(11, 12))
	z := randLogits(rng, n, k, 2)
	y := []int{3, -100, 0, 4}
	p := randProbs(rng, n, k)
	probs := func(dt tensor.Dtype) tensor.Tensor {
		if dt == tensor.Float32 {
			return tensor.New(tensor.WithShape(n, k), tensor.WithBacking(to32(p)))
		}
		return tensor.New(tensor.WithShape(n, k), tensor.WithBacking(append([]float64(nil), p...)))
	}
	weights := []float64{1, 2, 0.5, 1, 3}
	cases := []struct {
		name   string
		second func(dt tensor.Dtype) tensor.Tensor
		build  lossBuilder
	}{
		{"xent int labels", func(tensor.Dtype) tensor.Tensor { return labelTensor(y, tensor.Int) },
			func(z, s *G.Node) (*G.Node, error) {
				return SoftmaxCrossEntropy(z, s, WithIgnore(-100), WithWeights(weights), WithSmoothing(0.1))
			}},
		{"xent float labels, none", func(dt tensor.Dtype) tensor.Tensor { return labelTensor(y, dt) },
			func(z, s *G.Node) (*G.Node, error) {
				return SoftmaxCrossEntropy(z, s, WithIgnore(-100), WithReduction(None), WithUnits(Bits))
			}},
		{"probability targets", probs, func(z, s *G.Node) (*G.Node, error) {
			return CrossEntropyWithProbs(z, s, WithSmoothing(0.2), WithWeights(weights))
		}},
		{"KL", probs, func(z, s *G.Node) (*G.Node, error) { return KLDivergence(z, s, WithReduction(Sum)) }},
		{"log-softmax then NLL", func(tensor.Dtype) tensor.Tensor { return labelTensor(y, tensor.Int) },
			func(z, s *G.Node) (*G.Node, error) {
				ls, err := LogSoftmax(z)
				if err != nil {
					return nil, err
				}
				return NLLLoss(ls, s, WithIgnore(-100), WithWeights(weights))
			}},
	}
	for _, tc := range cases {
		for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
			t.Run(tc.name+"/"+dt.String(), func(t *testing.T) {
				run := graphLoss(t, dt, n, k, tc.second(dt), tc.build)
				_, grad := run(z)
				_, again := run(z) // the reused gradient buffer must not accumulate
				if d := maxAbsDiff(grad, again); d != 0 {
					t.Fatalf("second run's gradient differs by %g", d)
				}
				if dt == tensor.Float32 {
					run64 := graphLoss(t, tensor.Float64, n, k, tc.second(tensor.Float64), tc.build)
					_, want := run64(to64(to32(z)))
					if d := maxAbsDiff(grad, want); d > 1e-6 {
						t.Errorf("float32 gradient differs from float64 by %g", d)
					}
					return
				}
				num := numGrad(func(z []float64) float64 { c, _ := run(z); return c }, z, 1e-6)
				if d := maxAbsDiff(grad, num); d > 1e-8 {
					t.Errorf("graph gradient differs from central differences by %g\n%v\n%v", d, grad, num)
				}
			})
		}
	}
}

func TestLogSoftmaxNLLEqualsFused(t *testing.T) {
	const n, k = 6, 4
	rng := rand.New(rand.NewPCG(2, 3))
	z := randLogits(rng, n, k, 3)
	y := labelsFor(rng, n, k, true)
	opts := []Option{WithIgnore(-100), WithWeights([]float64{1, 2, 3, 4})}
	fused := graphLoss(t, tensor.Float64, n, k, labelTensor(y, tensor.Int), func(z, s *G.Node) (*G.Node, error) {
		return SoftmaxCrossEntropy(z, s, opts...)
	})
	composed := graphLoss(t, tensor.Float64, n, k, labelTensor(y, tensor.Int), func(z, s *G.Node) (*G.Node, error) {
		return NLLLoss(G.Must(LogSoftmax(z)), s, opts...)
	})
	l1, g1 := fused(z)
	l2, g2 := composed(z)
	if math.Abs(l1-l2) > 1e-12 || maxAbsDiff(g1, g2) > 1e-12 {
		t.Errorf("fused %v vs LogSoftmax+NLL %v; gradients differ by %g", l1, l2, maxAbsDiff(g1, g2))
	}
}

// TestOptionsStayDistinctNodes: Gorgonia merges nodes with equal hashes, so every option must
// be in the hash (its stock SoftMax and LogSoftMax merge on v0.9.18).
func TestOptionsStayDistinctNodes(t *testing.T) {
	variants := [][]Option{
		nil,
		{WithReduction(Sum)},
		{WithReduction(None)},
		{WithUnits(Bits)},
		{WithSmoothing(0.1)},
		{WithSmoothing(0.2)},
		{WithIgnore(-100)},
		{WithIgnore(0)},
		{WithWeights([]float64{1, 2, 3})},
		{WithWeights([]float64{1, 2, 4})},
	}
	g := G.NewGraph()
	z := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 3), G.WithName("z"))
	y := G.NewVector(g, tensor.Int, G.WithShape(2), G.WithName("y"))
	p := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 3), G.WithName("p"))
	seen := map[*G.Node]string{}
	add := func(name string, n *G.Node, err error) {
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if other, dup := seen[n]; dup {
			t.Errorf("%s and %s became one node", name, other)
		}
		seen[n] = name
	}
	for _, opts := range variants {
		n, err := SoftmaxCrossEntropy(z, y, opts...)
		add("xent "+n.Op().String(), n, err)
	}
	n, err := NLLLoss(z, y)
	add("nll", n, err)
	n, err = CrossEntropyWithProbs(z, p)
	add("probs", n, err)
	n, err = KLDivergence(z, p)
	add("kl", n, err)
	n, err = LogSoftmax(z)
	add("logsoftmax", n, err)
	again, _ := SoftmaxCrossEntropy(z, y, WithSmoothing(0.1))
	if seen[again] == "" {
		t.Errorf("the same loss with the same options was not merged")
	}
}

func TestGraphErrors(t *testing.T) {
	g := G.NewGraph()
	z := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 3), G.WithName("z"))
	y3 := G.NewVector(g, tensor.Int, G.WithShape(3), G.WithName("y3"))
	z3d := G.NewTensor(g, tensor.Float32, 3, G.WithShape(2, 3, 1), G.WithName("z3d"))
	p := G.NewMatrix(g, tensor.Float32, G.WithShape(3, 3), G.WithName("p"))
	zi := G.NewMatrix(g, tensor.Int, G.WithShape(2, 3), G.WithName("zi"))
	y := G.NewVector(g, tensor.Int, G.WithShape(2), G.WithName("y"))
	for name, err := range map[string]error{
		"labels of the wrong length": second(SoftmaxCrossEntropy(z, y3)),
		"3-D logits":                 second(SoftmaxCrossEntropy(z3d, y)),
		"int logits":                 second(SoftmaxCrossEntropy(zi, y)),
		"targets of another shape":   second(KLDivergence(z, p)),
		"weights for 2 classes":      second(SoftmaxCrossEntropy(z, y, WithWeights([]float64{1, 2}))),
		"KL with smoothing":          second(KLDivergence(z, z, WithSmoothing(0.1))),
		"NLL with smoothing":         second(NLLLoss(z, y, WithSmoothing(0.1))),
		"probs with ignore":          second(CrossEntropyWithProbs(z, z, WithIgnore(1))),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}

	// A bad label at run time comes back from RunAll as an *InputError naming the row.
	_ = G.Let(z, tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, 2, 3, 4, 5, 6})))
	_ = G.Let(y, tensor.New(tensor.WithShape(2), tensor.WithBacking([]int{0, 9})))
	c := G.Must(SoftmaxCrossEntropy(z, y))
	vm := G.NewTapeMachine(g.SubgraphRoots(c))
	defer vm.Close()
	err := FromMachine(vm.RunAll())
	var ie *InputError
	if !errors.As(err, &ie) || ie.Row != 1 || !errors.Is(err, ErrLabel) {
		t.Errorf("RunAll with label 9 of 3 classes: err = %v, want an *InputError for row 1", err)
	}
}

func second(_ *G.Node, err error) error { return err }
