package vmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMaxPool2x2 checks each window's max and position against the window itself, ties
// included, and the kernel in use against the pure-Go one position for position.
func TestMaxPool2x2(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for _, w := range []int{32, 16, 8, 6, 31, 15, 7, 3, 2, 48, 47} {
		ho, wo := 5, w/2
		x := make([]float32, 2*ho*w+3)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
			if i%7 == 0 {
				x[i] = 0 // ties, as after a ReLU
			}
		}
		y, arg := make([]float32, ho*wo), make([]int32, ho*wo)
		MaxPool2x2(y, arg, x, w, ho, wo)
		for oy := range ho {
			for ox := range wo {
				o := oy*wo + ox
				win := []int{2*oy*w + 2*ox, 2*oy*w + 2*ox + 1, (2*oy+1)*w + 2*ox, (2*oy+1)*w + 2*ox + 1}
				m := x[win[0]]
				for _, i := range win {
					m = max(m, x[i])
				}
				in := false
				for _, i := range win {
					in = in || int(arg[o]) == i
				}
				if y[o] != m || !in || x[arg[o]] != m {
					t.Fatalf("w=%d (%d,%d): max %v at %d, want %v in window %v", w, oy, ox, y[o], arg[o], m, win)
				}
			}
		}
		// the kernel in use (AVX-512 in the simd build) picks the same positions on ties
		y2, arg2 := make([]float32, ho*wo), make([]int32, ho*wo)
		maxPool2x2Go(y2, arg2, x, w, ho, wo)
		for o := range y {
			if y[o] != y2[o] || arg[o] != arg2[o] {
				t.Fatalf("w=%d output %d: %v at %d, the pure-Go kernel %v at %d", w, o, y[o], arg[o], y2[o], arg2[o])
			}
		}
	}
}

// TestMaxPool2x2Grad checks the kernel in use against the scatter it replaces on every
// element of planes of odd and even sizes, dx filled with NaN first (all must be written).
func TestMaxPool2x2Grad(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, w := range []int{32, 16, 8, 6, 31, 15, 7, 3, 2, 48, 47} {
		for _, h := range []int{w, w + 1, 2, 3} {
			ho, wo := h/2, w/2
			x := make([]float32, h*w)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			y, arg := make([]float32, ho*wo), make([]int32, ho*wo)
			MaxPool2x2(y, arg, x, w, ho, wo)
			dy := make([]float32, ho*wo)
			for i := range dy {
				dy[i] = float32(rng.NormFloat64())
			}
			want := make([]float32, h*w)
			for o, i := range arg {
				want[i] = dy[o]
			}
			// dx and dy as parts of longer arrays too: the kernel may read and write past a row
			for _, extra := range []int{0, 40} {
				dx := make([]float32, h*w+extra)
				for i := range dx {
					dx[i] = float32(math.NaN())
				}
				dyl, argl := append(append([]float32{}, dy...), make([]float32, extra)...), append(append([]int32{}, arg...), make([]int32, extra)...)
				for i := len(arg); i < len(argl); i++ { // positions of another plane, which must not be read
					argl[i], dyl[i] = int32(i%(h*w)), 1
				}
				MaxPool2x2Grad(dx, dyl, argl, w, h, ho, wo)
				for i := range want {
					if dx[i] != want[i] {
						t.Fatalf("%dx%d (extra %d) element %d: %v, want %v", h, w, extra, i, dx[i], want[i])
					}
				}
				for i := h * w; i < len(dx); i++ {
					if !math.IsNaN(float64(dx[i])) {
						t.Fatalf("%dx%d: wrote past the plane at %d", h, w, i)
					}
				}
			}
		}
	}
}

// poolBench is airbench's first pool at batch 256: 256*64 planes of 31x31 pooled to
// 15x15, x random, and y and arg of the forward.
func poolBench() (x, y []float32, arg []int32) {
	const planes, w, ho, wo = 256 * 64, 31, 15, 15
	rng := rand.New(rand.NewPCG(8, 8))
	x = make([]float32, planes*w*w)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	y, arg = make([]float32, planes*ho*wo), make([]int32, planes*ho*wo)
	for p := range planes {
		MaxPool2x2(y[p*ho*wo:], arg[p*ho*wo:], x[p*w*w:], w, ho, wo)
	}
	return x, y, arg
}

