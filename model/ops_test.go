package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/internal/conv3"
	"example.com/xent/internal/graphop"
)

// opCheck builds cost = sum(op(inputs) * R) in float64 with a fixed random R, and checks
// the gradient of every input in wrt against central differences, and the forward value
// against ref when given.
func opCheck(t *testing.T, shapes [][]int, wrt []int, op func(in []*G.Node) (*G.Node, error), ref func(in [][]float64) []float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, uint64(len(shapes))))
	g := G.NewGraph()
	var nodes []*G.Node
	var data [][]float64
	for i, s := range shapes {
		n := tensor.Shape(s).TotalSize()
		d := make([]float64, n)
		for j := range d {
			d[j] = rng.NormFloat64()
		}
		data = append(data, d)
		nodes = append(nodes, G.NewTensor(g, tensor.Float64, len(s), G.WithShape(s...), G.WithName(string(rune('a'+i))),
			G.WithValue(tensor.New(tensor.WithShape(s...), tensor.WithBacking(d)))))
	}
	out, err := op(nodes)
	if err != nil {
		t.Fatal(err)
	}
	r := make([]float64, out.Shape().TotalSize())
	for i := range r {
		r[i] = rng.NormFloat64()
	}
	rn := G.NewTensor(g, tensor.Float64, out.Shape().Dims(), G.WithShape(out.Shape()...), G.WithName("r"),
		G.WithValue(tensor.New(tensor.WithShape(out.Shape()...), tensor.WithBacking(r))))
	cost := G.Must(G.Sum(G.Must(G.HadamardProd(out, rn))))
	var wrtNodes G.Nodes
	for _, i := range wrt {
		wrtNodes = append(wrtNodes, nodes[i])
	}
	grads, err := G.Grad(cost, wrtNodes...)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	run := func() float64 {
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		return cost.Value().Data().(float64)
	}
	run()
	if ref != nil {
		got := out.Value().Data().([]float64)
		want := ref(data)
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-9*math.Max(1, math.Abs(want[i])) {
				t.Fatalf("forward[%d] = %v, reference %v", i, got[i], want[i])
			}
		}
	}
	analytics := make([][]float64, len(wrt)) // before any input is perturbed
	for gi := range wrt {
		analytics[gi] = append([]float64(nil), grads[gi].Value().Data().([]float64)...)
	}
	for gi, i := range wrt {
		analytic := analytics[gi]
		worst := 0.0
		for j := range data[i] {
			old := data[i][j]
			data[i][j] = old + 1e-6
			up := run()
			data[i][j] = old - 1e-6
			down := run()
			data[i][j] = old
			num := (up - down) / 2e-6
			worst = math.Max(worst, math.Abs(num-analytic[j])/math.Max(1, math.Abs(num)))
		}
		if worst > 1e-6 {
			t.Errorf("input %d: gradient differs from central differences by %.3g (relative)", i, worst)
		}
	}
}

// refConv is a direct convolution: y[n,f,oy,ox] = b[f] + sum x[n,c,oy*s-p+i,ox*s-p+j]*w[f,c,i,j].
func refConv(x, w, b []float64, n, c, h, wd, f, k, s, p int) []float64 {
	ho, wo := (h+2*p-k)/s+1, (wd+2*p-k)/s+1
	y := make([]float64, n*f*ho*wo)
	for in := range n {
		for o := range f {
			for oy := range ho {
				for ox := range wo {
					v := b[o]
					for ch := range c {
						for i := range k {
							for j := range k {
								yy, xx := oy*s-p+i, ox*s-p+j
								if yy >= 0 && yy < h && xx >= 0 && xx < wd {
									v += x[((in*c+ch)*h+yy)*wd+xx] * w[((o*c+ch)*k+i)*k+j]
								}
							}
						}
					}
					y[((in*f+o)*ho+oy)*wo+ox] = v
				}
			}
		}
	}
	return y
}

