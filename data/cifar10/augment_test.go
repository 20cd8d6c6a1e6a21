package cifar10

import "testing"

func TestMirror(t *testing.T) {
	img := make([]float32, 2*3*32*32)
	for i := range img {
		img[i] = float32(i)
	}
	m := append([]float32(nil), img...)
	Mirror(m)
	for row := 0; row < len(img); row += 32 {
		for x := range 32 {
			if m[row+x] != img[row+31-x] {
				t.Fatalf("row %d column %d = %v, want %v", row/32, x, m[row+x], img[row+31-x])
			}
		}
	}
	Mirror(m)
	for i := range m {
		if m[i] != img[i] {
			t.Fatalf("mirroring twice changed element %d", i)
		}
	}
}

// Shift by 1 and -1 is the crop at (0, 0) and (2, 2) of the image reflect-padded by one
// pixel: the training crops' code, and PyTorch's F.pad(x, (1,)*4, "reflect")[..., 0:32, 0:32]
// and [..., 2:34, 2:34], airbench94's translated views.
func TestShiftIsAReflectPaddedCrop(t *testing.T) {
	var src [ImageSize]byte
	img := make([]float32, ImageSize)
	for i := range src {
		src[i] = byte(i*7 + i/32)
		img[i] = float32(src[i])
	}
	norm := newNormTable([3]float32{}, [3]float32{1, 1, 1})
	want, got := make([]float32, ImageSize), make([]float32, ImageSize)
	for _, c := range []struct{ d, offset int }{{1, 0}, {-1, 2}, {0, 1}} {
		augment(want, src[:], norm, 1, c.offset, c.offset, false, PadReflect)
		Shift(got, img, c.d)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("Shift %d: element %d = %v, the padded crop at %d gives %v", c.d, i, got[i], c.offset, want[i])
			}
		}
	}
}
