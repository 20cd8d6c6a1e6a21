package model

import (
	"sync"

	"example.com/xent/internal/blas"
	"example.com/xent/internal/parallel"
	"example.com/xent/internal/vmath"
)

// minGemmCols is the fewest columns a convolution's GEMM gets: images whose output planes
// are small (7x7, 3x3) have their columns set side by side, so that one GEMM of 29 images'
// 3x3 planes replaces 29 GEMMs of 9 columns each.
const minGemmCols = 256

// gemmConv computes a convolution of any geometry as GEMMs over im2col's columns, a group
// of images at a time, groups split across cores:
//
//	y_n [F,HO*WO] = w [F,CKK] x im2col(x_n) [CKK,HO*WO] + b
//	dx_n = col2im(w^T x dy_n), or for a same-padded convolution dy_n * flipped(w)
//	dw = sum_n dy_n x im2col(x_n)^T, in dwGroups fixed groups
type gemmConv[T vmath.Float] struct {
	bufs     sync.Pool // *gemmBufs, one per running chunk
	parts    []T       // [dwGroups, F, CKK]: each group's share of dw
	flippedW []T       // for dx of a same-padded convolution: w flipped, [C,F,KH,KW]

	// the call under way, for Run
	pass           gemmPass
	g, flippedGeom convGeom // the convolution's, and for dx of a same-padded one dy * flippedW's
	group          int      // images per GEMM (1 unless planes are small)
	x, w, y        []T
	dy, dx         []T
	e              epilogue[T]
	flippedDX      bool
}

type gemmPass int

const (
	gemmForward gemmPass = iota // rows: groups of images
	gemmDX                      // the same
	gemmDW                      // the dwGroups groups of images
)

// gemmBufs is one chunk's scratch: the columns of a group of images and, for groups of
// more than one, their GEMM's output (or dy gathered) before it is scattered to NCHW.
type gemmBufs[T vmath.Float] struct{ col, tmp []T }

// start readies a call over geometry g.
func (c *gemmConv[T]) start(pass gemmPass, g *convGeom) {
	c.pass, c.g = pass, *g
	c.group = max(1, min(g.n, (minGemmCols+g.hw-1)/g.hw))
}

// run splits the call's groups of images across cores.
func (c *gemmConv[T]) run() { parallel.For((c.g.n+c.group-1)/c.group, 1, c) }

func (c *gemmConv[T]) Forward(g *convGeom, y, x, w []T, e epilogue[T]) {
	c.start(gemmForward, g)
	c.y, c.x, c.w, c.e = y, x, w, e
	c.run()
}

func (c *gemmConv[T]) InputGrad(g *convGeom, dx, dy, w []T) {
	c.start(gemmDX, g)
	c.dx, c.dy, c.w = dx, dy, w
	c.flippedDX = g.samePadded()
	if c.flippedDX {
		if len(c.flippedW) != len(w) {
			c.flippedW = make([]T, len(w))
		}
		c.flippedGeom = flipped(c.flippedW, w, g)
	}
	c.run()
}

func (c *gemmConv[T]) WeightGrad(g *convGeom, dw, dy, x []T) {
	c.start(gemmDW, g)
	c.dy, c.x = dy, x
	if len(c.parts) != dwGroups*g.f*g.ckk {
		c.parts = make([]T, dwGroups*g.f*g.ckk)
	}
	parallel.For(dwGroups, 1, c)
	sumGroups(dw, c.parts)
}

func (c *gemmConv[T]) buffers() *gemmBufs[T] {
	g := &c.g
	cols := c.group * g.hw
	nCol, nTmp := max(g.ckk, g.f*g.kh*g.kw)*cols, 0
	if c.group > 1 {
		nTmp = max(g.f, g.c) * cols
	}
	if b, ok := c.bufs.Get().(*gemmBufs[T]); ok && len(b.col) == nCol && len(b.tmp) == nTmp {
		return b
	}
	return &gemmBufs[T]{col: make([]T, nCol), tmp: make([]T, nTmp)}
}