func TestConv2d(t *testing.T) {
	for _, tc := range []struct{ n, c, h, w, f, k, s, p int }{
		{2, 3, 5, 5, 4, 3, 1, 1},
		{2, 2, 6, 7, 3, 3, 2, 1},
		{1, 3, 5, 5, 2, 1, 1, 0},
		{3, 1, 4, 4, 2, 2, 2, 0},
		{1, 2, 5, 5, 2, 5, 1, 2},
		{5, 2, 10, 10, 3, 3, 1, 1}, // groups of 3 images per GEMM (256 columns), the last of 2
		{4, 2, 6, 6, 3, 3, 2, 1},   // strided: dx by col2im, all 4 images in one forward GEMM
		{2, 2, 2, 2, 3, 7, 1, 3},   // padding wider than the input (pool16,conv8x7 on 32x32)
		{1, 1, 1, 1, 2, 11, 1, 5},  // a 1x1 input under an 11x11 kernel
		{2, 2, 3, 2, 2, 7, 2, 3},   // strided, padding wider than the input
		{1, 2, 4, 4, 2, 9, 1, 4},   // padding as wide as the input
	} {
		opCheck(t, [][]int{{tc.n, tc.c, tc.h, tc.w}, {tc.f, tc.c, tc.k, tc.k}, {tc.f}}, []int{0, 1, 2},
			func(in []*G.Node) (*G.Node, error) { return conv2d(in[0], in[1], in[2], tc.s, tc.p) },
			func(d [][]float64) []float64 {
				return refConv(d[0], d[1], d[2], tc.n, tc.c, tc.h, tc.w, tc.f, tc.k, tc.s, tc.p)
			})
		// a residual and a ReLU fused in: y = ReLU(conv(x) + b + r)
		ho, wo := (tc.h+2*tc.p-tc.k)/tc.s+1, (tc.w+2*tc.p-tc.k)/tc.s+1
		opCheck(t, [][]int{{tc.n, tc.c, tc.h, tc.w}, {tc.f, tc.c, tc.k, tc.k}, {tc.f}, {tc.n, tc.f, ho, wo}}, []int{0, 1, 2, 3},
			func(in []*G.Node) (*G.Node, error) { return convFused(in[0], in[1], in[2], in[3], tc.s, tc.p, true) },
			func(d [][]float64) []float64 {
				y := refConv(d[0], d[1], d[2], tc.n, tc.c, tc.h, tc.w, tc.f, tc.k, tc.s, tc.p)
				for i := range y {
					y[i] = max(0, y[i]+d[3][i])
				}
				return y
			})
		// without a bias: two inputs, the GEMM writes instead of accumulating
		opCheck(t, [][]int{{tc.n, tc.c, tc.h, tc.w}, {tc.f, tc.c, tc.k, tc.k}}, []int{0, 1},
			func(in []*G.Node) (*G.Node, error) { return conv2d(in[0], in[1], nil, tc.s, tc.p) },
			func(d [][]float64) []float64 {
				return refConv(d[0], d[1], make([]float64, tc.f), tc.n, tc.c, tc.h, tc.w, tc.f, tc.k, tc.s, tc.p)
			})
	}
}

func TestLinear(t *testing.T) {
	opCheck(t, [][]int{{4, 5}, {3, 5}, {3}}, []int{0, 1, 2},
		func(in []*G.Node) (*G.Node, error) { return linear(in[0], in[1], in[2]) },
		func(d [][]float64) []float64 {
			y := make([]float64, 12)
			for n := range 4 {
				for o := range 3 {
					y[n*3+o] = d[2][o]
					for i := range 5 {
						y[n*3+o] += d[0][n*5+i] * d[1][o*5+i]
					}
				}
			}
			return y
		})
}

func TestAdd(t *testing.T) {
	opCheck(t, [][]int{{2, 3, 2, 2}, {2, 3, 2, 2}}, []int{0, 1}, func(in []*G.Node) (*G.Node, error) { return add(in[0], in[1]) },
		func(d [][]float64) []float64 {
			z := make([]float64, len(d[0]))
			for i := range z {
				z[i] = d[0][i] + d[1][i]
			}
			return z
		})
}

func TestReLUAndPools(t *testing.T) {
	opCheck(t, [][]int{{2, 3, 4, 4}}, []int{0}, func(in []*G.Node) (*G.Node, error) { return relu(in[0]) },
		func(d [][]float64) []float64 {
			y := make([]float64, len(d[0]))
			for i, v := range d[0] {
				y[i] = math.Max(v, 0)
			}
			return y
		})
	opCheck(t, [][]int{{2, 3, 4, 5}}, []int{0}, func(in []*G.Node) (*G.Node, error) { return globalAvgPool(in[0]) },
		func(d [][]float64) []float64 {
			y := make([]float64, 6)
			for i := range y {
				for _, v := range d[0][i*20 : (i+1)*20] {
					y[i] += v / 20
				}
			}
			return y
		})
	// our max pool against Gorgonia's (correct but slow) MaxPool2D, then its gradient
	for _, k := range []int{2, 3} {
		opCheck(t, [][]int{{2, 3, 7, 6}}, []int{0}, func(in []*G.Node) (*G.Node, error) { return maxPool(in[0], k, false) },
			func(d [][]float64) []float64 {
				ho, wo := 7/k, 6/k
				y := make([]float64, 6*ho*wo)
				for pl := range 6 {
					for oy := range ho {
						for ox := range wo {
							m := math.Inf(-1)
							for i := range k {
								for j := range k {
									m = math.Max(m, d[0][pl*42+(oy*k+i)*6+ox*k+j])
								}
							}
							y[(pl*ho+oy)*wo+ox] = m
						}
					}
				}
				return y
			})
	}
}

