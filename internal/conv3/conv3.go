// Package conv3 computes 3x3 convolutions with padding 1 (most convolutions of the networks
// here) directly, without im2col: for a tile of 64 output pixels and 4 filters, the 9*C
// input vectors the GEMM of im2col would read are loaded straight from the image, each a
// plane shifted by (i-1)*W + (j-1) pixels:
//
//	y[f, p] += sum_{c,i,j} w[f, c, i, j] * x[c, p + (i-1)*W + (j-1)]   (0 outside the plane)
//
// The image is first copied into a padded layout whose planes have zero margins above and
// below (for the rows outside the plane), and lanes whose column j-1 falls outside the row
// are masked off. Plan does stride 1 (and, with the kernel rotated, the input gradient of a
// stride-1 convolution); Plan2 does stride 2 from the image's four phase planes. Both also
// compute the weight gradient, as sums over the plane of dy times the same shifted planes.
// The AVX-512 build has the fast kernels (Fast is true): the tiles in Go assembly written by
// gen/main.go (which says why), the weight gradient with simd/archsimd; the pure-Go kernels
// are their references.
package conv3

//go:generate go run ./gen

import "fmt"

// Plan is the geometry of one convolution: x [C,H,W] * w [F,C,3,3] -> y [F,H,W].
type Plan struct {
	C, F, H, W int
	before     int      // zeros before each padded plane: >= W+1
	stride     int      // floats from one padded plane to the next
	masks      []uint16 // per 16-pixel vector v: lanes whose left (2v) and right (2v+1) neighbour is in the row
	ones       []uint16 // the masks of a tap that reads every lane
}

// TileRows and TileCols are the kernel's tile: 4 filters by 64 pixels.
const TileRows, TileCols = 4, 64

// NewPlan returns the plan for C input channels, F filters and H x W planes.
func NewPlan(c, f, h, w int) (*Plan, error) {
	if c < 1 || f < 1 || h < 1 || w < 1 {
		return nil, fmt.Errorf("conv3: %d channels, %d filters, %dx%d planes", c, f, h, w)
	}
	p := &Plan{C: c, F: f, H: h, W: w}
	p.before = (w + 1 + 15) / 16 * 16
	// after the plane: the rest of the last tile (< TileCols lanes), plus a row and a column
	p.stride = p.before + (h*w+TileCols-1)/TileCols*TileCols + w + 1 + 16
	vecs := (h*w + TileCols - 1) / TileCols * (TileCols / 16)
	p.masks = make([]uint16, 2*vecs)
	for v := range vecs {
		var left, right uint16
		for l := range 16 {
			ox := (v*16 + l) % w
			if ox >= 1 {
				left |= 1 << l
			}
			if ox <= w-2 {
				right |= 1 << l
			}
		}
		p.masks[2*v], p.masks[2*v+1] = left, right
	}
	p.ones = make([]uint16, len(p.masks))
	for i := range p.ones {
		p.ones[i] = 0xffff
	}
	return p, nil
}

// tapper says where tap (i, j) of input channel c reads for output pixel q: at xp[off+q] of
// the padded image, except that output column 0 (maskLeft) or column W-1 (maskRight) reads
// 0 there, its input column lying outside the plane. Plan and Plan2 are tappers; the
// reference kernels and the gradient kernel read through it.
type tapper interface {
	tap(c, i, j int) (off int, maskLeft, maskRight bool)
}

// tap is x[c, p + (i-1)*W + (j-1)]: the plane shifted by a row and a column.
func (p *Plan) tap(c, i, j int) (off int, maskLeft, maskRight bool) {
	return c*p.stride + p.before + (i-1)*p.W + (j - 1), j == 0, j == 2
}

// PaddedLen is the length of one image's padded copy.
func (p *Plan) PaddedLen() int { return p.C * p.stride }

// PackedLen is the length of the packed weights.
func (p *Plan) PackedLen() int { return packedLen(p.C, p.F) }

func packedLen(c, f int) int { return (f + TileRows - 1) / TileRows * TileRows * c * 9 }

// Pad copies image x [C,H,W] into dst [PaddedLen]: plane c at dst[c*stride+before:], zeros
// around it.
func (p *Plan) Pad(dst, x []float32) {
	hw := p.H * p.W
	for c := range p.C {
		plane := dst[c*p.stride : (c+1)*p.stride]
		clear(plane[:p.before])
		copy(plane[p.before:], x[c*hw:(c+1)*hw])
		clear(plane[p.before+hw:])
	}
}

// PackWeights writes w [F,C,3,3] as strips of 4 filters, dst[((s*C*9)+t)*4 + r] = w[4s+r, t]
// (t = c*9 + i*3 + j), zero for filters past F.
func (p *Plan) PackWeights(dst, w []float32) { packWeights(dst, w, p.C, p.F) }

func packWeights(dst, w []float32, c, f int) {
	taps := c * 9
	for s := 0; s*TileRows < f; s++ {
		strip := dst[s*taps*TileRows : (s+1)*taps*TileRows]
		for r := range TileRows {
			fr := s*TileRows + r
			for t := range taps {
				v := float32(0)
				if fr < f {
					v = w[fr*taps+t]
				}
				strip[t*TileRows+r] = v
			}
		}
	}
}

