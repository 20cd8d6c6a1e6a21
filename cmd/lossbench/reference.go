package main

import "math"

// reference returns the mean softmax cross-entropy of logits [N,K] and its gradient in
// float64, written from the definition with a max-shifted log-sum-exp.
func reference(logits []float32, labels []int, k int) (float64, []float64) {
	n := len(labels)
	grad := make([]float64, n*k)
	var total float64
	for i, y := range labels {
		z := logits[i*k : (i+1)*k]
		m := math.Inf(-1)
		for _, v := range z {
			m = math.Max(m, float64(v))
		}
		var s float64
		for _, v := range z {
			s += math.Exp(float64(v) - m)
		}
		total += m + math.Log(s) - float64(z[y])
		for c, v := range z {
			grad[i*k+c] = math.Exp(float64(v)-m) / s / float64(n)
		}
		grad[i*k+y] -= 1 / float64(n)
	}
	return total / float64(n), grad
}

// maxError is the largest error against the reference: the loss's relative error (absolute
// below 1) and every gradient element's absolute error. A non-finite value counts as +Inf.
func maxError(l float64, grad []float32, logits []float32, labels []int, k int) float64 {
	rl, rg := reference(logits, labels, k)
	worst := math.Abs(l-rl) / math.Max(1, math.Abs(rl))
	for i, v := range grad {
		worst = math.Max(worst, math.Abs(float64(v)-rg[i]))
	}
	if math.IsNaN(worst) {
		return math.Inf(1)
	}
	return worst
}

// adversarial returns logits [N,K] that break softmaxes which are not max-shifted per row,
// cycling through the cases of torch_bench.py's numerics: sinusoids of amplitude 1000 and
// 100, a row whose max (+100) sits in column 0 after a row of zeros, and zeros.
func adversarial(n, k int) []float32 {
	z := make([]float32, n*k)
	for i := range n {
		for j := range k {
			s := math.Sin(float64(1 + i*k + j))
			switch i % 4 {
			case 0:
				z[i*k+j] = float32(1000 * s)
			case 1:
				z[i*k+j] = float32(100 * s)
			case 2:
				z[i*k+j] = float32(5 * s)
				if j == 0 {
					z[i*k+j] += 100
				}
			}
		}
	}
	return z
}