// Run does groups [lo, hi) of the call under way; parallel.For calls it.
func (c *gemmConv[T]) Run(lo, hi int) {
	g := &c.g
	b := c.buffers()
	defer c.bufs.Put(b)
	switch c.pass {
	case gemmForward:
		c.initOutput(lo*c.group, min(g.n, hi*c.group))
		for grp := lo; grp < hi; grp++ {
			n0, n1 := grp*c.group, min(g.n, (grp+1)*c.group)
			convolveGroup(c.y, c.x, c.w, g.f, g, n0, n1, b, c.e.bias != nil)
			c.e.finish(c.y, n0*g.o, n1*g.o)
		}
	case gemmDX:
		if c.flippedDX { // dx is a convolution of dy with the flipped kernel
			for grp := lo; grp < hi; grp++ {
				convolveGroup(c.dx, c.dy, c.flippedW, g.c, &c.flippedGeom, grp*c.group, min(g.n, (grp+1)*c.group), b, false)
			}
			return
		}
		for n := lo * c.group; n < min(g.n, hi*c.group); n++ {
			blas.Gemm(true, false, g.ckk, g.hw, g.f, 1, c.w, g.ckk, c.dy[n*g.o:(n+1)*g.o], g.hw, 0, b.col, g.hw)
			dx := c.dx[n*g.chw : (n+1)*g.chw]
			clear(dx)
			col2im(dx, b.col, g)
		}
	case gemmDW: // rows are groups of images; group i's share of dw goes to parts[i]
		for grp := lo; grp < hi; grp++ {
			part := c.parts[grp*g.f*g.ckk : (grp+1)*g.f*g.ckk]
			clear(part)
			start, end := dwGroup(grp, g.n)
			for n0 := start; n0 < end; n0 += c.group {
				c.weightGradImages(part, n0, min(c.group, end-n0), b)
			}
		}
	}
}

// weightGradImages adds the share of images [n0, n0+m) to part [F,CKK].
func (c *gemmConv[T]) weightGradImages(part []T, n0, m int, b *gemmBufs[T]) {
	g := &c.g
	ld := m * g.hw
	for i := range m {
		im2col(b.col[i*g.hw:], c.x[(n0+i)*g.chw:(n0+i+1)*g.chw], g, ld)
	}
	dy := c.dy[n0*g.o : (n0+1)*g.o]
	if m > 1 { // gather dy [m,F,HW] into [F, m*HW], the columns' order
		dy = b.tmp[:g.f*ld]
		for i := range m {
			for f := range g.f {
				copy(dy[f*ld+i*g.hw:][:g.hw], c.dy[(n0+i)*g.o+f*g.hw:][:g.hw])
			}
		}
	}
	blas.Gemm(false, true, g.f, g.ckk, ld, 1, dy, ld, b.col, ld, 1, part, g.ckk)
}

// initOutput sets the outputs of images [n0, n1) to the bias (if any), for the convolution
// to be added.
func (c *gemmConv[T]) initOutput(n0, n1 int) {
	g := &c.g
	if c.e.bias == nil {
		return
	}
	for n := n0; n < n1; n++ {
		for f, v := range c.e.bias {
			fill(c.y[n*g.o+f*g.hw:][:g.hw], v)
		}
	}
}

// convolveGroup writes dst_n [rows, HW] = w [rows, CKK] x im2col(src_n) for images
// [n0, n1) of src, NCHW in geometry g (dst's planes are g's output planes); with accumulate
// it adds to dst (which holds the bias) instead.
func convolveGroup[T vmath.Float](dst, src, w []T, rows int, g *convGeom, n0, n1 int, b *gemmBufs[T], accumulate bool) {
	m, hw := n1-n0, g.hw
	ld := m * hw
	for i := range m {
		im2col(b.col[i*hw:], src[(n0+i)*g.chw:(n0+i+1)*g.chw], g, ld)
	}
	beta := T(0)
	if accumulate {
		beta = 1
	}
	if m == 1 {
		blas.Gemm(false, false, rows, hw, g.ckk, 1, w, g.ckk, b.col, ld, beta, dst[n0*rows*hw:(n0+1)*rows*hw], hw)
		return
	}
	blas.Gemm(false, false, rows, ld, g.ckk, 1, w, g.ckk, b.col, ld, 0, b.tmp, ld)
	for i := range m {
		for r := range rows {
			out, in := dst[((n0+i)*rows+r)*hw:][:hw], b.tmp[r*ld+i*hw:][:hw]
			if !accumulate {
				copy(out, in)
				continue
			}
			for p, v := range in {
				out[p] += v
			}
		}
	}
}

// im2col writes col [C*KH*KW, HO*WO] from one image x [C,H,W]: row (c,i,j) holds, for
// every output pixel, the input pixel under kernel tap (i,j) of channel c (0 in padding).
// Rows lie ld apart in col (HO*WO for one image; more when images sit side by side).
func im2col[T vmath.Float](col, x []T, g *convGeom, ld int) {
	if g.stride == 1 && g.ho == g.h && g.wo == g.w {
		im2colSame(col, x, g, ld)
		return
	}
	same := g.stride == 1 && g.wo == g.w // "same" padding: a row of col is the plane shifted
	for c := range g.c {
		for i := range g.kh {
			for j := range g.kw {
				row := col[((c*g.kh+i)*g.kw+j)*ld:][:g.hw]
				if same {
					shifted(row, x[c*g.h*g.w:(c+1)*g.h*g.w], g, i-g.pad, j-g.pad)
					continue
				}
				lo, hi := g.validCols(j)
				for oy := range g.ho {
					y := oy*g.stride - g.pad + i
					out := row[oy*g.wo : (oy+1)*g.wo]
					if y < 0 || y >= g.h {
						clear(out)
						continue
					}
					in := x[(c*g.h+y)*g.w : (c*g.h+y+1)*g.w]
					clear(out[:lo])
					clear(out[hi:])
					if lo == hi { // this tap sees only padding
						continue
					}
					if g.stride == 1 {
						copy(out[lo:hi], in[lo-g.pad+j:])
						continue
					}
					for ox := lo; ox < hi; ox++ {
						out[ox] = in[ox*g.stride-g.pad+j]
					}
				}
			}
		}
	}
}

