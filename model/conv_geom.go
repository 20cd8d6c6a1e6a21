package model

import (
	"fmt"

	"gorgonia.org/tensor"

	"example.com/xent/internal/vmath"
)

// convGeom is the shape of a 2-D convolution: x [N,C,H,W] * w [F,C,KH,KW] -> y [N,F,HO,WO]
// with HO = (H + 2*Pad - KH)/Stride + 1 (and WO likewise). It is the one value every
// convolution algorithm (convAlgorithm) is told.
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

// perImage returns g for one image: what plans and packed weights depend on, so that a
// batch of another size can reuse them.
func (g convGeom) perImage() convGeom {
	g.n = 1
	return g
}

// validCols returns the output columns [lo, hi) whose input column ox*stride - pad + j lies
// inside [0, W).
func (g *convGeom) validCols(j int) (lo, hi int) {
	lo = min(g.wo, max(0, (g.pad-j+g.stride-1)/g.stride))
	hi = min(g.wo, (g.w+g.pad-j+g.stride-1)/g.stride)
	return lo, max(lo, hi)
}

// samePadded reports whether the convolution keeps the plane (stride 1, an odd square
// kernel, padding (K-1)/2): then its dx is the convolution of dy with flipped(w).
func (g *convGeom) samePadded() bool {
	return g.stride == 1 && g.kh == g.kw && g.kh%2 == 1 && g.pad == g.kh/2
}

// flipped writes wt [C,F,KH,KW] = w [F,C,KH,KW] rotated by 180 degrees with its channels
// swapped, and returns the geometry of dx = dy * wt for a same-padded convolution.
func flipped[T vmath.Float](wt, w []T, g *convGeom) convGeom {
	kk := g.kh * g.kw
	for f := range g.f {
		for c := range g.c {
			src, dst := w[(f*g.c+c)*kk:][:kk], wt[(c*g.f+f)*kk:][:kk]
			for t := range kk {
				dst[t] = src[kk-1-t]
			}
		}
	}
	dxGeom, _ := newConvGeom(tensor.Shape{g.n, g.f, g.ho, g.wo}, tensor.Shape{g.c, g.f, g.kh, g.kw}, 1, g.pad)
	return dxGeom
}

// dwGroups is the number of groups of images whose shares of dw are summed in order: dw
// sums over images in a fixed grouping and order, whatever the number of cores, so that
// training is bit for bit reproducible (and resumable).
const dwGroups = 8

// dwGroup returns the images [n0, n1) of dw group grp in a batch of n.
func dwGroup(grp, n int) (n0, n1 int) { return grp * n / dwGroups, (grp + 1) * n / dwGroups }

// sumGroups writes dw [size] = the groups' shares parts [dwGroups, size], in order.
func sumGroups[T vmath.Float](dw, parts []T) {
	n := len(dw)
	copy(dw, parts[:n])
	for grp := 1; grp < dwGroups; grp++ {
		for i, v := range parts[grp*n : (grp+1)*n] {
			dw[i] += v
		}
	}
}

// columnTotals writes out[j] = the sum of column j of parts [rows][len(out)], adding the
// rows in order (as a loop down each column would) but reading them in memory order.
func columnTotals(out, parts []float64, rows int) {
	clear(out)
	for r := range rows {
		for j, v := range parts[r*len(out):][:len(out)] {
			out[j] += v
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
