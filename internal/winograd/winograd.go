// Package winograd computes 3x3 convolutions with padding 1 and stride 1 by Winograd's
// minimal filtering algorithm F(4x4, 3x3) (Lavin and Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2016). Each 4x4 tile of an output plane comes from the
// 6x6 patch d of the input plane around it (one row and column of padding on each side):
//
//	Y = A^T [ U ⊙ V ] A,   U = G g G^T (6x6, per filter and channel),   V = B^T d B (6x6)
//
// and summed over the input channels the elementwise product becomes, for each of the 36
// positions ξ of the 6x6 tile, a matrix product over all the tiles T of a chunk of images:
//
//	M[ξ] [F,T] = U[ξ] [F,C] · V[ξ] [C,T]
//
// 36*C*F multiplies per tile of 16 outputs instead of 9*16*C*F: 4x fewer (3.06x on a 7x7
// plane, whose tiles cover 8x8; 3.5x on 15x15). The transforms cost O(C+F) per tile, the
// products are GEMMs. The price is rounding: the transforms' coefficients (the points 0,
// ±1, ±2 and ∞; up to 8 in A, 5 in B) grow the float32 error, measured at most 6.8e-6 of
// sum |w*x| against a float64 sum (winograd_test.go bounds it at 2e-5).
//
// A chunk of up to 16 images is transformed, multiplied and transformed back in turn
// (Plan's TransformInput, Multiply, TransformOutput). The transforms take the chunk's 16
// images at once, one per lane: the chunk is first copied into planes whose pixels hold
// the 16 images side by side, [C][H+2][W+2][16] with zero margins, so that each of a
// tile's 36 inputs is one vector load, and the output comes back through [F][H][W][16].
// The GEMMs' columns are the tiles, t = (ty*TilesW + tx)*16 + image. V and M are stored
// channel (filter) major, [C][36][T] and [F][36][T], so that a transform reads or writes
// one block of 36 rows; the products' tiles are an assembly kernel (gen/main.go).
package winograd

//go:generate go run ./gen

import (
	"fmt"
)

// Plan is the geometry of x [C,H,W] * w [F,C,3,3] -> y [F,H,W].
type Plan struct {
	C, F, H, W     int
	TilesH, TilesW int            // tiles of 4x4 outputs down and across: ceil(H/4), ceil(W/4)
	fp             int            // F rounded up to StripRows
	ph, pw         int            // a padded plane: 4*TilesH+2 rows of 4*TilesW+2 pixels
	g              *[9][8]float32 // TransformWeights' strip of one channel, lanes 6 and 7 unused
}

// Lanes is the images of a chunk, one per lane of the transforms' vectors. StripRows and
// StripCols are the product's tile: 6 filters by 64 columns (see gen/main.go).
const Lanes, StripRows, StripCols = 16, 6, 64

// NewPlan returns the plan for C input channels, F filters and H x W planes.
func NewPlan(c, f, h, w int) (*Plan, error) {
	if c < 1 || f < 1 || h < 1 || w < 1 {
		return nil, fmt.Errorf("winograd: %d channels, %d filters, %dx%d planes", c, f, h, w)
	}
	p := &Plan{C: c, F: f, H: h, W: w, TilesH: (h + 3) / 4, TilesW: (w + 3) / 4}
	p.fp = (f + StripRows - 1) / StripRows * StripRows
	p.ph, p.pw = 4*p.TilesH+2, 4*p.TilesW+2
	p.g = new([9][8]float32)
	return p, nil
}

// Columns is the products' width: a chunk's tiles (16 per tile of a plane), rounded up to
// StripCols.
func (p *Plan) Columns() int {
	return (p.TilesH*p.TilesW*Lanes + StripCols - 1) / StripCols * StripCols
}