// im2colSame is im2col for a convolution that keeps the plane (stride 1, HO = H, WO = W,
// so an odd kernel with padding (K-1)/2): tap (pad, j)'s row is the plane shifted by
// j - pad columns (shifted), and tap (i, j)'s is that row shifted by i - pad whole rows,
// one copy with no columns to fix: the column fix-ups are done K times a channel, not K*K.
func im2colSame[T vmath.Float](col, x []T, g *convGeom, ld int) {
	for c := range g.c {
		plane := x[c*g.h*g.w : (c+1)*g.h*g.w]
		for j := range g.kw {
			base := col[((c*g.kh+g.pad)*g.kw+j)*ld:][:g.hw]
			shifted(base, plane, g, 0, j-g.pad)
			for i := range g.kh {
				if i != g.pad {
					rowsShifted(col[((c*g.kh+i)*g.kw+j)*ld:][:g.hw], base, (i-g.pad)*g.w)
				}
			}
		}
	}
}

// rowsShifted writes out[p] = src[p+s] where p+s lies in src, 0 elsewhere (len(out) =
// len(src)).
func rowsShifted[T vmath.Float](out, src []T, s int) {
	n := len(out)
	switch {
	case s >= n || -s >= n:
		clear(out)
	case s >= 0:
		copy(out, src[s:])
		clear(out[n-s:])
	default:
		clear(out[:-s])
		copy(out[-s:], src)
	}
}

// shifted writes out [HO*W] = the plane [H,W] shifted by (dy, dx), 0 where the shift
// leaves the plane: out[oy,ox] = plane[oy+dy, ox+dx]. One copy of the whole span, then the
// columns that wrapped into the next or previous row are zeroed.
func shifted[T vmath.Float](out, plane []T, g *convGeom, dy, dx int) {
	w := g.w
	oyLo, oyHi := max(0, -dy), min(g.ho, g.h-dy)
	if oyLo >= oyHi || dx <= -w || dx >= w { // the shift leaves the plane (padding wider than it)
		clear(out)
		return
	}
	clear(out[:oyLo*w])
	clear(out[oyHi*w:])
	dst := out[oyLo*w : oyHi*w]
	src := (oyLo+dy)*w + dx // where dst[0] reads from, in the plane
	if src < 0 {
		clear(dst[:-src])
		dst, src = dst[-src:], 0
	}
	n := copy(dst, plane[src:])
	clear(dst[n:])
	// |dx| columns a row, 1 in a 3x3 convolution: stores, as a call to clear costs more
	switch {
	case dx > 0:
		for oy := oyLo; oy < oyHi; oy++ {
			for i := oy*w + w - dx; i < oy*w+w; i++ {
				out[i] = 0
			}
		}
	case dx < 0:
		for oy := oyLo; oy < oyHi; oy++ {
			for i := oy * w; i < oy*w-dx; i++ {
				out[i] = 0
			}
		}
	}
}

// addStrided adds src[t] to out[t*stride] for every t < len(src).
func addStrided[T vmath.Float](out, src []T, stride int) {
	if o, ok := any(out).([]float32); ok && stride == 2 {
		vmath.AddSpread32(o, any(src).([]float32))
		return
	}
	for t, v := range src {
		out[t*stride] += v
	}
}

// col2im adds col [C*KH*KW, HO*WO] back into one image dx [C,H,W]: the adjoint of im2col.
func col2im[T vmath.Float](dx, col []T, g *convGeom) {
	for c := range g.c {
		for i := range g.kh {
			for j := range g.kw {
				row := col[((c*g.kh+i)*g.kw+j)*g.hw:][:g.hw]
				lo, hi := g.validCols(j)
				if lo == hi { // this tap sees only padding
					continue
				}
				for oy := range g.ho {
					y := oy*g.stride - g.pad + i
					if y < 0 || y >= g.h {
						continue
					}
					out := dx[(c*g.h+y)*g.w : (c*g.h+y+1)*g.w]
					src := row[oy*g.wo : (oy+1)*g.wo]
					if g.stride == 1 {
						o, s := out[lo-g.pad+j:hi-g.pad+j], src[lo:hi]
						for t := range o {
							o[t] += s[t]
						}
						continue
					}
					addStrided(out[lo*g.stride-g.pad+j:], src[lo:hi], g.stride)
				}
			}
		}
	}
}
