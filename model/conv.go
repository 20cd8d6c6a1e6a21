package model

import (
	"fmt"
	"sync"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/internal/blas"
	"example.com/xent/internal/conv3"
	"example.com/xent/internal/graphop"
	"example.com/xent/internal/parallel"
	"example.com/xent/internal/vmath"
)

// convGeom is the shape of a 2-D convolution: x [N,C,H,W] * w [F,C,KH,KW] -> y [N,F,HO,WO]
// with HO = (H + 2*Pad - KH)/Stride + 1 (and WO likewise).
type convGeom struct {
	n, c, h, w      int
	f, kh, kw       int
	stride, pad     int
	ho, wo          int
	ckk, hw, chw, o int // C*KH*KW, HO*WO, C*H*W, F*HO*WO
}

func newConvGeom(x, w tensor.Shape, stride, pad int) (convGeom, error) {
	if x.Dims() != 4 || w.Dims() != 4 || x[1] != w[1] {
		return convGeom{}, fmt.Errorf("conv2d of x %v with w %v: want [N,C,H,W] and [F,C,KH,KW]", x, w)
	}
	g := convGeom{n: x[0], c: x[1], h: x[2], w: x[3], f: w[0], kh: w[2], kw: w[3], stride: stride, pad: pad}
	g.ho, g.wo = (g.h+2*pad-g.kh)/stride+1, (g.w+2*pad-g.kw)/stride+1
	if stride < 1 || pad < 0 || g.ho < 1 || g.wo < 1 {
		return g, fmt.Errorf("conv2d of x %v with w %v, stride %d, padding %d: no output", x, w, stride, pad)
	}
	g.ckk, g.hw, g.chw, g.o = g.c*g.kh*g.kw, g.ho*g.wo, g.c*g.h*g.w, g.f*g.ho*g.wo
	return g, nil
}

// validCols returns the output columns [lo, hi) whose input column ox*stride - pad + j lies
// inside [0, W).
func (g *convGeom) validCols(j int) (lo, hi int) {
	lo = min(g.wo, max(0, (g.pad-j+g.stride-1)/g.stride))
	hi = min(g.wo, (g.w+g.pad-j+g.stride-1)/g.stride)
	return lo, max(lo, hi)
}

