package winograd

// The transforms on activations kept in the lanes layout, [N/16][C][H][W][16]: a chunk of
// 16 images is one run of memory holding, for each channel, the plane of the 16 images
// side by side, pixel by pixel; a layer's input, output and their gradients stay so from
// one Winograd convolution to the next (BatchNorm, GELU and max pool work on it as is).
// The transforms then read and write a chunk's plane in place: no copy of each image's
// plane and no 16x16 transposes (TransformInput, TransformOutput and TransformGradOutput
// spent most of their time so, and the copies were ~17% of airbench's training step at
// batch 2000). The values are those of the NCHW transforms, bit for bit.

// ToLanes writes the chunk x [16][per] (16 images of per floats each) as dst [per][16].
func ToLanes(dst, x []float32, per int) {
	_, _ = dst[Lanes*per-1], x[Lanes*per-1]
	for k := 0; k < per; k += Lanes {
		gatherRows(dst[k*Lanes:], Lanes, x[k:], per, Lanes, min(Lanes, per-k))
	}
}

// FromLanes is ToLanes' inverse: dst [16][per] from the chunk x [per][16].
func FromLanes(dst, x []float32, per int) {
	_, _ = dst[Lanes*per-1], x[Lanes*per-1]
	for k := 0; k < per; k += Lanes {
		scatterRows(dst[k:], per, Lanes, min(Lanes, per-k), x[k*Lanes:])
	}
}

// TransformInputLanes is TransformInput of a whole chunk in the lanes layout, x [C][H][W][16]:
// each plane's rows are copied into the padded plane whole.
func (p *Plan) TransformInputLanes(v, x, scratch []float32) {
	cols, row := p.Columns(), p.W*Lanes
	pad := scratch[:p.ph*p.pw*Lanes] // [H+2 or more][W+2 or more][16], zero margins
	clear(pad[:p.pw*Lanes])
	clear(pad[(p.H+1)*p.pw*Lanes:])
	for y := range p.H {
		r := pad[(y+1)*p.pw*Lanes:][:p.pw*Lanes]
		clear(r[:Lanes])
		clear(r[(p.W+1)*Lanes:])
	}
	tmp := blockScratch(scratch)
	for c := range p.C {
		plane := x[c*p.H*row:][:p.H*row]
		for y := range p.H {
			copy(pad[((y+1)*p.pw+1)*Lanes:][:row], plane[y*row:][:row])
		}
		p.inputTiles(v[c*36*cols:][:36*cols], pad, tmp)
	}
}

// inputTiles writes one channel's block of V [36][Columns] from its padded plane.
func (p *Plan) inputTiles(block, pad []float32, tmp *[36 * Lanes]float32) {
	cols := p.Columns()
	for ty := range p.TilesH {
		for tx := range p.TilesW {
			t := (ty*p.TilesW + tx) * Lanes
			inputBlock(block[t:], cols, pad[(4*ty*p.pw+4*tx)*Lanes:], p.pw*Lanes, tmp)
		}
	}
	for t := p.TilesH * p.TilesW * Lanes; t < cols; t += Lanes {
		for xi := range 36 {
			clear(block[xi*cols+t:][:Lanes])
		}
	}
}

// TransformOutputLanes is TransformOutput of a whole chunk into the lanes layout, y
// [F][H][W][16]: the tiles are written straight into the chunk's planes.
func (p *Plan) TransformOutputLanes(y, m, bias, scratch []float32) {
	tmp, hw := blockScratch(scratch), p.H*p.W
	for f := range p.F {
		b := float32(0)
		if bias != nil {
			b = bias[f]
		}
		p.outputTiles(y[f*hw*Lanes:][:hw*Lanes], m[f*36*p.Columns():][:36*p.Columns()], b, tmp)
	}
}

// outputTiles writes one plane [H][W][16] from its block of M [36][Columns].
func (p *Plan) outputTiles(plane, block []float32, bias float32, tmp *[36 * Lanes]float32) {
	for ty := range p.TilesH {
		for tx := range p.TilesW {
			oy, ox := 4*ty, 4*tx
			outputBlock(plane[(oy*p.W+ox)*Lanes:], p.W*Lanes, min(4, p.H-oy), min(4, p.W-ox),
				block[(ty*p.TilesW+tx)*Lanes:], p.Columns(), bias, tmp)
		}
	}
}

// TransformGradOutputLanes is TransformGradOutput of a whole chunk in the lanes layout, dy
// [F][H][W][16]: each plane's rows are copied into the zero-extended plane whole.
func (p *Plan) TransformGradOutputLanes(d, dy, scratch []float32) {
	cols, row := p.Columns(), p.W*Lanes
	h4, w4 := 4*p.TilesH, 4*p.TilesW
	z := scratch[:h4*w4*Lanes] // the plane, zero past H and W
	clear(z)
	tmp := blockScratch(scratch)
	for f := range p.F {
		plane := dy[f*p.H*row:][:p.H*row]
		for y := range p.H {
			copy(z[y*w4*Lanes:][:row], plane[y*row:][:row])
		}
		p.gradTiles(d[f*36*cols:][:36*cols], z, tmp)
	}
	clear(d[p.F*36*cols : p.fp*36*cols])
}

// gradTiles writes one plane's block of D [36][Columns] from the plane z [4*TilesH][4*TilesW][16].
func (p *Plan) gradTiles(block, z []float32, tmp *[36 * Lanes]float32) {
	cols, w4 := p.Columns(), 4*p.TilesW
	for ty := range p.TilesH {
		for tx := range p.TilesW {
			gradBlock(block[(ty*p.TilesW+tx)*Lanes:], cols, z[(4*ty*w4+4*tx)*Lanes:], w4*Lanes, tmp)
		}
	}
	for t := p.TilesH * p.TilesW * Lanes; t < cols; t += Lanes {
		for xi := range 36 {
			clear(block[xi*cols+t:][:Lanes])
		}
	}
}