func TestBatchNorm(t *testing.T) {
	for _, train := range []bool{true, false} {
		mean := tensor.New(tensor.WithBacking([]float64{0.1, -0.2, 0.3}))
		variance := tensor.New(tensor.WithBacking([]float64{1.5, 0.5, 2}))
		opCheck(t, [][]int{{4, 3, 2, 3}, {3}, {3}}, []int{0, 1, 2}, func(in []*G.Node) (*G.Node, error) {
			return batchNorm(in[0], in[1], in[2], mean, variance, train, false, false, 0, 1e-5, nil) // momentum 0: the stats stay
		}, func(d [][]float64) []float64 {
			x, g, b := d[0], d[1], d[2]
			y := make([]float64, len(x))
			for c := range 3 {
				mu, v := mean.Data().([]float64)[c], variance.Data().([]float64)[c]
				if train {
					var s, ss float64
					for n := range 4 {
						for _, e := range x[(n*3+c)*6 : (n*3+c+1)*6] {
							s += e
							ss += e * e
						}
					}
					mu = s / 24
					v = ss/24 - mu*mu
				}
				for n := range 4 {
					for i := (n*3 + c) * 6; i < (n*3+c+1)*6; i++ {
						y[i] = g[c]*(x[i]-mu)/math.Sqrt(v+1e-5) + b[c]
					}
				}
			}
			return y
		})
	}
}

// The fused GELU(BatchNorm(x)) node's gradients against central differences, in training
// and in evaluation.
func TestBatchNormGELU(t *testing.T) {
	for _, train := range []bool{true, false} {
		mean := tensor.New(tensor.WithBacking([]float64{0.1, -0.2, 0.3}))
		variance := tensor.New(tensor.WithBacking([]float64{1.5, 0.5, 2}))
		opCheck(t, [][]int{{4, 3, 2, 3}, {3}, {3}}, []int{0, 1, 2}, func(in []*G.Node) (*G.Node, error) {
			return batchNorm(in[0], in[1], in[2], mean, variance, train, true, false, 0, 1e-5, nil)
		}, nil)
	}
}

// bnGELURun is one pass of GELU(BatchNorm(x)) over x [n,c,h,w] in dtype dt with
// cost = sum(out * r), as one fused node or as the two nodes: out, dx, dg, db.
func bnGELURun(t *testing.T, dt tensor.Dtype, fused, train bool, shape []int, x, r, gb []float64) [][]float64 {
	gr := G.NewGraph()
	c := shape[1]
	node := func(name string, s []int, d []float64) *G.Node {
		var v tensor.Tensor = tensor.New(tensor.WithShape(s...), tensor.WithBacking(slices.Clone(d)))
		if dt == tensor.Float32 {
			v = tensor.New(tensor.WithShape(s...), tensor.WithBacking(float32s(d)))
		}
		return G.NewTensor(gr, dt, len(s), G.WithShape(s...), G.WithName(name), G.WithValue(v))
	}
	xn, gn, bn, rn := node("x", shape, x), node("g", []int{c}, gb[:c]), node("b", []int{c}, gb[c:]), node("r", shape, r)
	stat := func(v float64) tensor.Tensor {
		if dt == tensor.Float32 {
			return tensor.New(tensor.WithBacking(slices.Repeat([]float32{float32(v)}, c)))
		}
		return tensor.New(tensor.WithBacking(slices.Repeat([]float64{v}, c)))
	}
	var out *G.Node
	if fused {
		out = G.Must(batchNorm(xn, gn, bn, stat(0.5), stat(2), train, true, false, 0.1, 1e-5, nil))
	} else {
		out = G.Must(gelu(G.Must(batchNorm(xn, gn, bn, stat(0.5), stat(2), train, false, false, 0.1, 1e-5, nil))))
	}
	cost := G.Must(G.Sum(G.Must(G.HadamardProd(out, rn))))
	grads, err := G.Grad(cost, xn, gn, bn)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(gr)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	var res [][]float64
	for _, n := range []*G.Node{out, grads[0], grads[1], grads[2]} {
		res = append(res, float64s(n.Value().Data()))
	}
	return res
}

