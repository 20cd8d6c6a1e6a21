package tta

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"example.com/xent/data/cifar10"
)

// Logits weights its views as airbench94's infer does, on a network whose logits are
// fixed random linear functions of the pixels (so that every view gives other logits): flip
// is the mean of the image's and its mirror's, flip-translate half that plus a quarter of
// the same for the image moved a pixel down-right and a quarter for up-left.
func TestViews(t *testing.T) {
	const n, k = 3, 4
	rng := rand.New(rand.NewPCG(1, 1))
	w := make([]float32, k*cifar10.ImageSize)
	x := make([]float32, n*cifar10.ImageSize)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	net := func(v []float32) []float64 { // [n,k] in float64
		z := make([]float64, n*k)
		for i := range n {
			for c := range k {
				for j, p := range v[i*cifar10.ImageSize : (i+1)*cifar10.ImageSize] {
					z[i*k+c] += float64(w[c*cifar10.ImageSize+j]) * float64(p)
				}
			}
		}
		return z
	}
	mirror := func(v []float32) []float32 { m := slices.Clone(v); cifar10.Mirror(m); return m }
	shift := func(d int) []float32 { s := make([]float32, len(x)); cifar10.Shift(s, x, d); return s }
	m := func(v []float32) []float64 { // the mean over the view and its mirror
		a, b := net(v), net(mirror(v))
		for i := range a {
			a[i] = (a[i] + b[i]) / 2
		}
		return a
	}
	translate := make([]float64, n*k)
	for i, v := range m(x) {
		translate[i] = v/2 + m(shift(1))[i]/4 + m(shift(-1))[i]/4
	}
	for _, c := range []struct {
		level Level
		want  []float64
	}{{None, net(x)}, {Flip, m(x)}, {FlipTranslate, translate}} {
		in := slices.Clone(x)
		infer := func() ([]float32, error) {
			z := net(in)
			out := make([]float32, len(z))
			for i, v := range z {
				out[i] = float32(v)
			}
			return out, nil
		}
		var sum []float32
		got, err := Logits(c.level, in, x, k, infer, &sum)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range c.want {
			if math.Abs(float64(got[i])-v) > 1e-4*math.Max(1, math.Abs(v)) {
				t.Fatalf("level %d: logit %d = %v, want %v", c.level, i, got[i], v)
			}
		}
	}
}
