package loss

import (
	"errors"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/internal/graphop"
)

// TestLinearXentNode runs the node in a graph for three steps, h changing between them: the
// first recomputes in the backward, the later ones form the gradients in the forward; every
// step's loss and gradients (through an upstream factor 2.5, or a sum over the rows of None)
// equal the unfused computation.
func TestLinearXentNode(t *testing.T) {
	const n, d, v = 8, 3, 6
	for _, tc := range []combo{
		{"mean", nil},
		{"sum/zloss", []Option{WithReduction(Sum), WithZLoss(0.02)}},
		{"none/softcap", []Option{WithReduction(None), WithSoftcap(3)}},
		{"mean/weights/ignore/smoothing", []Option{WithWeights([]float64{1, 2, 0.5, 1, 3, 1}), WithIgnore(-100), WithSmoothing(0.1)}},
	} {
		for _, bias := range []bool{false, true} {
			t.Run(tc.name, func(t *testing.T) {
				o, _ := NewOptions(v, tc.opts...)
				rng := rand.New(rand.NewPCG(9, 9))
				c := newLinearCase(rng, n, d, v, bias, o)
				g := G.NewGraph()
				hT := tensor.New(tensor.WithShape(n, d), tensor.WithBacking(append([]float64(nil), c.h...)))
				h := G.NewMatrix(g, tensor.Float64, G.WithShape(n, d), G.WithName("h"), G.WithValue(hT))
				w := G.NewMatrix(g, tensor.Float64, G.WithShape(v, d), G.WithName("w"),
					G.WithValue(tensor.New(tensor.WithShape(v, d), tensor.WithBacking(c.w))))
				y := G.NodeFromAny(g, tensor.New(tensor.WithShape(n), tensor.WithBacking(c.y)), G.WithName("y"))
				opts, wrt := tc.opts, G.Nodes{h, w}
				if bias {
					b := G.NewVector(g, tensor.Float64, G.WithShape(v), G.WithName("b"),
						G.WithValue(tensor.New(tensor.WithShape(v), tensor.WithBacking(c.b))))
					opts, wrt = append(append([]Option{}, opts...), WithBias(b)), append(wrt, b)
				}
				l, err := LinearCrossEntropy(h, w, y, opts...)
				if err != nil {
					t.Fatal(err)
				}
				cost := G.Must(G.Mul(l, G.NewConstant(2.5)))
				c.g = []float64{2.5}
				if o.Reduction == None {
					cost = G.Must(G.Sum(l))
					c.g = make([]float64, n)
					for i := range c.g {
						c.g[i] = 1
					}
				}
				grads, err := G.Grad(cost, wrt...)
				if err != nil {
					t.Fatal(err)
				}
				vm := G.NewTapeMachine(g)
				defer vm.Close()
				k, _ := graphop.KernelOf(l)
				node := k.(*linearXentNode[float64])
				for step := range 3 {
					vm.Reset()
					if err := vm.RunAll(); err != nil {
						t.Fatal(err)
					}
					if want := step > 0 && o.Reduction != None; node.fused != want {
						t.Errorf("step %d: fused %v, want %v", step, node.fused, want)
					}
					l0, _, dh0, dw0, db0 := c.unfused(t, tc.opts)
					l0 = withUpstream(l0, nil, Sum, c.g)
					if o.Reduction == None {
						_, rows, _, _, _ := c.unfused(t, tc.opts)
						l0 = withUpstream(0, rows, None, c.g)
					}
					got := cost.Value().Data().(float64)
					want := [][]float64{dh0, dw0, db0}
					for i, gn := range grads {
						checkClose(t, "gradient", gn.Value().Data().([]float64), want[i], 1e-12)
					}
					checkClose(t, "cost", []float64{got}, []float64{l0}, 1e-12)
					for i := range c.h { // the next step's h
						c.h[i] += 0.1 * float64(i%3)
					}
					copy(hT.Data().([]float64), c.h)
				}
			})
		}
	}
}

func TestLinearXentNodeErrors(t *testing.T) {
	g := G.NewGraph()
	h := G.NewMatrix(g, tensor.Float32, G.WithShape(4, 3), G.WithName("h"))
	w := G.NewMatrix(g, tensor.Float32, G.WithShape(5, 3), G.WithName("w"))
	w64 := G.NewMatrix(g, tensor.Float64, G.WithShape(5, 3), G.WithName("w64"))
	wBad := G.NewMatrix(g, tensor.Float32, G.WithShape(5, 2), G.WithName("w_bad"))
	b := G.NewVector(g, tensor.Float32, G.WithShape(4), G.WithName("b_bad"))
	y := G.NewVector(g, tensor.Int, G.WithShape(4), G.WithName("y"))
	y3 := G.NewVector(g, tensor.Int, G.WithShape(3), G.WithName("y3"))
	for name, err := range map[string]error{
		"w of another depth": second(LinearCrossEntropy(h, wBad, y)),
		"w of another dtype": second(LinearCrossEntropy(h, w64, y)),
		"bias of 4 for 5":    second(LinearCrossEntropy(h, w, y, WithBias(b))),
		"3 labels for 4":     second(LinearCrossEntropy(h, w, y3)),
	} {
		if !errors.Is(err, ErrShape) {
			t.Errorf("%s: got %v, want ErrShape", name, err)
		}
	}
	z := G.NewMatrix(g, tensor.Float32, G.WithShape(4, 5), G.WithName("z"))
	if _, err := SoftmaxCrossEntropy(z, y, WithBias(b)); !errors.Is(err, ErrOption) {
		t.Errorf("SoftmaxCrossEntropy with a bias: got %v, want ErrOption", err)
	}
}