func float32s(d []float64) []float32 {
	f := make([]float32, len(d))
	for i, v := range d {
		f[i] = float32(v)
	}
	return f
}

func float64s(d any) []float64 {
	if f, ok := d.([]float32); ok {
		out := make([]float64, len(f))
		for i, v := range f {
			out[i] = float64(v)
		}
		return out
	}
	return slices.Clone(d.([]float64))
}

// The fused node computes what BatchNorm then GELU compute, bit for bit, in float32 (the
// vmath kernels, on airbench's 15x15, 7x7 and 3x3 planes) and in float64.
func TestBatchNormGELUIsTheTwoNodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, shape := range [][]int{{3, 4, 15, 15}, {5, 3, 7, 7}, {6, 2, 3, 3}} {
		data := normalsFor(rng, [][]int{shape, shape, {2 * shape[1]}})
		for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
			for _, train := range []bool{true, false} {
				want := bnGELURun(t, dt, false, train, shape, data[0], data[1], data[2])
				got := bnGELURun(t, dt, true, train, shape, data[0], data[1], data[2])
				for k, name := range []string{"y", "dx", "dg", "db"} {
					for i := range want[k] {
						if got[k][i] != want[k][i] {
							t.Fatalf("%v %v train %v: %s[%d] = %v fused, %v as two nodes", shape, dt, train, name, i, got[k][i], want[k][i])
						}
					}
				}
			}
		}
	}
}

// TestBatchNormFloat32 checks the float32 GELU(BatchNorm(x)), whose plane passes are
// package vmath's kernels (AVX-512 where built), against the float64 one checked above by
// differences: on airbench's plane sizes, with a mean far from zero (3, spread 2).
func TestBatchNormFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, shape := range [][]int{{3, 4, 15, 15}, {5, 3, 7, 7}, {6, 2, 3, 3}} {
		data := normalsFor(rng, [][]int{shape, shape, {2 * shape[1]}})
		for i := range data[0] {
			data[0][i] = 3 + 2*data[0][i]
		}
		for _, train := range []bool{true, false} {
			want := bnGELURun(t, tensor.Float64, true, train, shape, data[0], data[1], data[2])
			got := bnGELURun(t, tensor.Float32, true, train, shape, data[0], data[1], data[2])
			for k, name := range []string{"y", "dx", "dg", "db"} {
				for i := range want[k] {
					if d := math.Abs(got[k][i] - want[k][i]); d > 2e-5*math.Max(1, math.Abs(want[k][i])) {
						t.Fatalf("%v train %v: %s[%d] = %v in float32, %v in float64", shape, train, name, i, got[k][i], want[k][i])
					}
				}
			}
		}
	}
}

// PyTorch's running statistics: (1-m)*old + m*batch, the variance unbiased.
func TestBatchNormRunningStats(t *testing.T) {
	g := G.NewGraph()
	x := []float64{1, 2, 3, 4, 10, 20, 30, 40} // [2,2,2,1]: channel 0 = 1,2,10,20; channel 1 = 3,4,30,40
	xn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(2, 2, 2, 1), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(2, 2, 2, 1), tensor.WithBacking(x))))
	gn := G.NewVector(g, tensor.Float64, G.WithShape(2), G.WithName("g"), G.WithValue(tensor.New(tensor.WithBacking([]float64{1, 1}))))
	bn := G.NewVector(g, tensor.Float64, G.WithShape(2), G.WithName("b"), G.WithValue(tensor.New(tensor.WithBacking([]float64{0, 0}))))
	mean, variance := tensor.New(tensor.WithBacking([]float64{0, 0})), tensor.New(tensor.WithBacking([]float64{1, 1}))
	G.Must(batchNorm(xn, gn, bn, mean, variance, true, false, false, 0.1, 1e-5, nil))
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	// channel 0 holds 1,2,10,20: mean 8.25, unbiased variance (7.25²+6.25²+1.75²+11.75²)/3;
	// channel 1 holds 3,4,30,40: mean 19.25, (16.25²+15.25²+10.75²+20.75²)/3
	wantMean := []float64{0.1 * 8.25, 0.1 * 19.25}
	wantVar := []float64{0.9 + 0.1*(7.25*7.25+6.25*6.25+1.75*1.75+11.75*11.75)/3,
		0.9 + 0.1*(16.25*16.25+15.25*15.25+10.75*10.75+20.75*20.75)/3}
	for c := range 2 {
		if m := mean.Data().([]float64)[c]; math.Abs(m-wantMean[c]) > 1e-12 {
			t.Errorf("running mean[%d] = %v, want %v", c, m, wantMean[c])
		}
		if v := variance.Data().([]float64)[c]; math.Abs(v-wantVar[c]) > 1e-9 {
			t.Errorf("running var[%d] = %v, want %v", c, v, wantVar[c])
		}
	}
}

