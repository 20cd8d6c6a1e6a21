package metric

import (
	"math"
	"math/rand/v2"
	"reflect"
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

// Two evaluators over the halves of a split, their tallies summed, give the evaluation of
// one over the whole split.
func TestTalliesCombine(t *testing.T) {
	const n, k = 101, 4
	rng := rand.New(rand.NewPCG(1, 2))
	logits, labels := make([]float32, n*k), make([]int, n)
	for i := range logits {
		logits[i] = float32(3 * rng.NormFloat64())
	}
	for i := range labels {
		labels[i] = rng.IntN(k)
	}
	whole := NewEvaluator(k)
	whole.Add(logits, labels)
	a, b := NewEvaluator(k), NewEvaluator(k)
	a.Add(logits[:40*k], labels[:40])
	b.Add(logits[40*k:], labels[40:])
	sum := a.Tallies()
	for i, v := range b.Tallies() {
		sum[i] += v
	}
	joined := NewEvaluator(k)
	if err := joined.SetTallies(sum); err != nil {
		t.Fatal(err)
	}
	want, got := whole.Result(), joined.Result()
	if got.Accuracy != want.Accuracy || !reflect.DeepEqual(got.Confusion, want.Confusion) || !reflect.DeepEqual(got.PerClass, want.PerClass) ||
		math.Abs(got.Loss-want.Loss) > 1e-14 || math.Abs(got.ECE-want.ECE) > 1e-14 {
		t.Errorf("joined halves: %+v\nwhole split: %+v", got, want)
	}
	if err := joined.SetTallies(sum[1:]); err == nil {
		t.Error("SetTallies took a vector one short")
	}
}
