package loss_test

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/loss"
)

// Two rows of three logits; the second has its max in column 0 after a row of zeros, the
// case in which Gorgonia's stock log-softmax gives -Inf.
func ExampleSoftmaxCrossEntropy() {
	g := G.NewGraph()
	z := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 3), G.WithName("logits"),
		G.WithValue(tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{0, 0, 0, 100, 0, 0}))))
	y := G.NewVector(g, tensor.Int, G.WithShape(2), G.WithName("labels"),
		G.WithValue(tensor.New(tensor.WithShape(2), tensor.WithBacking([]int{1, 0}))))
	cost, err := loss.SoftmaxCrossEntropy(z, y)
	if err != nil {
		panic(err)
	}
	grads, err := G.Grad(cost, z)
	if err != nil {
		panic(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		panic(loss.FromMachine(err))
	}
	fmt.Printf("loss %.4f (log(3)/2)\n", cost.Value().Data())
	fmt.Printf("dL/dz %.4f\n", grads[0].Value().Data())
	// Output:
	// loss 0.5493 (log(3)/2)
	// dL/dz [0.1667 -0.3333 0.1667 0.0000 0.0000 0.0000]
}

func ExampleSoftmaxCrossEntropyKernel() {
	x, _ := loss.NewSoftmaxCrossEntropyKernel[float32](3, loss.WithUnits(loss.Bits))
	logits := []float32{1, 1, 1, 2, 0, 0}
	l, _ := x.Forward(logits, []int{0, 0})
	dlogits := make([]float32, len(logits))
	x.Backward(dlogits, logits, []int{0, 0}, []float32{1})
	fmt.Printf("%.4f bits, rows %.4f\n", l, x.RowLosses())
	_, err := x.Forward(logits, []int{0, 3})
	fmt.Println(err)
	// Output:
	// 0.9653 bits, rows [1.5850 0.3456]
	// loss: softmax cross-entropy: row 1: label 3: label out of range [0, 3)
}