// WeightsLen, InputLen and OutputLen are the lengths of U (packed, see TransformWeights),
// V [C,36,Columns] and M [F',36,Columns] (F' = F rounded up to StripRows); ScratchLen is
// the transforms' scratch: one padded plane of the chunk (or one of its output's), the
// same plane image by image, and a block's intermediate values.
func (p *Plan) WeightsLen() int { return 36 * p.fp * p.C }
func (p *Plan) InputLen() int   { return 36 * p.C * p.Columns() }
func (p *Plan) OutputLen() int  { return 36 * p.fp * p.Columns() }
func (p *Plan) ScratchLen() int { return Lanes * (p.ph*p.pw + p.H*p.W + 36) }

// planes is the part of scratch past a padded plane that holds one plane of each of the
// chunk's images, [16][H*W]: the transforms copy a plane between it and the chunk's
// images whole, image by image (one run of memory each, which the prefetchers follow and
// the stores fill whole lines of), and gather or scatter the 16 images' lanes from it in
// cache. Gathering straight from the chunk read or wrote 16 places a row apart at every
// step (the output's stores took 9.5% of a training step at batch 2000, Zen 5).
func (p *Plan) planes(scratch []float32) []float32 {
	return scratch[Lanes*p.ph*p.pw:][:Lanes*p.H*p.W]
}

// blockScratch is the end of scratch, where the transforms keep a block's intermediate
// values (not on the stack: the kernels are function values, so it would escape).
func blockScratch(scratch []float32) *[36 * Lanes]float32 {
	return (*[36 * Lanes]float32)(scratch[len(scratch)-36*Lanes:])
}

// TransformWeights writes U = G g G^T for each filter and channel's g = w[f,c] (3x3),
// packed for the product in strips of StripRows filters: u[((ξ*F'/6 + f/6)*C + c)*6 + f%6]
// = U[ξ][f][c], zeros for the filters past F. G is the 6x3 matrix of F(4x4, 3x3):
//
//	G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
//
// It keeps a channel's g in the plan: one call at a time per plan.
func (p *Plan) TransformWeights(u, w []float32) {
	g := p.g
	for s0 := 0; s0 < p.fp; s0 += StripRows {
		for c := range p.C {
			for r := range StripRows {
				f := s0 + r
				if f >= p.F {
					for k := range 9 {
						g[k][r] = 0
					}
					continue
				}
				src := (*[9]float32)(w[(f*p.C+c)*9:])
				for k, e := range src {
					g[k][r] = e
				}
			}
			weightBlock(u[s0*p.C+c*StripRows:], p.fp*p.C, g)
		}
	}
}

// weightBlockGo is weightBlock on one lane at a time: u[ξ*stride+l] = (G g G^T)[ξ] for
// the g of lanes l < StripRows.
func weightBlockGo(u []float32, stride int, g *[9][8]float32) {
	for l := range StripRows {
		var gg [6][3]float32 // G g
		for j := range 3 {
			col := filterRows(g[j][l], g[3+j][l], g[6+j][l])
			for i := range 6 {
				gg[i][j] = col[i]
			}
		}
		for i := range 6 {
			row := filterRows(gg[i][0], gg[i][1], gg[i][2])
			for j := range 6 {
				u[(i*6+j)*stride+l] = row[j]
			}
		}
	}
}

// filterRows is G applied to (g0, g1, g2), in the grouping the vector kernel uses.
func filterRows(g0, g1, g2 float32) [6]float32 {
	const sixth, twelfth, twentyFourth = 1.0 / 6, 1.0 / 12, 1.0 / 24
	even, odd := g0*twentyFourth+g2*sixth, g1*twelfth
	sum, diff := (g0+g2)*sixth, g1*sixth
	return [6]float32{g0 * 0.25, -sum - diff, diff - sum, even + odd, even - odd, g2}
}