func TestDropoutScale(t *testing.T) {
	const n, p = 20000, 0.3
	g := G.NewGraph()
	ones := make([]float64, n)
	for i := range ones {
		ones[i] = 1
	}
	x := G.NewVector(g, tensor.Float64, G.WithShape(n), G.WithName("x"), G.WithValue(tensor.New(tensor.WithBacking(ones))))
	var step uint64 = 3
	y := G.Must(dropout(x, p, 1, &step))
	cost := G.Must(G.Sum(y))
	grads, err := G.Grad(cost, x)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	out, dx := y.Value().Data().([]float64), grads[0].Value().Data().([]float64)
	var mean, dropped float64
	for i, v := range out {
		mean += v / n
		if v == 0 {
			dropped++
		} else if math.Abs(v-1/(1-p)) > 1e-12 {
			t.Fatalf("kept element %v, want 1/(1-p) = %v", v, 1/(1-p))
		}
		if dx[i] != v { // d(sum y)/dx = the same mask and scale
			t.Fatalf("gradient[%d] = %v, forward %v", i, dx[i], v)
		}
	}
	if math.Abs(mean-1) > 0.02 || math.Abs(dropped/n-p) > 0.02 {
		t.Errorf("mean %v (want 1), dropped %v (want %v)", mean, dropped/n, p)
	}
}

func TestGELU(t *testing.T) {
	opCheck(t, [][]int{{2, 3, 4, 5}}, []int{0}, func(in []*G.Node) (*G.Node, error) { return gelu(in[0]) },
		func(d [][]float64) []float64 {
			y := make([]float64, len(d[0]))
			for i, v := range d[0] {
				y[i] = v * 0.5 * (1 + math.Erf(v/math.Sqrt2))
			}
			return y
		})
}

// convRun returns a convolution's output and the gradients of sum(y * r) for x, w, b
// (when bias) and the residual res (unless nil; then the output is finished by a ReLU in the
// convolution), computed in dtype from the same float64 data.
func convRun(t *testing.T, dt tensor.Dtype, shapes [][]int, data [][]float64, r []float64, s, p int, bias bool, residual []float64) [][]float64 {
	t.Helper()
	g := G.NewGraph()
	node := func(name string, shape []int, d []float64) *G.Node {
		var v *tensor.Dense
		if dt == tensor.Float32 {
			f := make([]float32, len(d))
			for i, x := range d {
				f[i] = float32(x)
			}
			v = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f))
		} else {
			v = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float64(nil), d...)))
		}
		return G.NewTensor(g, dt, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(v))
	}
	in := G.Nodes{node("x", shapes[0], data[0]), node("w", shapes[1], data[1])}
	var b *G.Node
	if bias {
		b = node("b", shapes[2], data[2])
		in = append(in, b)
	}
	var rn *G.Node
	if residual != nil {
		ho, wo := (shapes[0][2]+2*p-shapes[1][2])/s+1, (shapes[0][3]+2*p-shapes[1][3])/s+1
		rn = node("res", []int{shapes[0][0], shapes[1][0], ho, wo}, residual)
		in = append(in, rn)
	}
	out, err := convFused(in[0], in[1], b, rn, s, p, residual != nil)
	if err != nil {
		t.Fatal(err)
	}
	cost := G.Must(G.Sum(G.Must(G.HadamardProd(out, node("r", out.Shape(), r)))))
	grads, err := G.Grad(cost, in...)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	var res [][]float64
	for _, n := range append(G.Nodes{out}, grads...) {
		switch d := n.Value().Data().(type) {
		case []float32:
			f := make([]float64, len(d))
			for i, x := range d {
				f[i] = float64(x)
			}
			res = append(res, f)
		case []float64:
			res = append(res, d)
		}
	}
	return res
}

