package train

import (
	"fmt"
	"math"
	"slices"

	"gorgonia.org/tensor"

	"example.com/xent/data/cifar10"
	"example.com/xent/internal/graphop"
	"example.com/xent/loss"
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

// evaluator accumulates predictions from logits, row by row, in float64.
type evaluator struct {
	k                   int
	n                   int
	nll                 float64
	confusion           [][]int
	binN                [ECEBins]int
	binConf, binCorrect [ECEBins]float64
}

func newEvaluator(k int) *evaluator {
	e := &evaluator{k: k, confusion: make([][]int, k)}
	for i := range e.confusion {
		e.confusion[i] = make([]int, k)
	}
	return e
}

// add takes the logits [n,K] of n images with their labels.
func (e *evaluator) add(logits []float32, labels []int) {
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

func (e *evaluator) result() Evaluation {
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

// split names what evaluate measures: "val" (-val's held-out images) or "test".
func (r *runner) split() string {
	if r.cfg.Val > 0 {
		return "val"
	}
	return "test"
}

// evaluate runs the evaluation graph over the evaluation split (test, or -val's); with
// -tta flip, each image's logits are the mean of its own and its mirror image's.
func (r *runner) evaluate() (Evaluation, error) {
	g := r.net.Eval
	k := len(r.data.Classes)
	e := newEvaluator(k)
	if err := r.test.Seek(cifar10.Position{Seed: 0}); err != nil {
		return Evaluation{}, err
	}
	in := graphop.Slice[float32](g.Input.Value().(*tensor.Dense))
	var sum []float32
	for range r.test.BatchesPerEpoch() {
		b := r.test.Next()
		copy(in, b.Images)
		clear(in[len(b.Images):]) // a short last batch: the rest of the graph's batch is ignored
		logits, err := r.infer()
		if err != nil {
			return Evaluation{}, err
		}
		logits = logits[:b.N*k]
		if r.cfg.TTA == FlipTTA {
			sum = append(sum[:0], logits...)
			mirror(in[:len(b.Images)])
			if logits, err = r.infer(); err != nil {
				return Evaluation{}, err
			}
			for i := range sum {
				sum[i] = (sum[i] + logits[i]) / 2
			}
			logits = sum
		}
		e.add(logits, b.Labels)
	}
	return e.result(), nil
}

// infer runs the evaluation graph on its bound images and returns its logits.
func (r *runner) infer() ([]float32, error) {
	r.evm.Reset()
	if err := r.evm.RunAll(); err != nil {
		return nil, fmt.Errorf("evaluation: %w", loss.FromMachine(err))
	}
	return graphop.Data[float32](r.net.Eval.Logits.Value(), "the logits")
}

// mirror flips images [n,3,32,32] left to right in place.
func mirror(images []float32) {
	for row := 0; row < len(images); row += cifar10.Width {
		slices.Reverse(images[row : row+cifar10.Width])
	}
}

// countCorrect returns how many rows of logits [N,K] have their largest value at the
// label's class.
func countCorrect(logits []float32, labels []int) int {
	k := len(logits) / len(labels)
	right := 0
	for n, y := range labels {
		best := 0
		for c := 1; c < k; c++ {
			if logits[n*k+c] > logits[n*k+best] {
				best = c
			}
		}
		if best == y {
			right++
		}
	}
	return right
}
