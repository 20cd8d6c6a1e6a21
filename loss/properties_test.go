package loss

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The cross-entropy is the negative log-likelihood of a categorical distribution, so its
// minimiser over free logits is the maximum-likelihood estimate: the empirical PMF.
func TestMinimiserIsEmpiricalPMF(t *testing.T) {
	labels := []int{0, 0, 0, 1, 2, 2, 3, 3, 3, 3, 3, 4, 0, 2, 3, 1, 3, 0, 2, 3}
	const k = 5
	n := len(labels)
	counts := make([]float64, k)
	for _, y := range labels {
		counts[y]++
	}
	z := make([]float64, k) // one free logit vector, shared by every row
	x, _ := NewSoftmaxCrossEntropyKernel[float64](k)
	rows, drows := make([]float64, n*k), make([]float64, n*k)
	for range 3000 {
		for i := range n {
			copy(rows[i*k:], z)
		}
		if _, err := x.Forward(rows, labels); err != nil {
			t.Fatal(err)
		}
		x.Backward(drows, rows, labels, []float64{1})
		for c := range k {
			var g float64
			for i := range n {
				g += drows[i*k+c]
			}
			z[c] -= 2 * g
		}
	}
	q := make([]float64, k)
	for c, v := range refLogSoftmax(z) {
		q[c] = math.Exp(v)
		if want := counts[c] / float64(n); math.Abs(q[c]-want) > 1e-4 {
			t.Errorf("softmax(z*)[%d] = %.6f, empirical PMF %.6f", c, q[c], want)
		}
	}
}

func TestKLProperties(t *testing.T) {
	const n, k = 8, 6
	rng := rand.New(rand.NewPCG(10, 10))
	for trial := range 20 {
		z, p := randLogits(rng, n, k, 3), randProbs(rng, n, k)
		kl, _ := NewKLDivergenceKernel[float64](k, WithReduction(None))
		if _, err := kl.Forward(z, p); err != nil {
			t.Fatal(err)
		}
		h, _ := NewCrossEntropyWithProbsKernel[float64](k, WithReduction(None))
		if _, err := h.Forward(z, p); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			var entropy float64 // H(p,p) = -sum p log p
			for _, pc := range p[i*k : (i+1)*k] {
				if pc > 0 {
					entropy -= pc * math.Log(pc)
				}
			}
			d := kl.RowLosses()[i]
			if d < -1e-12 {
				t.Errorf("trial %d row %d: KL = %g < 0", trial, i, d)
			}
			if got := h.RowLosses()[i]; math.Abs(got-(entropy+d)) > 1e-10 {
				t.Errorf("trial %d row %d: H(p,q) = %.12g, H(p) + KL = %.12g", trial, i, got, entropy+d)
			}
		}
		// KL(p||p) = 0: logits log p, with p > 0 everywhere.
		for i := range p {
			p[i] = 0.01 + p[i]
		}
		logp := make([]float64, len(p))
		for i := range n {
			var s float64
			for _, v := range p[i*k : (i+1)*k] {
				s += v
			}
			for c := range k {
				p[i*k+c] /= s
				logp[i*k+c] = math.Log(p[i*k+c]) + 3 // any shift
			}
		}
		self, err := kl.Forward(logp, p)
		if err != nil || math.Abs(self) > 1e-12 {
			t.Errorf("KL(p||p) = %g, %v, want 0", self, err)
		}
	}
}

func TestShiftInvarianceAndUnits(t *testing.T) {
	const n, k = 5, 8
	rng := rand.New(rand.NewPCG(12, 13))
	z := randLogits(rng, n, k, 3)
	y := labelsFor(rng, n, k, false)
	opts := []Option{WithSmoothing(0.15), WithWeights([]float64{1, 2, 1, 3, 1, 1, 0.5, 1})}
	l0, _, g0 := xentRun[float64](t, z, y, k, []float64{1}, opts)
	shifted := append([]float64(nil), z...)
	for i := range n {
		for c := range k {
			shifted[i*k+c] += float64(i*37) - 50 // a different constant per row
		}
	}
	l1, _, g1 := xentRun[float64](t, shifted, y, k, []float64{1}, opts)
	if math.Abs(l0-l1) > 1e-12 || maxAbsDiff(g0, g1) > 1e-12 {
		t.Errorf("shifting rows changed the loss by %g and the gradient by %g", l1-l0, maxAbsDiff(g0, g1))
	}
	lb, _, gb := xentRun[float64](t, z, y, k, []float64{1}, append(opts, WithUnits(Bits)))
	if math.Abs(lb-l0/math.Ln2) > 1e-12 {
		t.Errorf("bits %v, nats/ln2 %v", lb, l0/math.Ln2)
	}
	for i := range g0 {
		if math.Abs(gb[i]-g0[i]/math.Ln2) > 1e-12 {
			t.Fatalf("gradient in bits [%d] %v, nats/ln2 %v", i, gb[i], g0[i]/math.Ln2)
		}
	}
}

func TestUniformLogitsGiveLogK(t *testing.T) {
	for _, k := range []int{1, 2, 10, 1000} {
		for _, eps := range []float64{0, 0.1, 1} {
			z := make([]float32, 3*k)
			for i := range z {
				z[i] = -2.5
			}
			x, _ := NewSoftmaxCrossEntropyKernel[float32](k, WithSmoothing(eps))
			l, err := x.Forward(z, []int{0, k / 2, k - 1})
			if err != nil || math.Abs(l-math.Log(float64(k))) > 1e-6 {
				t.Errorf("K=%d eps=%v: loss %v (%v), want log K = %v", k, eps, l, err, math.Log(float64(k)))
			}
		}
	}
}
