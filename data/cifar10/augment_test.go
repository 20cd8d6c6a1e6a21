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