// TestConv2dFloat32 checks the float32 convolution, which takes other paths than the
// float64 one (the direct 3x3 kernel of package conv3 on planes of >= 32 pixels in the
// AVX-512 build, Winograd's F(4x4, 3x3) for y and dx of >= 64 channels), against the
// float64 one, checked above by central differences. Winograd's rounding grows with the
// sum of |w*x| (here ~24x |y| with unit weights), hence its looser bound.
func TestConv2dFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ n, c, h, w, f, k, s, p int }{
		{3, 3, 32, 32, 16, 3, 1, 1},  // direct, as resnet-tiny's first layer
		{2, 16, 16, 16, 8, 3, 1, 1},  // direct
		{2, 5, 9, 11, 6, 3, 1, 1},    // direct, filters not a multiple of 4, plane not of 32
		{2, 8, 8, 8, 12, 3, 1, 1},    // direct, 64 pixels
		{4, 6, 7, 7, 8, 3, 1, 1},     // direct, 49 pixels (airbench's 7x7 planes)
		{5, 6, 5, 5, 8, 3, 1, 1},     // too small: grouped GEMMs
		{2, 4, 12, 12, 8, 3, 2, 1},   // strided, small: GEMMs
		{2, 3, 16, 16, 8, 3, 2, 1},   // strided: direct forward (conv3.Plan2), dx (conv3.Plan2T) and dw
		{2, 4, 32, 32, 7, 3, 2, 1},   // strided, filters not a multiple of 4: direct
		{18, 64, 7, 7, 64, 3, 1, 1},  // Winograd, a chunk of 16 images and one of 2
		{3, 64, 15, 15, 70, 3, 1, 1}, // Winograd, filters not a multiple of 6
		{3, 3, 32, 32, 24, 2, 1, 0},  // thin forward (airbench's whitening), GEMM dx and dw
		{2, 2, 10, 20, 5, 3, 1, 0},   // thin, filters not a multiple of 8, rows of 18
		{2, 2, 10, 12, 5, 3, 1, 0},   // rows of 10: GEMM
	} {
		tol := 2e-5
		if tc.k == 3 && tc.s == 1 && min(tc.c, tc.f) >= winogradMinChannels {
			tol = 2e-4
		}
		shapes := [][]int{{tc.n, tc.c, tc.h, tc.w}, {tc.f, tc.c, tc.k, tc.k}, {tc.f}}
		data := normalsFor(rng, shapes)
		ho, wo := (tc.h+2*tc.p-tc.k)/tc.s+1, (tc.w+2*tc.p-tc.k)/tc.s+1
		r := make([]float64, tc.n*tc.f*ho*wo)
		for i := range r {
			r[i] = rng.NormFloat64()
		}
		res := make([]float64, len(r)) // a residual, for the fused residual + ReLU
		for i := range res {
			res[i] = 2 * rng.NormFloat64()
		}
		for _, v := range []struct {
			bias bool
			res  []float64
		}{{true, nil}, {false, nil}, {true, res}, {false, res}} {
			want := convRun(t, tensor.Float64, shapes, data, r, tc.s, tc.p, v.bias, v.res)
			got := convRun(t, tensor.Float32, shapes, data, r, tc.s, tc.p, v.bias, v.res)
			names := []string{"y", "dx", "dw"}
			if v.bias {
				names = append(names, "db")
			}
			if v.res != nil {
				names = append(names, "dres")
			}
			if len(want) != len(names) {
				t.Fatalf("%d results, want %d", len(want), len(names))
			}
			for k, name := range names {
				for i := range want[k] {
					if d := math.Abs(got[k][i] - want[k][i]); d > tol*math.Max(8, math.Abs(want[k][i])) {
						t.Fatalf("%+v bias %v residual+relu %v: %s[%d] = %v in float32, %v in float64", tc, v.bias, v.res != nil, name, i, got[k][i], want[k][i])
					}
				}
			}
		}
	}
}

