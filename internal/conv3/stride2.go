package conv3

import (
	"fmt"

	"example.com/xent/internal/vmath"
)

// Plan2 is a 3x3 convolution with stride 2 and padding 1, x [C,H,W] * w [F,C,3,3] ->
// y [F,H/2,W/2] for even H and W, computed from x's four phase planes
// P[a][b][c][y,x] = x[c, 2y+a, 2x+b], each of the output's size: tap (i,j) of output pixel
// (oy,ox) reads x[c, 2oy+i-1, 2ox+j-1] = P[a(i)][a(j)][c][oy+d(i), ox+d(j)], with
//
//	a(0) = 1, d(0) = -1;  a(1) = 0, d(1) = 0;  a(2) = 1, d(2) = 0,
//
// so that each tap is again a plane shifted by at most one row and one column, as in Plan.
type Plan2 struct {
	C, F, H, W int
	out        *Plan // the output's geometry: the phase planes' padding and masks, the weights' packing
}

// NewPlan2 returns the plan for C input channels, F filters and H x W input planes.
func NewPlan2(c, f, h, w int) (*Plan2, error) {
	if h%2 != 0 || w%2 != 0 {
		return nil, fmt.Errorf("conv3: stride 2 on %dx%d planes: want even sizes", h, w)
	}
	out, err := NewPlan(4*c, f, h/2, w/2)
	if err != nil {
		return nil, fmt.Errorf("conv3: stride 2: %w", err)
	}
	return &Plan2{C: c, F: f, H: h, W: w, out: out}, nil
}

// PaddedLen is the length of one image's padded phase planes.
func (p *Plan2) PaddedLen() int { return p.out.PaddedLen() }

// PackedLen is the length of the packed weights.
func (p *Plan2) PackedLen() int { return packedLen(p.C, p.F) }

// PackWeights packs w [F,C,3,3] as Plan.PackWeights does.
func (p *Plan2) PackWeights(dst, w []float32) { packWeights(dst, w, p.C, p.F) }

// Pad writes image x [C,H,W]'s phase planes into dst [PaddedLen]: P[a][b][c] is padded plane
// 4c + 2a + b, zeros around it.
func (p *Plan2) Pad(dst, x []float32) {
	o := p.out
	ho, wo := p.H/2, p.W/2
	for c := range p.C {
		for a := range 2 {
			even := dst[(4*c+2*a)*o.stride : (4*c+2*a+1)*o.stride]
			odd := dst[(4*c+2*a+1)*o.stride : (4*c+2*a+2)*o.stride]
			for _, plane := range [2][]float32{even, odd} {
				clear(plane[:o.before])
				clear(plane[o.before+ho*wo:])
			}
			for y := range ho {
				src := x[(c*p.H+2*y+a)*p.W:][:p.W]
				vmath.Deinterleave32(even[o.before+y*wo:][:wo], odd[o.before+y*wo:][:wo], src)
			}
		}
	}
}

// Convolve writes y [F,H/2,W/2] = the convolution of one image's padded phase planes xp with
// packed weights wp, finished as e says.
func (p *Plan2) Convolve(y, xp, wp []float32, e Epilogue) {
	if len(y) != p.F*p.H*p.W/4 || len(xp) != p.PaddedLen() || len(wp) != p.PackedLen() {
		panic(fmt.Sprintf("conv3: lengths %d, %d, %d for plan %+v", len(y), len(xp), len(wp), *p))
	}
	e.check(p.F, p.H*p.W/4)
	convolve2(p, y, xp, wp, e)
}

// AccumulateGrad adds the weight gradient of a run of images to dw [F,C,3,3], from dy
// [images][F,H/2,W/2] and their padded phase planes xp [images][PaddedLen].
func (p *Plan2) AccumulateGrad(dw, dy, xp []float32) {
	images := len(xp) / p.PaddedLen()
	if len(dw) != p.F*p.C*9 || len(dy) != images*p.F*p.H*p.W/4 || len(xp) != images*p.PaddedLen() {
		panic(fmt.Sprintf("conv3: lengths %d, %d, %d for plan %+v", len(dw), len(dy), len(xp), *p))
	}
	grad2(p, dw, dy, xp, images)
}

// tap is P[a(i)][a(j)][c] shifted by d(i) rows and d(j) columns; only the column shift
// left needs a mask (the row shifts read the plane's zero margin).
func (p *Plan2) tap(c, i, j int) (off int, maskLeft, maskRight bool) {
	phase := [3]int{1, 0, 1}
	shift := [3]int{-1, 0, 0}
	o := p.out
	plane := 4*c + 2*phase[i] + phase[j]
	return plane*o.stride + o.before + shift[i]*o.W + shift[j], shift[j] < 0, false
}

var (
	convolve2 = convolve2Go
	grad2     = grad2Go
)

func convolve2Go(p *Plan2, y, xp, wp []float32, e Epilogue) {
	convolveRef(p, p.C, p.F, p.out.W, p.out.H*p.out.W, y, xp, wp, &e)
}

func grad2Go(p *Plan2, dw, dy, xp []float32, images int) {
	gradRef(p, p.C, p.F, p.out.W, p.out.H*p.out.W, p.PaddedLen(), images, dw, dy, xp)
}