// Fast says whether the AVX-512 kernel runs.
var Fast = false

// Epilogue is what Convolve does to each output after the sum over the taps, in this
// order: adds Bias[f] (if not nil), adds Add[f,p] (if not nil: a residual [F,HO,WO]), and
// takes max(., 0) if ReLU (a NaN stays NaN, as in vmath.ReLU32).
type Epilogue struct {
	Bias, Add []float32
	ReLU      bool
}

// check panics unless e fits f filters of hw pixels.
func (e *Epilogue) check(f, hw int) {
	if e.Bias != nil && len(e.Bias) != f || e.Add != nil && len(e.Add) != f*hw {
		panic(fmt.Sprintf("conv3: bias %d and residual %d for %d filters of %d pixels", len(e.Bias), len(e.Add), f, hw))
	}
}

// finish applies e to v, output pixel q of filter f.
func (e *Epilogue) finish(v float32, f, hw, q int) float32 {
	if e.Bias != nil {
		v += e.Bias[f]
	}
	if e.Add != nil {
		v += e.Add[f*hw+q]
	}
	if e.ReLU && !(v > 0) && v == v {
		v = 0
	}
	return v
}

// Convolve writes y [F,H,W] = the convolution of one padded image xp [PaddedLen] with packed
// weights wp [PackedLen], finished as e says.
func (p *Plan) Convolve(y, xp, wp []float32, e Epilogue) {
	if len(y) != p.F*p.H*p.W || len(xp) != p.PaddedLen() || len(wp) != p.PackedLen() {
		panic(fmt.Sprintf("conv3: lengths %d, %d, %d for plan %+v", len(y), len(xp), len(wp), *p))
	}
	e.check(p.F, p.H*p.W)
	convolve(p, y, xp, wp, e)
}

// AccumulateGrad adds the weight gradient of a run of images to dw [F,C,3,3]: with dy
// [images][F,H,W] the gradient of y and xp [images][PaddedLen] the padded images,
//
//	dw[f, c, i, j] += sum_{n,p} dy[n, f, p] * x[n, c, p + (i-1)*W + (j-1)]   (0 outside the plane)
//
// The fast kernel sums its lanes once per run: runs of a few images make small planes pay.
func (p *Plan) AccumulateGrad(dw, dy, xp []float32) {
	images := len(xp) / p.PaddedLen()
	if len(dw) != p.F*p.C*9 || len(dy) != images*p.F*p.H*p.W || len(xp) != images*p.PaddedLen() {
		panic(fmt.Sprintf("conv3: lengths %d, %d, %d for plan %+v", len(dw), len(dy), len(xp), *p))
	}
	grad(p, dw, dy, xp, images)
}

var (
	convolve = convolveGo
	grad     = gradGo
)

func gradGo(p *Plan, dw, dy, xp []float32, images int) {
	gradRef(p, p.C, p.F, p.W, p.H*p.W, p.PaddedLen(), images, dw, dy, xp)
}

func convolveGo(p *Plan, y, xp, wp []float32, e Epilogue) {
	convolveRef(p, p.C, p.F, p.W, p.H*p.W, y, xp, wp, &e)
}

// convolveRef is the reference of the forward kernels: y [F, hw] (planes w wide) = the
// convolution of the padded image xp, read through t, with the packed weights wp, finished
// by e.
func convolveRef(t tapper, c, f, w, hw int, y, xp, wp []float32, e *Epilogue) {
	taps := c * 9
	for fi := range f {
		s, r := fi/TileRows, fi%TileRows
		for q := range hw {
			var sum float32
			for ci := range c {
				for i := range 3 {
					for j := range 3 {
						off, left, right := t.tap(ci, i, j)
						if left && q%w == 0 || right && q%w == w-1 {
							continue
						}
						sum += wp[(s*taps+ci*9+i*3+j)*TileRows+r] * xp[off+q]
					}
				}
			}
			y[fi*hw+q] = e.finish(sum, fi, hw, q)
		}
	}
}

// gradRef is the reference of the gradient kernels: dw [F,C,3,3] += sum over the images
// (dy [images][F, hw], xp [images][xLen]) and output pixels q of dy times the tap, read
// through t.
func gradRef(t tapper, c, f, w, hw, xLen, images int, dw, dy, xp []float32) {
	for n := range images {
		dyn, xn := dy[n*f*hw:(n+1)*f*hw], xp[n*xLen:(n+1)*xLen]
		for fi := range f {
			for ci := range c {
				for i := range 3 {
					for j := range 3 {
						off, left, right := t.tap(ci, i, j)
						var sum float32
						for q := range hw {
							if !(left && q%w == 0 || right && q%w == w-1) {
								sum += dyn[fi*hw+q] * xn[off+q]
							}
						}
						dw[(fi*c+ci)*9+i*3+j] += sum
					}
				}
			}
		}
	}
}
