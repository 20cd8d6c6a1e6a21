package metric

import (
	"math"
	"testing"
)

// Three rows of two classes, by hand: the loss is the mean of log-sum-exp minus the label's
// logit; the rows are right with confidence 0.731, wrong with 0.881, and a tie (the first
// class wins it) wrong with 0.5, each alone in its ECE bin.
func TestEvaluator(t *testing.T) {
	e := NewEvaluator(2)
	e.Add([]float32{1, 0, 0, 2, 3, 3}, []int{0, 0, 1})
	r := e.Result()
	lse := func(a, b float64) float64 { m := math.Max(a, b); return m + math.Log(math.Exp(a-m)+math.Exp(b-m)) }
	wantLoss := (lse(1, 0) - 1 + lse(0, 2) - 0 + lse(3, 3) - 3) / 3
	if math.Abs(r.Loss-wantLoss) > 1e-12 || math.Abs(r.LossBits-wantLoss/math.Ln2) > 1e-12 {
		t.Errorf("loss %v (%v bits), want %v", r.Loss, r.LossBits, wantLoss)
	}
	if r.Accuracy != 1.0/3 || r.Confusion[0][0] != 1 || r.Confusion[0][1] != 1 || r.Confusion[1][0] != 1 {
		t.Errorf("accuracy %v, confusion %v", r.Accuracy, r.Confusion)
	}
	if r.PerClass[0] != 0.5 || r.PerClass[1] != 0 {
		t.Errorf("per class %v", r.PerClass)
	}
	c1, c2, c3 := 1/(1+math.Exp(-1)), 1/(1+math.Exp(-2)), 0.5
	wantECE := (math.Abs(1-c1) + math.Abs(0-c2) + math.Abs(0-c3)) / 3
	if math.Abs(r.ECE-wantECE) > 1e-12 {
		t.Errorf("ECE %v, want %v", r.ECE, wantECE)
	}
}
