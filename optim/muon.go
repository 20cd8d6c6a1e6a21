package optim

import (
	"fmt"
	"math"

	"example.com/xent/internal/blas"
)

// MuonConfig holds Muon's options. airbench94_muon (Keller Jordan's CIFAR-10 record, 2025)
// trains its convolution filters with Momentum 0.6, Nesterov, 3 Newton-Schulz steps and
// Renormalize; other users take 0.95 and 5 steps.
type MuonConfig struct {
	Momentum    float64 // mu in [0, 1)
	Nesterov    bool    // needs Momentum > 0
	NewtonSteps int     // iterations of the quintic Newton-Schulz map, >= 1
	Eps         float64 // added to the Frobenius norm before dividing by it; 0 means 1e-7
	// Renormalize rescales each parameter to Frobenius norm sqrt(rows) before its update,
	// as the record does, so that weight decay is not needed.
	Renormalize bool
}

// The coefficients of the quintic Newton-Schulz map x -> a x + b x^3 + c x^5 that Muon
// applies to the singular values: chosen for the slope at 0, they take every singular value
// in (0, 1] into roughly [0.7, 1.2] in a few steps rather than converging to 1.
const nsA, nsB, nsC = 3.4445, -4.7750, 2.0315

// Muon is momentum SGD whose update of each matrix is orthogonalised (MomentUm
// Orthogonalized by Newton-Schulz). A parameter of shape [rows, ...] is seen as the matrix
// G [rows, cols], cols the product of the other dimensions (a convolution's filter bank as
// out x in*kh*kw), and with g its gradient:
//
//	b = Momentum*b + g                         (b = 0 before the first step)
//	d = g + Momentum*b (Nesterov),  d = b (otherwise)
//	p = p * sqrt(rows) / ||p||_F               (Renormalize)
//	p = p - lr * NS(d)
//
// where NS(d) runs X = d/(||d||_F + Eps), transposed when rows > cols so that X is [m,n]
// with m <= n, then NewtonSteps times
//
//	A = X X^T [m,m],  B = nsB*A + nsC*A A,  X = nsA*X + B X,
//
// and transposes back: X's singular vectors are d's and its singular values near 1. The
// record runs NS in bfloat16 on a GPU; this runs float32 (the products through internal/blas).
// A parameter of one dimension [n] is a matrix [n,1], as the record's reshape(len(g), -1)
// makes it. Muon takes no weight decay.
type Muon struct {
	cfg    MuonConfig
	params []Param
	rows   []int
	buf    [][]float32
	steps  int
	ns     newtonSchulz
}

// NewMuon returns Muon over params, with each parameter's shape from Param.Shape (nil: a
// column [n,1]).
func NewMuon(params []Param, cfg MuonConfig) (*Muon, error) {
	if !(cfg.Momentum >= 0 && cfg.Momentum < 1) || cfg.Nesterov && cfg.Momentum == 0 {
		return nil, fmt.Errorf("optim: Muon momentum %v (Nesterov %v): want [0, 1), and > 0 with Nesterov", cfg.Momentum, cfg.Nesterov)
	}
	if cfg.NewtonSteps < 1 || cfg.Eps < 0 || math.IsInf(cfg.Eps, 0) || math.IsNaN(cfg.Eps) {
		return nil, fmt.Errorf("optim: Muon with %d Newton-Schulz steps and eps %v: want >= 1 steps and a finite eps >= 0", cfg.NewtonSteps, cfg.Eps)
	}
	if cfg.Eps == 0 {
		cfg.Eps = 1e-7
	}
	m := &Muon{cfg: cfg, params: params, buf: buffers(params)}
	for _, p := range params {
		rows := len(p.Data)
		if len(p.Shape) > 0 {
			rows = p.Shape[0]
			n := 1
			for _, d := range p.Shape {
				n *= d
			}
			if n != len(p.Data) || rows < 1 {
				return nil, fmt.Errorf("optim: Muon parameter %s has shape %v and %d elements", p.Name, p.Shape, len(p.Data))
			}
		}
		m.rows = append(m.rows, rows)
	}
	return m, nil
}

// Step applies one update.
func (m *Muon) Step(lr float64, grads [][]float32) error {
	if err := checkGrads(m.params, grads); err != nil {
		return err
	}
	mu := float32(m.cfg.Momentum)
	for i, p := range m.params {
		w, g, b := p.Data, grads[i], m.buf[i]
		d := m.ns.direction(len(w))
		for j := range b {
			b[j] = mu*b[j] + g[j]
			d[j] = b[j]
			if m.cfg.Nesterov {
				d[j] = g[j] + mu*b[j]
			}
		}
		if m.cfg.Renormalize {
			if norm := frobenius(w); norm > 0 {
				s := float32(math.Sqrt(float64(m.rows[i])) / norm)
				for j := range w {
					w[j] *= s
				}
			}
		}
		u := m.ns.orthogonalize(d, m.rows[i], len(w)/m.rows[i], m.cfg.NewtonSteps, m.cfg.Eps)
		step := float32(p.scaled(lr))
		for j := range w {
			w[j] -= step * u[j]
		}
	}
	m.steps++
	return nil
}

// Steps returns the number of steps taken.
func (m *Muon) Steps() int { return m.steps }

// State returns the momentum buffers, named "<param>.momentum".
func (m *Muon) State() map[string][]float32 { return named(m.params, m.buf, ".momentum") }

// SetState restores momentum buffers and the step count.
func (m *Muon) SetState(state map[string][]float32, steps int) error {
	if err := restore(m.params, m.buf, ".momentum", state); err != nil {
		return err
	}
	m.steps = steps
	return nil
}

// frobenius returns ||x||_F, summed in float64.
func frobenius(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// newtonSchulz holds the iteration's buffers, reused from step to step.
type newtonSchulz struct {
	d, x, y, a, aa []float32
}

// direction returns a buffer of n elements for the update's direction d.
func (ns *newtonSchulz) direction(n int) []float32 {
	ns.d = resized(ns.d, n)
	return ns.d
}

// orthogonalize returns NS(d) for d [rows, cols] (see Muon), in a buffer of ns's.
func (ns *newtonSchulz) orthogonalize(d []float32, rows, cols, steps int, eps float64) []float32 {
	m, n, tall := rows, cols, rows > cols
	if tall {
		m, n = cols, rows
	}
	ns.x, ns.y = resized(ns.x, m*n), resized(ns.y, m*n)
	ns.a, ns.aa = resized(ns.a, m*m), resized(ns.aa, m*m)
	x, y, a, aa := ns.x, ns.y, ns.a, ns.aa
	s := float32(1 / (frobenius(d) + eps))
	if tall { // x = d^T / norm
		for r := range rows {
			for c := range cols {
				x[c*rows+r] = d[r*cols+c] * s
			}
		}
	} else {
		for j, v := range d {
			x[j] = v * s
		}
	}
	for range steps {
		blas.Gemm(false, true, m, m, n, 1, x, n, x, n, 0, a, m)   // A = X X^T
		blas.Gemm(false, false, m, m, m, 1, a, m, a, m, 0, aa, m) // A A
		for j := range a {
			a[j] = nsB*a[j] + nsC*aa[j] // B
		}
		copy(y, x)
		blas.Gemm(false, false, m, n, m, 1, a, m, y, n, nsA, x, n) // X = nsA X + B X
	}
	if !tall {
		return x
	}
	for r := range rows { // back to [rows, cols], in y
		for c := range cols {
			y[r*cols+c] = x[c*rows+r]
		}
	}
	return y
}

// resized returns s with length n, reusing its storage when it is large enough.
func resized(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}
