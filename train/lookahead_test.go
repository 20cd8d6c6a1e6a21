package train

import (
	"math"
	"testing"

	"gorgonia.org/tensor"

	"example.com/xent/model"
)

func TestLookahead(t *testing.T) {
	w := []float32{1, 2}
	p := &model.Param{Name: "w", T: tensor.New(tensor.WithShape(2), tensor.WithBacking(w))}
	la := newLookahead([]*model.Param{p}, 10)
	w[0], w[1] = 3, 6 // the optimizer moved the weights
	la.afterStep(4)   // not a multiple of 5: nothing
	if w[0] != 3 || la.slow[0][0] != 1 {
		t.Fatalf("step 4 changed something: fast %v slow %v", w, la.slow[0])
	}
	la.afterStep(5)
	d := math.Pow(0.95, 5) * math.Pow(0.5, 3)
	want := float32(d*1 + (1-d)*3)
	if math.Abs(float64(w[0]-want)) > 1e-6 || w[0] != la.slow[0][0] {
		t.Fatalf("step 5: fast %v slow %v, want both %v", w[0], la.slow[0][0], want)
	}
	slow := la.slow[0][1]
	w[1] = 100
	la.afterStep(10) // the last step: the model becomes the slow copy
	if w[1] != slow {
		t.Fatalf("after the last step fast = %v, want the slow copy %v", w[1], slow)
	}
}