// TestPlansOutliveBatchSize checks that a convolution keeps its plan (the direct kernel's
// plans and packed weights) when only the batch size changes, as on a last, shorter batch,
// and that the plan runs the direct kernels where they apply.
func TestPlansOutliveBatchSize(t *testing.T) {
	g1, err := newConvGeom(tensor.Shape{8, 16, 16, 16}, tensor.Shape{32, 16, 3, 3}, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	p1, err := planConv[float32](nil, &g1)
	if err != nil {
		t.Fatal(err)
	}
	if (p1.direct != nil) != conv3.Fast {
		t.Errorf("direct kernels in the plan: %v, in this build: %v", p1.direct != nil, conv3.Fast)
	}
	g2, _ := newConvGeom(tensor.Shape{3, 16, 16, 16}, tensor.Shape{32, 16, 3, 3}, 1, 1)
	if p2, _ := planConv(p1, &g2); p2 != p1 {
		t.Error("a batch of 3 after one of 8 made a new plan")
	}
	g3, _ := newConvGeom(tensor.Shape{3, 16, 16, 16}, tensor.Shape{16, 16, 3, 3}, 1, 1)
	if p3, _ := planConv(p1, &g3); p3 == p1 {
		t.Error("16 filters instead of 32 kept the old plan")
	}
}

// TestFusedBackwardMatches: from the second step on, a convolution with a fused ReLU whose
// dw is wanted computes its whole backward in one pass (fusedBackward); its gradients must
// be bit for bit those of the first step's separate passes.
func TestFusedBackwardMatches(t *testing.T) {
	if !conv3.Fast {
		t.Skip("no direct kernels in this build, so no fused backward to compare: build with GOEXPERIMENT=simd on an AVX-512 machine")
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for _, tc := range []struct {
		stride, c, f, hw int
		dx               bool // dx wanted too
	}{{1, 16, 16, 16, true}, {2, 8, 12, 32, true}, {1, 8, 8, 8, true}, {1, 3, 16, 16, false}} {
		ho := (tc.hw+2-3)/tc.stride + 1
		g := G.NewGraph()
		node := func(name string, shape ...int) *G.Node {
			d := make([]float32, tensor.Shape(shape).TotalSize())
			for i := range d {
				d[i] = float32(rng.NormFloat64())
			}
			return G.NewTensor(g, tensor.Float32, len(shape), G.WithShape(shape...), G.WithName(name),
				G.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))))
		}
		x, w, b := node("x", 3, tc.c, tc.hw, tc.hw), node("w", tc.f, tc.c, 3, 3), node("b", tc.f)
		res, r := node("res", 3, tc.f, ho, ho), node("r", 3, tc.f, ho, ho)
		kernel := &convNode[float32]{stride: tc.stride, pad: 1, residual: true, relu: true} // what convFused makes
		out, err := graphop.Apply(kernel, x, w, b, res)
		if err != nil {
			t.Fatal(err)
		}
		in := G.Nodes{w, b, res}
		if tc.dx {
			in = append(in, x)
		}
		grads, err := G.Grad(G.Must(G.Sum(G.Must(G.HadamardProd(out, r)))), in...)
		if err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g.SubgraphRoots(grads...)) // only the gradients asked for, as training compiles
		var first [][]float32
		for step := range 3 {
			vm.Reset()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			if kernel.fused != (step > 0) || kernel.fusedDX != (step > 0 && tc.dx) {
				t.Fatalf("%+v step %d: fused %v, fused dx %v: the path under test did not run as it should", tc, step, kernel.fused, kernel.fusedDX)
			}
			for i, gr := range grads {
				got := gr.Value().Data().([]float32)
				if step == 0 {
					first = append(first, append([]float32(nil), got...))
					continue
				}
				for j, v := range got {
					if v != first[i][j] {
						t.Fatalf("%+v step %d: gradient %d [%d] = %v, first step %v", tc, step, i, j, v, first[i][j])
					}
				}
			}
		}
		vm.Close()
	}
}

// TestConvIgnoresCoreCount checks that a convolution's y, dx, dw and db are bit for bit
// the same on one core and on several, as resuming a run on another machine needs: by
// Winograd in the AVX-512 build (its chunks and dw's groups are fixed), by im2col and
// gonum's GEMM in the pure-Go one (which once differed in the last bits: see toGonum).
func TestConvIgnoresCoreCount(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	shapes := [][]int{{21, 64, 7, 7}, {64, 64, 3, 3}, {64}}
	data := normalsFor(rng, shapes)
	r := normalsFor(rng, [][]int{{21, 64, 7, 7}})[0] // the output gradient
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	one := convRun(t, tensor.Float32, shapes, data, r, 1, 1, true, nil)
	runtime.GOMAXPROCS(4)
	many := convRun(t, tensor.Float32, shapes, data, r, 1, 1, true, nil)
	for k := range one {
		for i := range one[k] {
			if math.Float64bits(one[k][i]) != math.Float64bits(many[k][i]) {
				t.Fatalf("result %d [%d]: %v on one core, %v on four", k, i, one[k][i], many[k][i])
			}
		}
	}
}

