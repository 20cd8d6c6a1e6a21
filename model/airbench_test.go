package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

func TestAirbenchShapesAndParams(t *testing.T) {
	n, err := New("airbench-8-16-32", Options{TrainBatch: 2, EvalBatch: 3})
	if err != nil {
		t.Fatal(err)
	}
	if s := n.Train.Logits.Shape(); !s.Eq(tensor.Shape{2, 10}) {
		t.Fatalf("logits %v", s)
	}
	// trainable: whiten bias 24; convs 8*24*9 + 8*8*9, 16*8*9 + 16*16*9, 32*16*9 + 32*32*9;
	// BN shifts 2*(8+16+32); head 32*10 + 10. The whitening filters and BN scales are fixed.
	want := 24 + 8*24*9 + 8*8*9 + 16*8*9 + 16*16*9 + 32*16*9 + 32*32*9 + 2*(8+16+32) + 330
	if got := n.Params.Count(); got != want {
		t.Errorf("trainable parameters %d, want %d", got, want)
	}
	if !n.NeedsData() {
		t.Error("NeedsData false for a net with a whitening layer")
	}
	if p := n.Params.Get("block2.norm1.bias"); p == nil || p.LRScale != 64 {
		t.Errorf("BN shift LR scale: %+v", p)
	}
	if p := n.Params.Get("block1.norm1.weight"); p == nil || p.Trainable {
		t.Errorf("BN scale should be fixed: %+v", p)
	}
	// Dirac: filter 0 of block1.conv2 passes channel 0 through its centre tap
	w := n.Params.Get("block1.conv2.weight").T.Data().([]float32)
	for i, v := range w[:8*9] {
		if want := float32(0); i == 4 && v != 1 || i != 4 && v != want {
			t.Fatalf("block1.conv2 filter 0 tap %d = %v, want Dirac", i, v)
		}
	}
	for _, bad := range []string{"airbench-1-2", "airbench-0-1-2", "airbench-a-b-c"} {
		if _, _, err := Named(bad); err == nil {
			t.Errorf("Named(%q) accepted", bad)
		}
	}
}

// After whitening from data, the first half of the filters' responses over the same
// patches have identity second moment (up to the eps), and the second half are negatives.
func TestWhiteningWhitens(t *testing.T) {
	const n, c, h, w, k = 20, 3, 8, 8, 2
	rng := rand.New(rand.NewPCG(1, 2))
	images := make([]float32, n*c*h*w)
	for im := range n {
		for y := range h {
			for x := range w {
				base := rng.NormFloat64() * 3 // correlated channels and neighbours
				for ch := range c {
					images[((im*c+ch)*h+y)*w+x] = float32(base*float64(ch+1) + rng.NormFloat64())
				}
			}
		}
	}
	d := c * k * k
	p := &Param{Name: "w", T: tensor.New(tensor.WithShape(2*d, c, k, k), tensor.Of(tensor.Float32))}
	if err := whitening(p, images, n, c, h, w, k); err != nil {
		t.Fatal(err)
	}
	f := p.T.Data().([]float32)
	m := make([]float64, d*d)
	count := 0
	for im := range n {
		for y := 0; y+k <= h; y++ {
			for x := 0; x+k <= w; x++ {
				out := make([]float64, 2*d)
				for o := range 2 * d {
					for ch := range c {
						for i := range k {
							for j := range k {
								out[o] += float64(f[((o*c+ch)*k+i)*k+j]) * float64(images[((im*c+ch)*h+y+i)*w+x+j])
							}
						}
					}
				}
				for a := range d {
					if math.Abs(out[a]+out[d+a]) > 1e-4 {
						t.Fatalf("channel %d is not the negative of %d", d+a, a)
					}
					for b := range d {
						m[a*d+b] += out[a] * out[b]
					}
				}
				count++
			}
		}
	}
	for a := range d {
		for b := range d {
			want := 0.0
			if a == b {
				want = 1
			}
			if got := m[a*d+b] / float64(count); math.Abs(got-want) > 0.02 {
				t.Errorf("second moment [%d,%d] = %.4f, want %v", a, b, got, want)
			}
		}
	}
	if err := whitening(p, images[:10], n, c, h, w, k); err == nil {
		t.Error("short image data accepted")
	}
}
