package loss

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// A two-layer MLP trained through the fused node fits a small synthetic problem: the loss
// goes to about 0, as it must when the gradient the node hands back is right.
func TestMLPTrainsToZeroLoss(t *testing.T) {
	const n, d, h, k = 64, 8, 32, 4
	rng := rand.New(rand.NewPCG(42, 42))
	xs := make([]float32, n*d)
	for i := range xs {
		xs[i] = float32(rng.NormFloat64())
	}
	ys := make([]int, n)
	for i := range ys {
		ys[i] = rng.IntN(k)
	}
	param := func(g *G.ExprGraph, name string, rows, cols int, scale float64) *G.Node {
		v := make([]float32, rows*cols)
		for i := range v {
			v[i] = float32((rng.Float64()*2 - 1) * scale)
		}
		return G.NewMatrix(g, tensor.Float32, G.WithShape(rows, cols), G.WithName(name),
			G.WithValue(tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(v))))
	}
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(n, d), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(n, d), tensor.WithBacking(xs))))
	y := G.NewVector(g, tensor.Int, G.WithShape(n), G.WithName("y"),
		G.WithValue(tensor.New(tensor.WithShape(n), tensor.WithBacking(ys))))
	w1, w2 := param(g, "w1", d, h, 0.35), param(g, "w2", h, k, 0.18)
	hidden := G.Must(G.Rectify(G.Must(G.Mul(x, w1))))
	cost := G.Must(SoftmaxCrossEntropy(G.Must(G.Mul(hidden, w2)), y))
	params := G.Nodes{w1, w2}
	grads, err := G.Grad(cost, params...)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g.SubgraphRoots(append(G.Nodes{cost}, grads...)...))
	defer vm.Close()
	var first, last float32
	for step := range 1500 {
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(FromMachine(err))
		}
		last = cost.Value().Data().(float32)
		if step == 0 {
			first = last
		}
		for i, p := range params {
			w := p.Value().Data().([]float32)
			for j, dw := range grads[i].Value().Data().([]float32) {
				w[j] -= 0.5 * dw
			}
		}
	}
	if last > 0.01 {
		t.Errorf("loss went from %.4f to %.4f in 1500 steps, want <= 0.01", first, last)
	}
	t.Logf("loss %.4f -> %.5f", first, last)
}