// normalsFor returns standard normal values for tensors of the given shapes.
func normalsFor(rng *rand.Rand, shapes [][]int) [][]float64 {
	var data [][]float64
	for _, s := range shapes {
		d := make([]float64, tensor.Shape(s).TotalSize())
		for i := range d {
			d[i] = rng.NormFloat64()
		}
		data = append(data, d)
	}
	return data
}

// TestWinogradEnvRejectsUnknown checks that XENT_WINOGRAD takes only "off" (or nothing):
// another value is an error that names the variable, not a silent default.
func TestWinogradEnvRejectsUnknown(t *testing.T) {
	defer func(v string) { winogradEnv = v }(winogradEnv)
	g, err := newConvGeom(tensor.Shape{2, 64, 7, 7}, tensor.Shape{64, 64, 3, 3}, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	winogradEnv = "0"
	if _, err := planConv[float32](nil, &g); err == nil || !strings.Contains(err.Error(), "XENT_WINOGRAD") {
		if conv3.Fast { // without AVX-512 no convolution gets as far as Winograd's choice
			t.Fatalf("XENT_WINOGRAD=0: err %v, want one naming the variable", err)
		}
	}
	winogradEnv = "off"
	if p, err := planConv[float32](nil, &g); err != nil {
		t.Fatal(err)
	} else if _, ok := p.forward.(*winogradConv); ok {
		t.Fatal("XENT_WINOGRAD=off: the forward still runs Winograd")
	}
}

// BenchmarkBatchNormGELU times a training pass (the forward and the three gradients) of
// GELU(BatchNorm(x)) in float32 as the fused kernel and as the two kernels, called directly
// (no graph), on airbench's block-1 shape at batch 256 ([256,64,15,15], 14.7 MB: in cache
// here, where the two run alike) and at airbench94's batch 2000 (115 MB, where the fused
// kernel's two passes fewer show).
func BenchmarkBatchNormGELU(b *testing.B) {
	for _, batch := range []int{256, 2000} {
		shape := []int{batch, 64, 15, 15}
		n, c := tensor.Shape(shape).TotalSize(), shape[1]
		rng := rand.New(rand.NewPCG(1, 2))
		x, dy := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], dy[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		dense := func(d []float32, s ...int) *tensor.Dense {
			return tensor.New(tensor.WithShape(s...), tensor.WithBacking(d))
		}
		xv, dyv := dense(x, shape...), dense(dy, shape...)
		g, sh := dense(slices.Repeat([]float32{1}, c), c), dense(make([]float32, c), c)
		in := []G.Value{xv, g, sh}
		newBN := func(fused bool) *bnKernel[float32] {
			return &bnKernel[float32]{train: true, gelu: fused, momentum: 0.1, eps: 1e-5,
				runMean: make([]float32, c), runVar: slices.Repeat([]float32{1}, c)}
		}
		run := func(b *testing.B, step func() error) {
			if err := step(); err != nil { // the outputs' arrays made and touched, untimed
				b.Fatal(err)
			}
			b.SetBytes(int64(4 * n))
			b.ReportAllocs()
			for b.Loop() {
				if err := step(); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.Run(fmt.Sprintf("batch%d/fused", batch), func(b *testing.B) {
			k := newBN(true)
			run(b, func() error {
				y, err := k.Forward(in)
				for wrt := range 3 {
					if err == nil {
						_, err = k.Backward(wrt, in, y, dyv)
					}
				}
				return err
			})
		})
		b.Run(fmt.Sprintf("batch%d/two-kernels", batch), func(b *testing.B) {
			k, gk := newBN(false), &geluKernel[float32]{dims: 4}
			run(b, func() error {
				z, err := k.Forward(in)
				if err != nil {
					return err
				}
				y, err := gk.Forward([]G.Value{z})
				if err != nil {
					return err
				}
				dz, err := gk.Backward(0, []G.Value{z}, y, dyv)
				for wrt := range 3 {
					if err == nil {
						_, err = k.Backward(wrt, in, z, dz)
					}
				}
				return err
			})
		})
	}
}