// TransformInput writes V [C,36,Columns] for the chunk x [images][C,H,W] (images <=
// Lanes): V[c][ξ][t] is (B^T d B)[ξ] for tile t's 6x6 patch d of plane c, zeros for the
// lanes past images and the columns past the tiles. Plane by plane: the chunk's plane c is
// copied into scratch, padded and side by side, and transformed while it is in cache.
func (p *Plan) TransformInput(v, x, scratch []float32, images int) {
	cols, hw := p.Columns(), p.H*p.W
	pad := scratch[:p.ph*p.pw*Lanes] // [H+2 or more][W+2 or more][16], zero margins
	clear(pad[:p.pw*Lanes])
	clear(pad[(p.H+1)*p.pw*Lanes:])
	tmp, planes := blockScratch(scratch), p.planes(scratch)
	for c := range p.C {
		for n := range images {
			copy(planes[n*hw:][:hw], x[(n*p.C+c)*hw:][:hw])
		}
		for y := range p.H {
			row := pad[(y+1)*p.pw*Lanes:][:p.pw*Lanes]
			clear(row[:Lanes])
			clear(row[(p.W+1)*Lanes:])
			for x0 := 0; x0 < p.W; x0 += Lanes {
				gatherRows(row[(x0+1)*Lanes:], Lanes, planes[y*p.W+x0:], hw, images, min(Lanes, p.W-x0))
			}
		}
		p.inputTiles(v[c*36*cols:][:36*cols], pad, tmp)
	}
}

// Multiply writes M[ξ] = U[ξ] · V[ξ] for the 36 positions: [F',Columns] = [F',C] ·
// [C,Columns], a tile of StripRows filters and StripCols columns at a time.
func (p *Plan) Multiply(m, u, v []float32) {
	cols := p.Columns()
	ld := 36 * cols // from one channel's (filter's) row to the next
	for xi := range 36 {
		us := u[xi*p.fp*p.C:][:p.fp*p.C]
		for t := 0; t < cols; t += StripCols {
			for s := 0; s < p.fp; s += StripRows {
				multiplyTile(m[(s*36+xi)*cols+t:], ld, us[s*p.C:], v[xi*cols+t:], ld, p.C)
			}
		}
	}
}

// multiplyTileGo is multiplyTile in Go: m[r*ldm+j] = sum_c u[c*6+r] * v[c*ldv+j] for the
// tile's 6 rows and 64 columns, summing c in order.
func multiplyTileGo(m []float32, ldm int, u, v []float32, ldv, channels int) {
	var acc [StripRows][StripCols]float32
	for c := range channels {
		uc, vc := u[c*StripRows:][:StripRows], v[c*ldv:][:StripCols]
		for r, a := range uc {
			for j, b := range vc {
				acc[r][j] += a * b
			}
		}
	}
	for r := range StripRows {
		copy(m[r*ldm:][:StripCols], acc[r][:])
	}
}

// TransformOutput writes the chunk's y [images][F,H,W] from M [F',36,Columns]: tile t of
// plane f is A^T m A + bias[f] for m = (M[f][ξ][t]) (bias may be nil), the last tiles'
// rows and columns past the plane dropped. Plane by plane: plane f of the chunk's images,
// side by side in scratch, is written out to y while it is in cache.
func (p *Plan) TransformOutput(y, m, bias, scratch []float32, images int) {
	cols, hw := p.Columns(), p.H*p.W
	plane := scratch[:hw*Lanes] // [H][W][16]
	tmp, planes := blockScratch(scratch), p.planes(scratch)
	for f := range p.F {
		b := float32(0)
		if bias != nil {
			b = bias[f]
		}
		p.outputTiles(plane, m[f*36*cols:][:36*cols], b, tmp)
		for px := 0; px < hw; px += Lanes {
			scatterRows(planes[px:], hw, images, min(Lanes, hw-px), plane[px*Lanes:])
		}
		for n := range images {
			copy(y[(n*p.F+f)*hw:][:hw], planes[n*hw:][:hw])
		}
	}
}

