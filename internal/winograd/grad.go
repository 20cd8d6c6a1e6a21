package winograd

// The weight gradient by the same algorithm. The output is linear in U = G g G^T, so
//
//	dL/dg = G^T [ (A dY A^T) ⊙ (B^T d B) ] G
//
// summed over the tiles of every image, and for each position ξ of the 6x6 tile that sum
// is again a product, now over the tiles:
//
//	DW[ξ] [F,C] = sum_t D[ξ][f][t] V[ξ][c][t],   D = A dY A^T (6x6 from a 4x4 block of dY)
//	dw[f,c] = G^T DW[.][f][c] G (3x3)
//
// A chunk's V comes from TransformInput (as in the forward) and is transposed to
// Vt [36][Columns][C'] (C' = C rounded up to StripCols) so that the product's tile reads
// 64 channels a step; D [F',36,Columns] comes from TransformGradOutput; the product adds
// into DW [36][F'][C'] chunk after chunk (AccumulateWeightGrad), and TransformWeightGrad
// turns the sum into dw.

// WeightGradOK says whether the plan computes dw: C a multiple of 16.
func (p *Plan) WeightGradOK() bool { return p.C%Lanes == 0 }

func (p *Plan) cPad() int { return (p.C + StripCols - 1) / StripCols * StripCols }

// GradOutputLen, TransposedLen and WeightGradLen are the lengths of D [F',36,Columns],
// Vt [36,Columns,C'] and DW [36,F',C'].
func (p *Plan) GradOutputLen() int { return 36 * p.fp * p.Columns() }
func (p *Plan) TransposedLen() int { return 36 * p.Columns() * p.cPad() }
func (p *Plan) WeightGradLen() int { return 36 * p.fp * p.cPad() }

// TransformGradOutput writes D [F',36,Columns] for the chunk's output gradient dy
// [images][F,H,W] (images <= Lanes): D[f][ξ][t] is (A z A^T)[ξ] for tile t's 4x4 block z
// of plane f, zeros past the plane, the images and F. scratch is ScratchLen floats; plane
// by plane, as TransformInput.
func (p *Plan) TransformGradOutput(d, dy, scratch []float32, images int) {
	cols, hw := p.Columns(), p.H*p.W
	h4, w4 := 4*p.TilesH, 4*p.TilesW
	z := scratch[:h4*w4*Lanes] // plane f of the chunk's images side by side, zero past H and W
	clear(z[p.H*w4*Lanes:])
	tmp, planes := blockScratch(scratch), p.planes(scratch)
	for f := range p.F {
		for n := range images {
			copy(planes[n*hw:][:hw], dy[(n*p.F+f)*hw:][:hw])
		}
		for y := range p.H {
			row := z[y*w4*Lanes : (y+1)*w4*Lanes]
			for x0 := 0; x0 < p.W; x0 += Lanes {
				gatherRows(row[x0*Lanes:], Lanes, planes[y*p.W+x0:], hw, images, min(Lanes, p.W-x0))
			}
			clear(row[p.W*Lanes:])
		}
		p.gradTiles(d[f*36*cols:][:36*cols], z, tmp)
	}
	clear(d[p.F*36*cols : p.fp*36*cols])
}

// TransposeInput writes Vt [36,Columns,C'] from V [C,36,Columns]: Vt[ξ][t][c] =
// V[c][ξ][t], zeros past C.
func (p *Plan) TransposeInput(vt, v []float32) {
	cols, cp := p.Columns(), p.cPad()
	for xi := range 36 {
		for t0 := 0; t0 < cols; t0 += Lanes {
			for c0 := 0; c0 < p.C; c0 += Lanes {
				gatherRows(vt[(xi*cols+t0)*cp+c0:], cp, v[(c0*36+xi)*cols+t0:], 36*cols, Lanes, Lanes)
			}
			if p.C < cp {
				for t := t0; t < t0+Lanes; t++ {
					clear(vt[(xi*cols+t)*cp+p.C : (xi*cols+t+1)*cp])
				}
			}
		}
	}
}

// AccumulateWeightGrad adds D[ξ] · Vt[ξ] to DW[ξ] for the 36 positions: [F',C'] +=
// [F',Columns] · [Columns,C'], a tile of StripRows filters and StripCols channels at a time.
func (p *Plan) AccumulateWeightGrad(dw, d, vt []float32) {
	cols, cp := p.Columns(), p.cPad()
	for xi := range 36 {
		for c0 := 0; c0 < cp; c0 += StripCols {
			for s := 0; s < p.fp; s += StripRows {
				multiplyGradTile(dw[(xi*p.fp+s)*cp+c0:], cp, d[(s*36+xi)*cols:], 36*cols, vt[xi*cols*cp+c0:], cp, cols)
			}
		}
	}
}

