package conv3

import (
	"fmt"

	"example.com/xent/internal/vmath"
)

// Plan2T is the input gradient of Plan2's convolution: dx [C,H,W] from dy [F,H/2,W/2] and
// w [F,C,3,3]. Each of dx's four phase planes, dx[c, 2Y+a, 2X+b], is a convolution of dy
// with the taps of w whose input pixel has that phase (2*oy + i - 1 = 2Y + a):
//
//	a = 0: i = 1, reading dy's row Y;  a = 1: i = 2 reading row Y, i = 0 reading row Y+1
//
// and the same for the columns (b, j): one, two or four taps per phase, nine in all, each dy
// shifted by at most a row and a column forward. dy is padded as a stride-1 Plan pads it
// (the row past the plane reads its zero margin; the column past it is masked); the phase
// planes are computed into scratch, then interleaved into dx.
type Plan2T struct {
	C, F, H, W int
	in         *Plan // dy's geometry, F planes of H/2 x W/2: the padding and masks
}

// NewPlan2T returns the plan for C input channels, F filters and H x W input planes.
func NewPlan2T(c, f, h, w int) (*Plan2T, error) {
	if h%2 != 0 || w%2 != 0 {
		return nil, fmt.Errorf("conv3: stride 2 on %dx%d planes: want even sizes", h, w)
	}
	in, err := NewPlan(f, c, h/2, w/2)
	if err != nil {
		return nil, fmt.Errorf("conv3: stride-2 input gradient: %w", err)
	}
	return &Plan2T{C: c, F: f, H: h, W: w, in: in}, nil
}

// phaseTaps are, for each phase (a, b) of dx (index 2a+b), the taps (i, j) that land on it,
// in the order of the kernels' packed weights (gen/main.go's stride2T): the one reading dy
// unshifted first. A row i = 0 (column j = 0) reads dy a row (column) further.
var phaseTaps = [4][][2]int{
	{{1, 1}},
	{{1, 2}, {1, 0}},
	{{2, 1}, {0, 1}},
	{{2, 2}, {2, 0}, {0, 2}, {0, 0}},
}

// PaddedLen is the length of dy's padded copy.
func (p *Plan2T) PaddedLen() int { return p.in.PaddedLen() }

// Pad copies dy [F,H/2,W/2] into dst [PaddedLen].
func (p *Plan2T) Pad(dst, dy []float32) { p.in.Pad(dst, dy) }

// ScratchLen is the length of the scratch Convolve needs: dx's four phase planes.
func (p *Plan2T) ScratchLen() int { return p.C * p.H * p.W }

// PackedLen is the length of the packed weights.
func (p *Plan2T) PackedLen() int { return 9 * p.F * p.strips() * TileRows }

func (p *Plan2T) strips() int { return (p.C + TileRows - 1) / TileRows }

// PackWeights writes w [F,C,3,3] phase after phase (00, 01, 10, 11), each as strips of 4 of
// dx's channels: within strip s, for each channel f of dy and each tap (i, j) of the phase
// (phaseTaps), the weights w[f, 4s+r, i, j] for r < 4 (0 past C).
func (p *Plan2T) PackWeights(dst, w []float32) {
	k := 0
	for ph := range 4 {
		taps := phaseTaps[ph]
		for s := range p.strips() {
			for f := range p.F {
				for _, t := range taps {
					for r := range TileRows {
						v := float32(0)
						if c := s*TileRows + r; c < p.C {
							v = w[((f*p.C+c)*3+t[0])*3+t[1]]
						}
						dst[k] = v
						k++
					}
				}
			}
		}
	}
}

// phaseWeights returns phase ph's packed weights.
func (p *Plan2T) phaseWeights(wp []float32, ph int) []float32 {
	before := 0 // taps of the phases before
	for _, taps := range phaseTaps[:ph] {
		before += len(taps)
	}
	per := p.F * p.strips() * TileRows
	return wp[before*per : (before+len(phaseTaps[ph]))*per]
}

// Convolve writes dx [C,H,W] from dy's padded copy dyp [PaddedLen] and the packed weights
// wp [PackedLen], using scratch [ScratchLen].
func (p *Plan2T) Convolve(dx, dyp, wp, scratch []float32) {
	if len(dx) != p.C*p.H*p.W || len(dyp) != p.PaddedLen() || len(wp) != p.PackedLen() || len(scratch) != p.ScratchLen() {
		panic(fmt.Sprintf("conv3: lengths %d, %d, %d, %d for plan %+v", len(dx), len(dyp), len(wp), len(scratch), *p))
	}
	hw := p.in.H * p.in.W
	for ph := range 4 {
		convolve2T(p, ph, scratch[ph*p.C*hw:(ph+1)*p.C*hw], dyp, p.phaseWeights(wp, ph))
	}
	wo := p.in.W
	for c := range p.C {
		for y := range p.in.H {
			for a := range 2 {
				even := scratch[((2*a)*p.C+c)*hw+y*wo:][:wo]
				odd := scratch[((2*a+1)*p.C+c)*hw+y*wo:][:wo]
				vmath.Interleave32(dx[(c*p.H+2*y+a)*p.W:][:p.W], even, odd)
			}
		}
	}
}

var convolve2T = convolve2TGo

// convolve2TGo is the reference of the phase kernels: plane [C, hw] of phase ph from the
// padded dy and the phase's packed weights wp.
func convolve2TGo(p *Plan2T, ph int, plane, dyp, wp []float32) {
	in := p.in
	hw, taps := in.H*in.W, phaseTaps[ph]
	for c := range p.C {
		s, r := c/TileRows, c%TileRows
		for q := range hw {
			var sum float32
			for f := range p.F {
				for t, ij := range taps {
					off := f*in.stride + in.before + q
					if ij[0] == 0 { // a row further
						off += in.W
					}
					if ij[1] == 0 { // a column further
						if q%in.W == in.W-1 {
							continue
						}
						off++
					}
					sum += wp[((s*p.F+f)*len(taps)+t)*TileRows+r] * dyp[off]
				}
			}
			plane[c*hw+q] = sum
		}
	}
}