// gatherRowsGo is gatherRows one float at a time: dst[k*dstStride+n] = src[n*stride+k] for
// lanes n < images (0 for the others) and k < count (<= 16): rows of 16 images side by side.
func gatherRowsGo(dst []float32, dstStride int, src []float32, stride, images, count int) {
	for k := range count {
		for n := range Lanes {
			e := float32(0)
			if n < images {
				e = src[n*stride+k]
			}
			dst[k*dstStride+n] = e
		}
	}
}

// scatterRowsGo is scatterRows one float at a time, gatherRows' inverse: dst[n*stride+k] =
// src[k*16+n] for n < images and k < count (<= 16).
func scatterRowsGo(dst []float32, stride, images, count int, src []float32) {
	for n := range images {
		for k := range count {
			dst[n*stride+k] = src[k*Lanes+n]
		}
	}
}

// inputBlockGo is inputBlock on one lane at a time: row ξ of B^T d B to v[ξ*stride:][:16],
// the 6x6 patch d being pad[(r*rowStride + s*16):][:16] for each lane. B^T is the 6x6
// matrix of F(4x4, 3x3):
//
//	B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
func inputBlockGo(v []float32, stride int, pad []float32, rowStride int, _ *[36 * Lanes]float32) {
	d := func(r, s, l int) float32 { return pad[r*rowStride+s*Lanes+l] }
	for l := range Lanes {
		var t [6][6]float32 // B^T d
		for s := range 6 {
			col := inputRows(d(0, s, l), d(1, s, l), d(2, s, l), d(3, s, l), d(4, s, l), d(5, s, l))
			for r := range 6 {
				t[r][s] = col[r]
			}
		}
		for r := range 6 {
			out := inputRows(t[r][0], t[r][1], t[r][2], t[r][3], t[r][4], t[r][5])
			for s := range 6 {
				v[(r*6+s)*stride+l] = out[s]
			}
		}
	}
}

// inputRows is B^T applied to (d0..d5), in the grouping the vector kernel uses.
func inputRows(d0, d1, d2, d3, d4, d5 float32) [6]float32 {
	a, b := d4-4*d2, d3-4*d1
	c, e := d4-d2, 2*(d3-d1)
	return [6]float32{4*d0 - 5*d2 + d4, a + b, a - b, c + e, c - e, 4*d1 - 5*d3 + d5}
}

// outputBlockGo is outputBlock on one lane at a time: out[(i*rowStride + j*16):][:16] =
// (A^T m A)[i][j] + bias for i < rows, j < cols, with m[ξ] = m[ξ*stride:][:16]. A^T is
// the 4x6 matrix of F(4x4, 3x3):
//
//	A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
func outputBlockGo(out []float32, rowStride, rows, cols int, m []float32, stride int, bias float32, _ *[36 * Lanes]float32) {
	for l := range Lanes {
		var t [4][6]float32 // A^T m
		for s := range 6 {
			col := outputRows(m[s*stride+l], m[(6+s)*stride+l], m[(12+s)*stride+l], m[(18+s)*stride+l], m[(24+s)*stride+l], m[(30+s)*stride+l])
			for i := range 4 {
				t[i][s] = col[i]
			}
		}
		for i := range rows {
			o := outputRows(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5])
			for j := range cols {
				out[i*rowStride+j*Lanes+l] = o[j] + bias
			}
		}
	}
}

// outputRows is A^T applied to (m0..m5).
func outputRows(m0, m1, m2, m3, m4, m5 float32) [4]float32 {
	a, b := m1+m2, m3+m4
	c, e := m1-m2, m3-m4
	return [4]float32{m0 + a + b, c + 2*e, a + 4*b, c + 8*e + m5}
}

// The kernels: the transforms of a block of Lanes tiles, the product's tile, and the
// copies to and from 16 images side by side. The AVX-512 build replaces them.
var (
	gatherRows   = gatherRowsGo
	scatterRows  = scatterRowsGo
	weightBlock  = weightBlockGo
	inputBlock   = inputBlockGo
	outputBlock  = outputBlockGo
	multiplyTile = multiplyTileGo
)
