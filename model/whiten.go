package model

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/mat"
	"gorgonia.org/gorgonia"
)

// WhitenEps is added to each eigenvalue of the patch covariance before its inverse square
// root is taken (airbench's 5e-4).
const WhitenEps = 5e-4

// Whiten is airbench's fixed whitening convolution: with patches p [C*k*k] of the training
// images (every k x k window, no padding) and their second moment S = E[p p^T] = V diag(l) V^T,
// the 2*C*k*k filters are +-V_i/sqrt(l_i + WhitenEps), largest eigenvalue first, so that
// the first half of the output channels are uncorrelated with unit variance and the second
// half their negatives (for the GELU that follows). The filters are set by Net.InitFromData
// and not trained; the bias [2*C*k*k] is. Output [N, 2*C*k*k, H-k+1, W-k+1].
func (b *Builder) Whiten(name string, x *gorgonia.Node, k int) *gorgonia.Node {
	if !b.ok(x) || !b.layer(name) {
		return nil
	}
	x = b.plain(x)
	if x.Shape().Dims() != 4 || k < 1 {
		return b.fail(fmt.Errorf("model: %s: input %v and kernel %d, want [N,C,H,W] and k >= 1", name, x.Shape(), k))
	}
	c := x.Shape()[1]
	d := c * k * k
	wf, _ := weightInit(PyTorchDefault, b.rng, d, 2*d*k*k) // until InitFromData replaces it
	w := b.param(name+".weight", []int{2 * d, c, k, k}, wf, false, false)
	bias := b.param(name+".bias", []int{2 * d}, constant(0), true, false)
	if !b.ok(w, bias) {
		return nil
	}
	if b.params.inits == nil {
		b.params.inits = map[string]func([]float32, int) error{}
	}
	if _, ok := b.params.inits[name]; !ok {
		weight := b.params.Get(name + ".weight")
		b.params.initOrder = append(b.params.initOrder, name)
		b.params.inits[name] = func(images []float32, n int) error {
			return whitening(weight, images, n, c, x.Shape()[2], x.Shape()[3], k)
		}
	}
	y, err := conv2d(x, w, bias, 1, 0)
	if err != nil {
		return b.fail(fmt.Errorf("model: %s: %w", name, err))
	}
	s := y.Shape()
	return b.add(y, nil, Layer{Name: name, Kind: fmt.Sprintf("whiten%dx%d", k, k),
		Params: 2 * d, MACs: int64(s[1] * s[2] * s[3] * d)}, Op{Kind: OpConv, Name: name, Kernel: k, Stride: 1, Bias: true}, x)
}

// whitening sets weight [2d,C,k,k] from n images [n,C,H,W] as Whiten says.
func whitening(weight *Param, images []float32, n, c, h, w, k int) error {
	d := c * k * k
	if n < 1 || len(images) != n*c*h*w {
		return fmt.Errorf("model: whitening from %d values of %d images of [%d,%d,%d]", len(images), n, c, h, w)
	}
	sum := make([]float64, d*d) // upper triangle of sum p p^T
	p := make([]float64, d)
	count := 0
	for im := range n {
		x := images[im*c*h*w : (im+1)*c*h*w]
		for y := 0; y+k <= h; y++ {
			for xx := 0; xx+k <= w; xx++ {
				for ch := range c {
					for i := range k {
						for j := range k {
							p[(ch*k+i)*k+j] = float64(x[(ch*h+y+i)*w+xx+j])
						}
					}
				}
				for a := range d {
					pa, row := p[a], sum[a*d:]
					for b := a; b < d; b++ {
						row[b] += pa * p[b]
					}
				}
				count++
			}
		}
	}
	cov := mat.NewSymDense(d, nil)
	for a := range d {
		for b := a; b < d; b++ {
			cov.SetSym(a, b, sum[a*d+b]/float64(count))
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(cov, true) {
		return fmt.Errorf("model: whitening: the patch covariance did not factorize")
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	order := make([]int, d)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return vals[order[a]] > vals[order[b]] })
	for f, e := range order {
		if vals[e] < -1e-6 {
			return fmt.Errorf("model: whitening: negative eigenvalue %v", vals[e])
		}
		s := 1 / math.Sqrt(max(vals[e], 0)+WhitenEps)
		for t := range d {
			v := vecs.At(t, e) * s
			weight.set(f*d+t, v)
			weight.set((d+f)*d+t, -v)
		}
	}
	return nil
}
