package vmath

// MaxPool2x2 pools one plane x [2*HO rows of W] into y [HO,WO] (WO = W/2, HO <= H/2), taking
// each 2x2 window's max and writing the flat index in x of where it was into arg [HO,WO].
// Ties go to the top row, then to the left column. The AVX-512 build does 16 columns a step.
func MaxPool2x2(y []float32, arg []int32, x []float32, w, ho, wo int) {
	if len(y) < ho*wo || len(arg) < ho*wo || len(x) < 2*ho*w || wo > w/2 {
		panic("vmath: MaxPool2x2 sizes do not fit")
	}
	maxPool2x2(y, arg, x, w, ho, wo)
}

var maxPool2x2 = maxPool2x2Go

func maxPool2x2Go(y []float32, arg []int32, x []float32, w, ho, wo int) {
	for oy := range ho {
		r0, r1 := 2*oy*w, (2*oy+1)*w
		for ox := range wo {
			c := 2 * ox
			i0, i1 := r0+c, r0+c+1 // the winner of each column, top row unless the bottom is greater
			if x[r1+c] > x[i0] {
				i0 = r1 + c
			}
			if x[r1+c+1] > x[i1] {
				i1 = r1 + c + 1
			}
			if x[i1] > x[i0] {
				i0 = i1
			}
			y[oy*wo+ox], arg[oy*wo+ox] = x[i0], int32(i0)
		}
	}
}

// MaxPool2x2Grad writes the gradient dx of one plane [H,W] of MaxPool2x2's input from the
// gradient dy [HO,WO] of its output and the positions arg [HO,WO] it recorded: dx[arg[o]]
// = dy[o], zero elsewhere (2x2 windows with stride 2 do not overlap). Every element of
// dx[:h*w] is written, so dx need not be cleared first; nothing past it is.
func MaxPool2x2Grad(dx, dy []float32, arg []int32, w, h, ho, wo int) {
	if len(dx) < h*w || len(dy) < ho*wo || len(arg) < ho*wo || wo > w/2 || ho > h/2 {
		panic("vmath: MaxPool2x2Grad sizes do not fit")
	}
	maxPool2x2Grad(dx[:h*w], dy[:ho*wo], arg[:ho*wo], w, ho, wo)
}

var maxPool2x2Grad = maxPool2x2GradGo

func maxPool2x2GradGo(dx, dy []float32, arg []int32, w, ho, wo int) {
	clear(dx)
	for o, i := range arg[:ho*wo] {
		dx[i] = dy[o]
	}
}
