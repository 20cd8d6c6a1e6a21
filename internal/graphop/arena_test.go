package graphop

import (
	"fmt"
	"testing"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// double is y = 2x, dx = 2dy, its outputs lent to an Arena.
type double struct{ y, dx *tensor.Dense }

func (k *double) String() string                                { return fmt.Sprintf("double%p", k) }
func (k *double) DiffWRT() []bool                               { return []bool{true} }
func (k *double) Types() ([]hm.Type, hm.Type)                   { return []hm.Type{VectorA}, VectorA }
func (k *double) Shape(in []tensor.Shape) (tensor.Shape, error) { return in[0].Clone(), nil }
func (k *double) Outputs() []**tensor.Dense                     { return []**tensor.Dense{&k.y, &k.dx} }

func (k *double) Forward(in []gorgonia.Value) (gorgonia.Value, error) {
	k.y = Reused[float32](k.y, in[0].Shape()...)
	x, y := Slice[float32](in[0].(*tensor.Dense)), Slice[float32](k.y)
	for i, v := range x {
		y[i] = 2 * v
	}
	return k.y, nil
}

func (k *double) Backward(_ int, in []gorgonia.Value, _, grad gorgonia.Value) (gorgonia.Value, error) {
	k.dx = Reused[float32](k.dx, in[0].Shape()...)
	dy, dx := Slice[float32](grad.(*tensor.Dense)), Slice[float32](k.dx)
	for i, v := range dy {
		dx[i] = 2 * v
	}
	return k.dx, nil
}

// A chain of eight doublings, forward and backward, holds its values in a few slots: each
// forward value lives until its gradient node has read it, each gradient one node; the
// results are those of the plain machine.
func TestArenaSharesAChain(t *testing.T) {
	const n, layers = 1000, 8
	g := gorgonia.NewGraph()
	x := gorgonia.NewVector(g, tensor.Float32, gorgonia.WithShape(n), gorgonia.WithName("x"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(n), tensor.WithBacking(make([]float32, n)))))
	h := x
	for range layers {
		var err error
		if h, err = Apply(&double{}, h); err != nil {
			t.Fatal(err)
		}
	}
	cost := gorgonia.Must(gorgonia.Sum(h))
	grads, err := gorgonia.Grad(cost, x)
	if err != nil {
		t.Fatal(err)
	}
	for i := range x.Value().Data().([]float32) {
		x.Value().Data().([]float32)[i] = float32(i)
	}
	var a Arena
	sub := g.SubgraphRoots(cost, grads[0])
	if err := a.Plan(sub); err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(sub)
	defer vm.Close()
	for range 2 {
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		for i, v := range grads[0].Value().Data().([]float32) {
			if v != 1<<layers {
				t.Fatalf("dx[%d] = %v, want %v", i, v, 1<<layers)
			}
		}
		if got, want := cost.Value().Data().(float32), float32(1<<layers)*n*(n-1)/2; got != want {
			t.Fatalf("cost %v, want %v", got, want)
		}
	}
	// The last doubling's value is read by Sum (not a kernel) and the first gradient is the
	// root: those keep their own arrays. The other 7 values and 7 gradients are planned:
	// forward values live through the backward, so 7 slots for them and 2 for gradients.
	if got, max := a.Bytes(), int64(9*n*4); got > max || got == 0 {
		t.Errorf("arena of %d bytes, want at most %d (15 values of %d bytes)", got, max, n*4)
	}
}