// im2col writes col [C*KH*KW, HO*WO] from one image x [C,H,W]: row (c,i,j) holds, for
// every output pixel, the input pixel under kernel tap (i,j) of channel c (0 in padding).
// Rows lie ld apart in col (HO*WO for one image; more when images sit side by side).
func im2col[T vmath.Float](col, x []T, g *convGeom, ld int) {
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
	switch {
	case dx > 0:
		for oy := oyLo; oy < oyHi; oy++ {
			clear(out[oy*w+w-dx : oy*w+w])
		}
	case dx < 0:
		for oy := oyLo; oy < oyHi; oy++ {
			clear(out[oy*w : oy*w-dx])
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

// dwGroups is the number of groups of images whose shares of dw are summed in order.
const dwGroups = 8

// minGemmCols is the fewest columns a convolution's GEMM gets: images whose output planes
// are small (7x7, 3x3) have their columns set side by side, so that one GEMM of 29 images'
// 3x3 planes replaces 29 GEMMs of 9 columns each.
const minGemmCols = 256

// convKernel computes a convolution with bias (or without: noBias, two inputs), NCHW, a
// group of images at a time as y_n [F,HO*WO] = w [F,CKK] x im2col(x_n) [CKK,HO*WO] + b,
// groups split across cores:
//
//	dx_n = col2im(w^T x dy_n),  dw = sum_n dy_n x im2col(x_n)^T,  db = sum_{n,p} dy_n[:,p].
//
// Float32 3x3 convolutions with padding 1 take package conv3's direct kernels instead where
// they apply (directFor): no im2col, one image at a time.
//
// The output can be finished in the same pass, y = ReLU(conv + b + r) for a residual r and a
// fused ReLU (either optional): no separate pass reads and writes it. The backward then
// starts from dy * [y > 0], which is also r's gradient.
type convKernel[T vmath.Float] struct {
	g           convGeom
	stride      int
	pad         int
	noBias      bool
	residual    bool      // a last input r [N,F,HO,WO] is added to the output
	relu        bool      // the output is max(., 0) of the sum
	group       int       // images per GEMM (1 unless planes are small)
	bufs        sync.Pool // *convBufs, one per running chunk
	parts       []T       // [dwGroups, F, CKK]: each group's share of dw
	x, w, y     []T
	dy, dx, dw  []T
	pass        int          // what Run does: passForward ... passFused
	flippedW    []T          // for dx of a same-padded stride-1 conv: w flipped, [C,F,KH,KW]
	flippedGeom convGeom     // its geometry: dy [N,F,H,W] * flippedW
	direct      *directConv  // the forward (or dx) without im2col, when it applies
	b           []T          // the bias (nil without)
	r           []T          // the residual (nil without)
	step        graphop.Step // the first gradient call of a step masks dy for all; the last step's calls forecast this one's
	dym         []T          // dy * [y > 0] (with relu)
	dbParts     []float64    // [N,F]: the sums of dym's planes, which the mask pass takes too
	fused       bool         // this step's dw came from the fused backward (pass 5)
	fusedDX     bool         // and its dx

	drTensor *tensor.Dense // the residual's gradient
	dr       []T           // its data

	yTensor, dxTensor  *tensor.Dense // the values returned, reused every step
	dwTensor, dbTensor *tensor.Dense
}

// The passes of convKernel.Run, and what its rows are in each.
const (
	passForward = iota // images (direct) or groups of k.group images
	passDX             // the same
	passDW             // the dwGroups groups of images
	passDB             // filters
	passMask           // images: dy through the ReLU, with db's plane sums and dr
	passFused          // the dwGroups groups: the whole backward (fusedBackward)
)

// convBufs is one chunk's scratch: the columns of a group of images and, for groups of
// more than one, their GEMM's output (or dy gathered) before it is scattered to NCHW.
// For the fused backward, dym holds a run of images' dy through the ReLU.
type convBufs[T vmath.Float] struct{ col, tmp, pad, dym []T }

func (k *convKernel[T]) buffers() *convBufs[T] {
	g := &k.g
	cols := k.group * g.hw
	nCol, nTmp := max(g.ckk, g.f*g.kh*g.kw)*cols, 0
	if k.group > 1 {
		nTmp = max(g.f, g.c) * cols
	}
	nPad, nDym := 0, 0
	if k.direct != nil {
		nPad = k.direct.paddedLen()
		if k.pass == passFused {
			nDym = k.direct.gradRun * g.o
		}
	}
	if b, ok := k.bufs.Get().(*convBufs[T]); ok && len(b.col) == nCol && len(b.tmp) == nTmp && len(b.pad) == nPad && len(b.dym) >= nDym {
		return b
	}
	return &convBufs[T]{col: make([]T, nCol), tmp: make([]T, nTmp), pad: make([]T, nPad), dym: make([]T, nDym)}
}

// convolveGroup writes dst_n [rows, HW] = w [rows, CKK] x im2col(src_n) for images
// [n0, n1) of src, NCHW in geometry g (dst's planes are g's output planes); with accumulate
// it adds to dst (which holds the bias) instead.
func convolveGroup[T vmath.Float](dst, src, w []T, rows int, g *convGeom, n0, n1 int, b *convBufs[T], accumulate bool) {
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

// Run does groups [lo, hi) of the current pass (groups of k.group images for the forward
// and dx, the dwGroups fixed groups for dw); parallel.For calls it.
func (k *convKernel[T]) Run(lo, hi int) {
	g := &k.g
	if k.pass == passDB { // rows are filters: db[f] = sum over images and pixels of dy[:, f]
		db := graphop.Slice[T](k.dbTensor)
		for f := lo; f < hi; f++ {
			var s float64
			for n := range g.n {
				s += planeSum(k.dy[n*g.o+f*g.hw:][:g.hw])
			}
			db[f] = T(s)
		}
		return
	}
	b := k.buffers()
	defer k.bufs.Put(b)
	if k.direct != nil && (k.pass == passForward || k.pass == passDX && k.direct.hasBackward()) { // rows are images
		pad := any(b.pad).([]float32)
		for n := lo; n < hi; n++ {
			if k.pass == passForward {
				e := conv3.Epilogue{Bias: any(k.b).([]float32), Add: any(k.r).([]float32), ReLU: k.relu}
				k.direct.forward(any(k.y).([]float32), any(k.x).([]float32), pad, n, e)
			} else {
				k.direct.backward(any(k.dx).([]float32), any(k.dy).([]float32), pad, n)
			}
		}
		return
	}
	switch k.pass {
	case passForward:
		k.initOutput(lo*k.group, min(g.n, hi*k.group))
		for grp := lo; grp < hi; grp++ {
			convolveGroup(k.y, k.x, k.w, g.f, g, grp*k.group, min(g.n, (grp+1)*k.group), b, !k.noBias)
			k.finish(grp*k.group, min(g.n, (grp+1)*k.group))
		}
	case passMask:
		k.maskGrad(lo, hi)
	case passFused:
		k.fusedBackward(lo, hi, b)
	case passDX:
		if k.flippedW != nil { // same-padded, stride 1: dx is a convolution of dy with the flipped kernel
			for grp := lo; grp < hi; grp++ {
				convolveGroup(k.dx, k.dy, k.flippedW, g.c, &k.flippedGeom, grp*k.group, min(g.n, (grp+1)*k.group), b, false)
			}
			return
		}
		for n := lo * k.group; n < min(g.n, hi*k.group); n++ {
			blas.Gemm(true, false, g.ckk, g.hw, g.f, 1, k.w, g.ckk, k.dy[n*g.o:(n+1)*g.o], g.hw, 0, b.col, g.hw)
			dx := k.dx[n*g.chw : (n+1)*g.chw]
			clear(dx)
			col2im(dx, b.col, g)
		}
	case passDW: // rows are groups of images; group i's share of dw goes to parts[i]
		for grp := lo; grp < hi; grp++ {
			part := k.parts[grp*g.f*g.ckk : (grp+1)*g.f*g.ckk]
			clear(part)
			end := (grp + 1) * g.n / dwGroups
			if k.direct != nil && k.direct.grad {
				for n := grp * g.n / dwGroups; n < end; n += k.direct.gradRun {
					k.direct.weightGrad(any(part).([]float32), any(k.dy).([]float32), any(k.x).([]float32), any(b.pad).([]float32), n, min(end, n+k.direct.gradRun))
				}
				continue
			}
			for n0 := grp * g.n / dwGroups; n0 < end; n0 += k.group {
				m := min(k.group, end-n0)
				ld := m * g.hw
				for i := range m {
					im2col(b.col[i*g.hw:], k.x[(n0+i)*g.chw:(n0+i+1)*g.chw], g, ld)
				}
				dy := k.dy[n0*g.o : (n0+1)*g.o]
				if m > 1 { // gather dy [m,F,HW] into [F, m*HW], the columns' order
					dy = b.tmp[:g.f*ld]
					for i := range m {
						for f := range g.f {
							copy(dy[f*ld+i*g.hw:][:g.hw], k.dy[(n0+i)*g.o+f*g.hw:][:g.hw])
						}
					}
				}
				blas.Gemm(false, true, g.f, g.ckk, ld, 1, dy, ld, b.col, ld, 1, part, g.ckk)
			}
		}
	}
}

// finish adds the residual to the outputs of images [n0, n1) and applies the ReLU, as the
// direct kernel's epilogue does.
func (k *convKernel[T]) finish(n0, n1 int) {
	y := k.y[n0*k.g.o : n1*k.g.o]
	if k.r != nil {
		for i, v := range k.r[n0*k.g.o : n1*k.g.o] {
			y[i] += v
		}
	}
	if k.relu {
		reluInto(y, y)
	}
}

// maskGrad writes, for images [n0, n1), dym = dy * [y > 0] (with the ReLU), the
// residual's gradient dr = dym and each plane's sum of dym (for db).
func (k *convKernel[T]) maskGrad(n0, n1 int) {
	for n := n0; n < n1; n++ { // an image at a time, so that the sums read it from cache
		dst := k.dy[n*k.g.o : (n+1)*k.g.o]
		if k.relu {
			dst = k.dym[n*k.g.o : (n+1)*k.g.o]
		}
		k.maskImage(n, dst)
	}
}

// maskImage writes image n's dy through the ReLU (if any) to dst [F,HO,WO] (which may be dy
// itself without one), copies it to the residual's gradient and sums its planes for db.
func (k *convKernel[T]) maskImage(n int, dst []T) {
	g := &k.g
	lo, hi := n*g.o, (n+1)*g.o
	if k.relu {
		reluGrad(dst, k.y[lo:hi], k.dy[lo:hi])
	} else if &dst[0] != &k.dy[lo] {
		copy(dst, k.dy[lo:hi])
	}
	if k.residual {
		copy(k.dr[lo:hi], dst)
	}
	if !k.noBias {
		for f := range g.f {
			k.dbParts[n*g.f+f] = planeSum(dst[f*g.hw : (f+1)*g.hw])
		}
	}
}

// fusedBackward does dw groups [lo, hi) of the fused backward: for each run of images (at
// most the weight gradient kernel's), their dy through the ReLU into scratch (with dr and
// the planes' sums), dx image by image from it (if fusedDX), and the run's share of dw,
// while the scratch is in cache. The separate passes each read dy (or dym) from memory again.
func (k *convKernel[T]) fusedBackward(lo, hi int, b *convBufs[T]) {
	g, d := &k.g, k.direct
	dx, x, pad := any(k.dx).([]float32), any(k.x).([]float32), any(b.pad).([]float32)
	for grp := lo; grp < hi; grp++ {
		part := any(k.parts[grp*g.f*g.ckk : (grp+1)*g.f*g.ckk]).([]float32)
		clear(part)
		end := (grp + 1) * g.n / dwGroups
		for n0 := grp * g.n / dwGroups; n0 < end; n0 += d.gradRun {
			n1 := min(end, n0+d.gradRun)
			run := b.dym[:(n1-n0)*g.o]
			for n := n0; n < n1; n++ {
				k.maskImage(n, run[(n-n0)*g.o:(n-n0+1)*g.o])
			}
			dyRun := any(run).([]float32)
			for n := n0; n < n1 && k.fusedDX; n++ {
				d.backwardImage(dx[n*d.in:(n+1)*d.in], dyRun[(n-n0)*d.out:(n-n0+1)*d.out], pad)
			}
			d.weightGradRun(part, dyRun, x, pad, n0, n1)
		}
	}
}

// initOutput sets the outputs of images [n0, n1) to the bias (if any), for the convolution
// to be added.
func (k *convKernel[T]) initOutput(n0, n1 int) {
	g := &k.g
	if k.b == nil {
		return
	}
	for n := n0; n < n1; n++ {
		for f, v := range k.b {
			fill(k.y[n*g.o+f*g.hw:][:g.hw], v)
		}
	}
}

// planeSum returns the sum of s in float64 (vmath.Sum32 for float32: an AVX-512 kernel in
// that build; in four running sums otherwise, as one running sum waits on every addition:
// the bias gradients took 8% of resnet-tiny's training step that way).
func planeSum[T vmath.Float](s []T) float64 {
	if s32, ok := any(s).([]float32); ok {
		return vmath.Sum32(s32)
	}
	var sum float64
	for _, v := range s {
		sum += float64(v)
	}
	return sum
}

// fill sets s to v, doubling a filled prefix by copies.
func fill[T vmath.Float](s []T, v T) {
	if len(s) == 0 {
		return
	}
	s[0] = v
	for done := 1; done < len(s); done *= 2 {
		copy(s[done:], s[:done])
	}
}

func (k *convKernel[T]) String() string {
	return fmt.Sprintf("xent.Conv2d{stride=%d pad=%d nobias=%v residual=%v relu=%v}", k.stride, k.pad, k.noBias, k.residual, k.relu)
}

func (k *convKernel[T]) Types() ([]hm.Type, hm.Type) {
	in := []hm.Type{graphop.Tensor4A, graphop.Tensor4A}
	if !k.noBias {
		in = append(in, graphop.VectorA)
	}
	if k.residual {
		in = append(in, graphop.Tensor4A)
	}
	return in, graphop.Tensor4A
}

func (k *convKernel[T]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	g, err := newConvGeom(in[0], in[1], k.stride, k.pad)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{g.n, g.f, g.ho, g.wo}, nil
}

func (k *convKernel[T]) DiffWRT() []bool {
	in, _ := k.Types()
	d := make([]bool, len(in))
	for i := range d {
		d[i] = true
	}
	return d
}

// bind reads the inputs (and, for a backward pass, the upstream gradient).
func (k *convKernel[T]) bind(in []gorgonia.Value, grad gorgonia.Value) (b []T, err error) {
	xs, ws := in[0].Shape(), in[1].Shape()
	if k.g, err = newConvGeom(xs, ws, k.stride, k.pad); err != nil {
		return nil, err
	}
	k.group = max(1, min(k.g.n, (minGemmCols+k.g.hw-1)/k.g.hw))
	if k.direct, err = directFor[T](k.direct, &k.g); err != nil {
		return nil, err
	}
	if k.x, err = graphop.Data[T](in[0], "conv input"); err != nil {
		return nil, err
	}
	if k.w, err = graphop.Data[T](in[1], "conv weight"); err != nil {
		return nil, err
	}
	if !k.noBias {
		if b, err = graphop.Data[T](in[2], "conv bias"); err != nil {
			return nil, err
		}
	}
	k.r = nil
	if k.residual {
		if k.r, err = graphop.Data[T](in[k.residualInput()], "conv residual"); err != nil {
			return nil, err
		}
		if len(k.r) != k.g.n*k.g.o {
			return nil, fmt.Errorf("conv residual of %d values for an output of %d", len(k.r), k.g.n*k.g.o)
		}
	}
	if grad != nil {
		k.dy, err = graphop.Data[T](grad, "conv output gradient")
	}
	return b, err
}

// residualInput is the residual's index among the inputs.
func (k *convKernel[T]) residualInput() int {
	if k.noBias {
		return 2
	}
	return 3
}

func (k *convKernel[T]) Forward(in []gorgonia.Value) (gorgonia.Value, error) {
	b, err := k.bind(in, nil)
	if err != nil {
		return nil, err
	}
	g := &k.g
	k.yTensor = graphop.Reused[T](k.yTensor, g.n, g.f, g.ho, g.wo)
	k.y = graphop.Slice[T](k.yTensor)
	k.b = b
	k.pass = passForward
	k.step.Forward()
	if k.direct != nil {
		k.direct.packForward(any(k.w).([]float32))
		parallel.For(g.n, 1, k)
		return k.yTensor, nil
	}
	parallel.For((g.n+k.group-1)/k.group, 1, k)
	return k.yTensor, nil
}

func (k *convKernel[T]) Backward(wrt int, in []gorgonia.Value, _, grad gorgonia.Value) (gorgonia.Value, error) {
	if _, err := k.bind(in, grad); err != nil {
		return nil, err
	}
	g := &k.g
	first := k.step.Backward(wrt)
	if k.relu || k.residual {
		if first { // the first gradient of this step: dy through the ReLU, once
			if k.residual {
				k.drTensor = graphop.Reused[T](k.drTensor, g.n, g.f, g.ho, g.wo)
				k.dr = graphop.Slice[T](k.drTensor)
			}
			if !k.noBias && len(k.dbParts) != g.n*g.f {
				k.dbParts = make([]float64, g.n*g.f)
			}
			// dw asked for in the last step (the graph asks the same each step): all of the
			// backward, dx too if it was asked for, in one pass over the images
			k.fused = k.direct != nil && k.direct.grad && k.step.Wanted(1) && (k.direct.hasBackward() || !k.step.Wanted(0))
			k.fusedDX = k.fused && k.step.Wanted(0)
			if k.fused {
				if k.fusedDX {
					k.prepareDX()
				}
				k.prepareDW()
				k.dym = nil // the separate passes' buffer, which the first step needed
				k.pass = passFused
				parallel.For(dwGroups, 1, k)
				k.sumParts()
			} else {
				if k.relu && len(k.dym) != len(k.dy) {
					k.dym = make([]T, len(k.dy))
				}
				k.pass = passMask
				parallel.For(g.n, 1, k)
			}
		}
		if k.relu {
			k.dy = k.dym
		}
		if k.residual && wrt == k.residualInput() {
			return k.drTensor, nil
		}
		if k.fusedDX && wrt == 0 {
			return k.dxTensor, nil
		}
		if k.fused && wrt == 1 {
			return k.dwTensor, nil
		}
	}
	switch wrt {
	case 0:
		k.prepareDX()
		k.pass = passDX
		if k.direct != nil && k.direct.hasBackward() {
			parallel.For(g.n, 1, k)
			return k.dxTensor, nil
		}
		parallel.For((g.n+k.group-1)/k.group, 1, k)
		return k.dxTensor, nil
	case 1:
		k.prepareDW()
		k.pass = passDW
		parallel.For(dwGroups, 1, k)
		k.sumParts()
		return k.dwTensor, nil
	}
	k.dbTensor = graphop.Reused[T](k.dbTensor, g.f)
	if k.relu || k.residual { // the mask pass summed the planes: add them up, image by image
		db := graphop.Slice[T](k.dbTensor)
		for f := range g.f {
			var sum float64
			for n := range g.n {
				sum += k.dbParts[n*g.f+f]
			}
			db[f] = T(sum)
		}
		return k.dbTensor, nil
	}
	k.pass = passDB
	parallel.For(g.f, 1, k)
	return k.dbTensor, nil
}

// prepareDX readies dx's tensor and the kernel it takes: flipped for a stride-1 dx, packed
// for the direct one.
func (k *convKernel[T]) prepareDX() {
	g := &k.g
	k.dxTensor = graphop.Reused[T](k.dxTensor, g.n, g.c, g.h, g.w)
	k.dx = graphop.Slice[T](k.dxTensor)
	k.flipKernel()
	if k.direct != nil && k.direct.hasBackward() {
		k.direct.packBackward(any(k.w).([]float32), any(k.flippedW).([]float32))
	}
}

// prepareDW readies dw's tensor and the groups' shares: dw sums over images in a fixed
// grouping and order, whatever the number of cores, so that training is bit-for-bit
// reproducible (and resumable).
func (k *convKernel[T]) prepareDW() {
	g := &k.g
	k.dwTensor = graphop.Reused[T](k.dwTensor, g.f, g.c, g.kh, g.kw)
	k.dw = graphop.Slice[T](k.dwTensor)
	if len(k.parts) != dwGroups*g.f*g.ckk {
		k.parts = make([]T, dwGroups*g.f*g.ckk)
	}
}

// sumParts writes dw = the groups' shares in order.
func (k *convKernel[T]) sumParts() {
	n := k.g.f * k.g.ckk
	copy(k.dw, k.parts[:n])
	for grp := 1; grp < dwGroups; grp++ {
		for i, v := range k.parts[grp*n : (grp+1)*n] {
			k.dw[i] += v
		}
	}
}

// flipKernel prepares the dx of a same-padded stride-1 convolution (odd square kernel, pad
// (K-1)/2) as the convolution of dy with w rotated by 180 degrees and its
// channels swapped: one im2col of dy (a shifted copy per tap) and a GEMM of depth F*K*K,
// instead of a GEMM of depth F (16 in resnet-tiny's first stage) and a col2im. Otherwise it
// sets wt to nil and dx takes the col2im path.
func (k *convKernel[T]) flipKernel() {
	g := &k.g
	if g.stride != 1 || g.kh != g.kw || g.kh%2 == 0 || g.pad != g.kh/2 {
		k.flippedW = nil
		return
	}
	if len(k.flippedW) != len(k.w) {
		k.flippedW = make([]T, len(k.w))
	}
	kk := g.kh * g.kw
	for f := range g.f {
		for c := range g.c {
			src, dst := k.w[(f*g.c+c)*kk:][:kk], k.flippedW[(c*g.f+f)*kk:][:kk]
			for t := range kk {
				dst[t] = src[kk-1-t]
			}
		}
	}
	k.flippedGeom, _ = newConvGeom(tensor.Shape{g.n, g.f, g.ho, g.wo}, tensor.Shape{g.c, g.f, g.kh, g.kw}, 1, g.pad)
}

// conv2d adds a convolution node: x [N,C,H,W], w [F,C,KH,KW], b [F] or nil for none.
func conv2d(x, w, b *gorgonia.Node, stride, pad int) (*gorgonia.Node, error) {
	return convFused(x, w, b, nil, stride, pad, false)
}

// convFused adds a convolution node whose output is finished in its own pass: plus r
// [N,F,HO,WO] unless nil (a residual), then max(., 0) if relu.
func convFused(x, w, b, r *gorgonia.Node, stride, pad int, relu bool) (*gorgonia.Node, error) {
	var k graphop.Kernel
	if x.Dtype() == tensor.Float64 {
		k = &convKernel[float64]{stride: stride, pad: pad, noBias: b == nil, residual: r != nil, relu: relu}
	} else {
		k = &convKernel[float32]{stride: stride, pad: pad, noBias: b == nil, residual: r != nil, relu: relu}
	}
	in := []*gorgonia.Node{x, w}
	if b != nil {
		in = append(in, b)
	}
	if r != nil {
		in = append(in, r)
	}
	return graphop.Apply(k, in...)
}