// BenchmarkMaxPool2x2 pools poolBench's planes.
func BenchmarkMaxPool2x2(b *testing.B) {
	x, y, arg := poolBench()
	b.SetBytes(int64(4 * (len(x) + 2*len(y))))
	b.ReportAllocs()
	for b.Loop() {
		for p := range len(x) / (31 * 31) {
			MaxPool2x2(y[p*15*15:], arg[p*15*15:], x[p*31*31:], 31, 15, 15)
		}
	}
}

// BenchmarkMaxPool2x2Grad writes dx of the same planes.
func BenchmarkMaxPool2x2Grad(b *testing.B) {
	x, y, arg := poolBench()
	b.SetBytes(int64(4 * (len(x) + 2*len(y))))
	b.ReportAllocs()
	for b.Loop() {
		for p := range len(x) / (31 * 31) {
			MaxPool2x2Grad(x[p*31*31:], y[p*15*15:], arg[p*15*15:], 31, 31, 15, 15)
		}
	}
}

// TestMaxPoolLanes2x2 checks the lanes-layout pool and its gradient, with the kernels in
// use and the pure-Go ones, against the planar kernels (MaxPool2x2's Go kernel and its
// gradient) run on each lane's plane: the same maxima, the same positions on ties (a
// third of the values are 0, some NaN), and every element of dx written (it starts NaN).
func TestMaxPoolLanes2x2(t *testing.T) {
	const l = LaneCount
	rng := rand.New(rand.NewPCG(10, 10))
	for _, kernels := range []string{"in use", "go"} {
		fwd, bwd := maxPoolLanes2x2, maxPoolLanes2x2Grad
		if kernels == "go" {
			maxPoolLanes2x2, maxPoolLanes2x2Grad = maxPoolLanes2x2Go, maxPoolLanes2x2GradGo
		}
		for _, hw := range [][2]int{{15, 15}, {7, 7}, {2, 2}, {3, 4}, {6, 5}, {31, 31}} {
			h, w := hw[0], hw[1]
			ho, wo := h/2, w/2
			x, dy := make([]float32, h*w*l), make([]float32, ho*wo*l)
			for i := range x {
				switch rng.IntN(12) {
				case 0, 1, 2, 3:
					x[i] = 0
				case 4:
					x[i] = float32(math.NaN())
				default:
					x[i] = float32(rng.NormFloat64())
				}
			}
			for i := range dy {
				dy[i] = float32(rng.NormFloat64())
			}
			y, arg, dx := make([]float32, ho*wo*l), make([]int32, ho*wo*l), make([]float32, h*w*l)
			for i := range dx {
				dx[i] = float32(math.NaN())
			}
			MaxPoolLanes2x2(y, arg, x, w, ho, wo)
			MaxPoolLanes2x2Grad(dx, dy, arg, w, h, ho, wo)
			for n := range l {
				xn, dyn := make([]float32, h*w), make([]float32, ho*wo)
				for i := range xn {
					xn[i] = x[i*l+n]
				}
				for o := range dyn {
					dyn[o] = dy[o*l+n]
				}
				yn, argn, dxn := make([]float32, ho*wo), make([]int32, ho*wo), make([]float32, h*w)
				maxPool2x2Go(yn, argn, xn, w, ho, wo)
				MaxPool2x2Grad(dxn, dyn, argn, w, h, ho, wo)
				for o := range yn {
					oy, ox := o/wo, o%wo
					i := int(argn[o])
					pos := int32((i/w-2*oy)*2 + i%w - 2*ox)
					if math.Float32bits(y[o*l+n]) != math.Float32bits(yn[o]) || arg[o*l+n] != pos {
						t.Fatalf("%s %dx%d lane %d output %d: %v at %d, want %v at %d", kernels, h, w, n, o, y[o*l+n], arg[o*l+n], yn[o], pos)
					}
				}
				for i := range dxn {
					if math.Float32bits(dx[i*l+n]) != math.Float32bits(dxn[i]) {
						t.Fatalf("%s %dx%d lane %d dx[%d] = %v, want %v", kernels, h, w, n, i, dx[i*l+n], dxn[i])
					}
				}
			}
		}
		maxPoolLanes2x2, maxPoolLanes2x2Grad = fwd, bwd
	}
}
