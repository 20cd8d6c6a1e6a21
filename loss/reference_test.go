package loss

import (
	"math"
	"math/rand/v2"
)

// This file holds float64 references written from the definitions, independently of the
// kernels: q = softmax(z) through exp(z_k - c)/sum_j exp(z_j - c) with c the row mean (not the
// max), the target distribution built explicitly, and the loss as sum_k w_k*t_k*(-log q_k).

func refLogSoftmax(z []float64) []float64 {
	var c float64
	for _, v := range z {
		c += v / float64(len(z))
	}
	var s float64
	for _, v := range z {
		s += math.Exp(v - c)
	}
	out := make([]float64, len(z))
	for i, v := range z {
		out[i] = v - c - math.Log(s)
	}
	return out
}

// refXent returns the loss and the row losses of logits [N,K] against labels under o.
func refXent(z []float64, y []int, k int, o Options) (float64, []float64) {
	n := len(y)
	rows := make([]float64, n)
	var total, norm float64
	for i := range n {
		if o.HasIgnore && y[i] == o.Ignore {
			continue
		}
		logq := refLogSoftmax(z[i*k : (i+1)*k])
		for c := range k {
			t := o.Smoothing / float64(k)
			if c == y[i] {
				t += 1 - o.Smoothing
			}
			rows[i] -= o.weight(c) * t * logq[c]
		}
		if o.Units == Bits {
			rows[i] /= math.Ln2
		}
		total += rows[i]
		norm += o.weight(y[i])
	}
	switch {
	case o.Reduction != Mean:
		return total, rows
	case norm == 0:
		return 0, rows
	}
	return total / norm, rows
}

// refProbXent returns the loss of logits [N,K] against targets p [N,K]: H(p',q), or D(p||q).
func refProbXent(z, p []float64, k int, kl bool, o Options) (float64, []float64) {
	n := len(z) / k
	rows := make([]float64, n)
	var total float64
	for i := range n {
		logq := refLogSoftmax(z[i*k : (i+1)*k])
		for c := range k {
			pc := p[i*k+c]
			t := (1-o.Smoothing)*pc + o.Smoothing/float64(k)
			rows[i] -= o.weight(c) * t * logq[c]
			if kl && pc > 0 {
				rows[i] += pc * math.Log(pc)
			}
		}
		if o.Units == Bits {
			rows[i] /= math.Ln2
		}
		total += rows[i]
	}
	if o.Reduction == Mean {
		return total / float64(n), rows
	}
	return total, rows
}

// randLogits returns n*k normal logits of the given scale.
func randLogits(rng *rand.Rand, n, k int, scale float64) []float64 {
	z := make([]float64, n*k)
	for i := range z {
		z[i] = rng.NormFloat64() * scale
	}
	return z
}

// randProbs returns n rows of k probabilities, some of them exactly 0.
func randProbs(rng *rand.Rand, n, k int) []float64 {
	p := make([]float64, n*k)
	for i := range n {
		var s float64
		for c := range k {
			if rng.IntN(4) > 0 {
				p[i*k+c] = rng.Float64()
				s += p[i*k+c]
			}
		}
		if s == 0 {
			p[i*k] = 1
			s = 1
		}
		for c := range k {
			p[i*k+c] /= s
		}
	}
	return p
}

func to32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

func to64[T Float](x []T) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// numGrad returns the central finite-difference gradient of f at x with step h.
func numGrad(f func([]float64) float64, x []float64, h float64) []float64 {
	g := make([]float64, len(x))
	for i := range x {
		old := x[i]
		x[i] = old + h
		up := f(x)
		x[i] = old - h
		down := f(x)
		x[i] = old
		g[i] = (up - down) / (2 * h)
	}
	return g
}

func maxAbsDiff(a, b []float64) float64 {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(a[i]-b[i]))
	}
	return d
}
