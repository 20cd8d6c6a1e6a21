package vmath

// Max pools over planes in the lanes layout: 16 images side by side, pixel by pixel, a plane
// [H][W][16] (see internal/winograd's lanes.go). A window's max is taken lane by lane, and
// its position recorded as 0 (top left), 1 (top right), 2 (bottom left) or 3 (bottom right).

// LaneCount is the images side by side in the lanes layout.
const LaneCount = 16

// MaxPoolLanes2x2 pools one plane x [2*HO rows of W][16] into y [HO][WO][16] (WO <= W/2),
// each lane's 2x2 window's max, with its position in the window in arg [HO][WO][16]. Ties
// as MaxPool2x2: each column's top unless its bottom is greater, then the left column's
// unless the right's is greater. The AVX-512 build does a pixel's 16 lanes a step.
func MaxPoolLanes2x2(y []float32, arg []int32, x []float32, w, ho, wo int) {
	const l = LaneCount
	if len(y) < ho*wo*l || len(arg) < ho*wo*l || len(x) < 2*ho*w*l || wo > w/2 {
		panic("vmath: MaxPoolLanes2x2 sizes do not fit")
	}
	maxPoolLanes2x2(y, arg, x, w, ho, wo)
}

var maxPoolLanes2x2 = maxPoolLanes2x2Go

func maxPoolLanes2x2Go(y []float32, arg []int32, x []float32, w, ho, wo int) {
	const l = LaneCount
	for oy := range ho {
		for ox := range wo {
			tl := (2*oy*w + 2*ox) * l
			tr, bl, br := tl+l, tl+w*l, tl+w*l+l
			o := (oy*wo + ox) * l
			for n := range l {
				v0, i0 := x[tl+n], int32(0) // the left column's winner
				if x[bl+n] > v0 {
					v0, i0 = x[bl+n], 2
				}
				v1, i1 := x[tr+n], int32(1) // the right column's
				if x[br+n] > v1 {
					v1, i1 = x[br+n], 3
				}
				if v1 > v0 {
					v0, i0 = v1, i1
				}
				y[o+n], arg[o+n] = v0, i0
			}
		}
	}
}

// MaxPoolLanes2x2Grad writes the gradient dx [H][W][16] of one plane of MaxPoolLanes2x2's
// input from its output's gradient dy [HO][WO][16] and the positions arg it recorded: each
// lane's dy at its window's max, zero elsewhere. Every element of dx[:H*W*16] is written.
func MaxPoolLanes2x2Grad(dx, dy []float32, arg []int32, w, h, ho, wo int) {
	const l = LaneCount
	if len(dx) < h*w*l || len(dy) < ho*wo*l || len(arg) < ho*wo*l || wo > w/2 || ho > h/2 {
		panic("vmath: MaxPoolLanes2x2Grad sizes do not fit")
	}
	maxPoolLanes2x2Grad(dx[:h*w*l], dy, arg, w, ho, wo)
	for oy := range ho { // the columns past the windows
		for r := 2 * oy; r < 2*oy+2; r++ {
			clear(dx[(r*w+2*wo)*l : (r+1)*w*l])
		}
	}
	clear(dx[2*ho*w*l:]) // the rows past them
}

var maxPoolLanes2x2Grad = maxPoolLanes2x2GradGo

// maxPoolLanes2x2GradGo writes the windows' four pixels of every lane.
func maxPoolLanes2x2GradGo(dx, dy []float32, arg []int32, w, ho, wo int) {
	const l = LaneCount
	for oy := range ho {
		for ox := range wo {
			tl := (2*oy*w + 2*ox) * l
			at := [4]int{tl, tl + l, tl + w*l, tl + w*l + l}
			o := (oy*wo + ox) * l
			for n := range l {
				for q, i := range at {
					g := float32(0)
					if arg[o+n] == int32(q) {
						g = dy[o+n]
					}
					dx[i+n] = g
				}
			}
		}
	}
}
