package cifar10

import "slices"

// Padding says what a random crop sees outside the image.
type Padding int

const (
	// PadZero pads with black pixels (value 0, before normalisation), as torchvision's
	// RandomCrop(32, padding=4) does on an image.
	PadZero Padding = iota
	// PadReflect mirrors the image at its border without repeating the edge pixel
	// (index -1 reads 1), as torchvision's padding_mode="reflect".
	PadReflect
)

// Flip says how images are mirrored left to right.
type Flip int

const (
	// NoFlip leaves images as they are.
	NoFlip Flip = iota
	// RandomFlip mirrors each image with probability 1/2, drawn anew every epoch.
	RandomFlip
	// AlternatingFlip (airbench's derandomised flip) mirrors a random half of the images
	// in even epochs and exactly the other half in odd epochs, so that every image is seen
	// both ways every two epochs.
	AlternatingFlip
)

// normTable maps a pixel byte of each channel to its normalised value (v - mean)/std.
type normTable [Channels][256]float32

func newNormTable(mean, std [Channels]float32) *normTable {
	var t normTable
	for c := range Channels {
		for v := range 256 {
			t[c][v] = (float32(v) - mean[c]) / std[c]
		}
	}
	return &t
}

// augment writes one image into dst [3,32,32] float32: the 32x32 window at offset
// (dy, dx) of src [3,32,32] bytes padded by pad pixels on every side, mirrored left to right
// if flip, and normalised through t. dy = dx = pad with flip false is the image itself.
func augment(dst []float32, src []byte, t *normTable, pad, dy, dx int, flip bool, mode Padding) {
	for c := range Channels {
		plane, out, lut := src[c*PlaneSize:(c+1)*PlaneSize], dst[c*PlaneSize:(c+1)*PlaneSize], &t[c]
		for y := range Height {
			row := out[y*Width : (y+1)*Width]
			sy := y + dy - pad
			if sy < 0 || sy >= Height {
				if mode == PadZero {
					for x := range row {
						row[x] = lut[0]
					}
					continue
				}
				sy = reflect(sy)
			}
			srcRow := plane[sy*Width : (sy+1)*Width]
			for x := range row {
				xx := x
				if flip {
					xx = Width - 1 - x
				}
				sx := xx + dx - pad
				switch {
				case sx >= 0 && sx < Width:
					row[x] = lut[srcRow[sx]]
				case mode == PadZero:
					row[x] = lut[0]
				default:
					row[x] = lut[srcRow[reflect(sx)]]
				}
			}
		}
	}
}

// reflect maps an index outside [0, 32) back inside by mirroring at 0 and 31 without
// repeating the edge: -1 -> 1, 32 -> 30. Valid for paddings up to 31.
func reflect(i int) int {
	if i < 0 {
		return -i
	}
	return 2*(Width-1) - i
}

// Mirror flips normalised images [n,3,32,32] left to right in place: the second view of
// flip test-time augmentation (train's evaluation and predict's WithFlip).
func Mirror(images []float32) {
	for row := 0; row < len(images); row += Width {
		slices.Reverse(images[row : row+Width])
	}
}

// Shift writes into dst the normalised images src [n,3,32,32] moved by d pixels down and
// right (d < 0: up and left), reflecting at the borders as a crop of the reflect-padded
// image does: dst[y][x] = src[reflect(y-d)][reflect(x-d)], for |d| <= 31. The two
// translated views of airbench94's test-time augmentation (its level 2) are d = 1 and -1.
func Shift(dst, src []float32, d int) {
	at := func(i int) int {
		if i < 0 || i >= Width {
			return reflect(i)
		}
		return i
	}
	for p := 0; p < len(src); p += Height * Width {
		in, out := src[p:p+Height*Width], dst[p:p+Height*Width]
		for y := range Height {
			row, srcRow := out[y*Width:(y+1)*Width], in[at(y-d)*Width:][:Width]
			for x := range row {
				row[x] = srcRow[at(x-d)]
			}
		}
	}
}
