package loss

import (
	"fmt"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BenchmarkNodeForwardBackward runs the fused node and its gradient through a TapeMachine.
func BenchmarkNodeForwardBackward(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(fmt.Sprintf("%dx%d", s[0], s[1]), func(b *testing.B) {
			zv, yv := benchInputs(s[0], s[1])
			g := G.NewGraph()
			z := G.NewMatrix(g, tensor.Float32, G.WithShape(s[0], s[1]), G.WithName("z"),
				G.WithValue(tensor.New(tensor.WithShape(s[0], s[1]), tensor.WithBacking(zv))))
			y := G.NewVector(g, tensor.Int, G.WithShape(s[0]), G.WithName("y"),
				G.WithValue(tensor.New(tensor.WithShape(s[0]), tensor.WithBacking(yv))))
			cost := G.Must(SoftmaxCrossEntropy(z, y))
			grads, err := G.Grad(cost, z)
			if err != nil {
				b.Fatal(err)
			}
			vm := G.NewTapeMachine(g.SubgraphRoots(cost, grads[0]))
			defer vm.Close()
			b.SetBytes(int64(4 * len(zv)))
			b.ReportAllocs()
			for b.Loop() {
				vm.Reset()
				if err := vm.RunAll(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