// TransformWeightGrad writes dst [F,9,C]: dst[f][i*3+j][c] = (G^T DW[.][f][c] G)[i][j], from
// DW [36,F',C']. G^T is the transpose of TransformWeights' G:
//
//	G^T = [1/4 -1/6 -1/6 1/24 1/24 0; 0 -1/6 1/6 1/12 -1/12 0; 0 -1/6 -1/6 1/6 1/6 1]
func (p *Plan) TransformWeightGrad(dst, dw []float32) {
	cp := p.cPad()
	for f := range p.F {
		for c0 := 0; c0 < p.C; c0 += Lanes {
			weightGradBlock(dst[f*9*p.C+c0:], p.C, dw[f*cp+c0:], p.fp*cp)
		}
	}
}

// gradBlockGo is gradBlock on one lane at a time: row ξ of A z A^T to d[ξ*stride:][:16],
// the 4x4 block z being z[(i*rowStride + j*16):][:16] for each lane. A is the 6x4
// transpose of TransformOutput's A^T.
func gradBlockGo(d []float32, stride int, z []float32, rowStride int, _ *[36 * Lanes]float32) {
	for l := range Lanes {
		var t [6][4]float32 // A z
		for j := range 4 {
			col := gradRows(z[j*Lanes+l], z[rowStride+j*Lanes+l], z[2*rowStride+j*Lanes+l], z[3*rowStride+j*Lanes+l])
			for r := range 6 {
				t[r][j] = col[r]
			}
		}
		for r := range 6 {
			out := gradRows(t[r][0], t[r][1], t[r][2], t[r][3])
			for s := range 6 {
				d[(r*6+s)*stride+l] = out[s]
			}
		}
	}
}

// gradRows is A applied to (z0..z3), in the grouping the vector kernel uses.
func gradRows(z0, z1, z2, z3 float32) [6]float32 {
	a, b := z0+z2, z1+z3
	c, e := z0+4*z2, 2*z1+8*z3
	return [6]float32{z0, a + b, a - b, c + e, c - e, z3}
}

// multiplyGradTileGo is multiplyGradTile in Go: m[r*ldm+j] += sum_k u[r*ldu+k] *
// v[k*ldv+j] for the tile's 6 rows and 64 columns, summing k in order.
func multiplyGradTileGo(m []float32, ldm int, u []float32, ldu int, v []float32, ldv, steps int) {
	var acc [StripRows][StripCols]float32
	for k := range steps {
		vk := v[k*ldv:][:StripCols]
		for r := range StripRows {
			a := u[r*ldu+k]
			for j, b := range vk {
				acc[r][j] += a * b
			}
		}
	}
	for r := range StripRows {
		row := m[r*ldm:][:StripCols]
		for j := range row {
			row[j] += acc[r][j]
		}
	}
}

// weightGradBlockGo is weightGradBlock one lane at a time: dst[k*dstStride:][:16] = (G^T
// e G)[k] for e[ξ] = dw[ξ*stride:][:16].
func weightGradBlockGo(dst []float32, dstStride int, dw []float32, stride int) {
	for l := range Lanes {
		var t [3][6]float32 // G^T e
		for s := range 6 {
			col := filterGradRows(dw[s*stride+l], dw[(6+s)*stride+l], dw[(12+s)*stride+l], dw[(18+s)*stride+l], dw[(24+s)*stride+l], dw[(30+s)*stride+l])
			for i := range 3 {
				t[i][s] = col[i]
			}
		}
		for i := range 3 {
			out := filterGradRows(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5])
			for j := range 3 {
				dst[(i*3+j)*dstStride+l] = out[j]
			}
		}
	}
}

// filterGradRows is G^T applied to (e0..e5), in the grouping the vector kernel uses.
func filterGradRows(e0, e1, e2, e3, e4, e5 float32) [3]float32 {
	const sixth, twelfth, twentyFourth = 1.0 / 6, 1.0 / 12, 1.0 / 24
	sum, diff := e1+e2, e1-e2
	sum2, diff2 := e3+e4, e3-e4
	return [3]float32{e0*0.25 - sum*sixth + sum2*twentyFourth, diff2*twelfth - diff*sixth, (sum2-sum)*sixth + e5}
}

// The weight gradient's kernels: the AVX-512 build replaces them.
var (
	gradBlock        = gradBlockGo
	multiplyGradTile = multiplyGradTileGo
	weightGradBlock  = weightGradBlockGo
)
