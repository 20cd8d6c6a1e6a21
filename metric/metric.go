// Package metric measures a classifier on a labelled split from its logits: accuracy,
// per-class accuracy, the cross-entropy in nats and bits, the expected calibration error
// and the confusion matrix, accumulated in float64 row by row. train's evaluations and
// cmd/predict's use it, so that they agree to the last digit.
package metric

import (
	"fmt"
	"math"
)

// Evaluation is what a pass over a labelled split measures.
type Evaluation struct {
	Loss      float64   // mean cross-entropy, nats
	LossBits  float64   // the same in bits
	Accuracy  float64   // fraction right
	PerClass  []float64 // accuracy of each true class
	ECE       float64   // expected calibration error, 15 equal-width confidence bins
	Confusion [][]int   // [true][predicted] counts
}

// ECEBins is the number of confidence bins of the calibration error.
const ECEBins = 15

// An Evaluator accumulates predictions from logits, row by row, in float64.
type Evaluator struct {
	k                   int
	n                   int
	nll                 float64
	confusion           [][]int
	binN                [ECEBins]int
	binConf, binCorrect [ECEBins]float64
}

// NewEvaluator returns an Evaluator of k classes.
func NewEvaluator(k int) *Evaluator {
	e := &Evaluator{k: k, confusion: make([][]int, k)}
	for i := range e.confusion {
		e.confusion[i] = make([]int, k)
	}
	return e
}

// Add takes the logits [n,K] of n images with their labels [n].
func (e *Evaluator) Add(logits []float32, labels []int) {
	k := e.k
	for i, y := range labels {
		z := logits[i*k : (i+1)*k]
		best, m := 0, math.Inf(-1)
		for c, v := range z {
			if float64(v) > m {
				m, best = float64(v), c
			}
		}
		var s float64
		for _, v := range z {
			s += math.Exp(float64(v) - m)
		}
		lse := m + math.Log(s)
		e.nll += lse - float64(z[y])
		conf := math.Exp(float64(z[best]) - lse)
		bin := min(int(conf*ECEBins), ECEBins-1)
		e.binN[bin]++
		e.binConf[bin] += conf
		if best == y {
			e.binCorrect[bin]++
		}
		e.confusion[y][best]++
		e.n++
	}
}

// Result returns what the rows added so far measure.
func (e *Evaluator) Result() Evaluation {
	r := Evaluation{Confusion: e.confusion, PerClass: make([]float64, e.k)}
	if e.n == 0 {
		return r
	}
	r.Loss = e.nll / float64(e.n)
	r.LossBits = r.Loss / math.Ln2
	right := 0
	for c, row := range e.confusion {
		total := 0
		for _, v := range row {
			total += v
		}
		right += row[c]
		if total > 0 {
			r.PerClass[c] = float64(row[c]) / float64(total)
		}
	}
	r.Accuracy = float64(right) / float64(e.n)
	for b := range ECEBins {
		if e.binN[b] > 0 {
			r.ECE += math.Abs(e.binCorrect[b]-e.binConf[b]) / float64(e.n)
		}
	}
	return r
}

// Tallies returns what e has counted as one vector (the rows, the summed loss, the
// confusion matrix, the calibration bins), for evaluators that each took a part of a
// split, in processes of their own: the elementwise sum of their tallies, given to
// SetTallies, makes one evaluator of the whole split.
func (e *Evaluator) Tallies() []float64 {
	t := []float64{float64(e.n), e.nll}
	for _, row := range e.confusion {
		for _, v := range row {
			t = append(t, float64(v))
		}
	}
	for b := range ECEBins {
		t = append(t, float64(e.binN[b]), e.binConf[b], e.binCorrect[b])
	}
	return t
}

// SetTallies replaces what e has counted with t, a vector from Tallies (or a sum of them)
// of an evaluator of as many classes.
func (e *Evaluator) SetTallies(t []float64) error {
	if want := 2 + e.k*e.k + 3*ECEBins; len(t) != want {
		return fmt.Errorf("metric: %d tallies for %d classes, want %d", len(t), e.k, want)
	}
	e.n, e.nll, t = int(t[0]), t[1], t[2:]
	for _, row := range e.confusion {
		for c := range row {
			row[c], t = int(t[0]), t[1:]
		}
	}
	for b := range ECEBins {
		e.binN[b], e.binConf[b], e.binCorrect[b], t = int(t[0]), t[1], t[2], t[3:]
	}
	return nil
}
