package model_test

import (
	"math"
	"testing"
)

// A frozen whitening bias (Param.Frozen) gets a zero gradient, its path back skipped
// (the first convolution's dx is zero, not computed), while every other gradient, the
// loss and the logits keep their bits; thawed, the bias gets its gradient again. On a
// batch in the lanes layout (32) and one in NCHW (11).
func TestFrozenWhiteningBias(t *testing.T) {
	for _, n := range []int{32, 11} {
		images, labels := randomBatch(n, 13)
		m := newMachines(t, "airbench-64-64-64", true, images, labels)
		m.lr = 0
		bias := m.net.Params.Get("whiten.bias")
		at := -1 // the bias's gradient among the step's values (the loss and the logits first)
		for i, p := range m.net.Trainable() {
			if p == bias {
				at = 2 + i
			}
		}
		if at < 0 {
			t.Fatal("no trainable whiten.bias")
		}
		want := m.step(t)
		bias.Frozen = true
		frozen := m.step(t)
		bias.Frozen = false
		thawed := m.step(t)
		for i := range want {
			for j := range want[i] {
				if math.Float32bits(thawed[i][j]) != math.Float32bits(want[i][j]) {
					t.Fatalf("batch %d: value %d [%d] = %v thawed, %v before", n, i, j, thawed[i][j], want[i][j])
				}
				if i == at {
					if frozen[i][j] != 0 {
						t.Fatalf("batch %d: frozen whiten.bias gradient [%d] = %v, want 0", n, j, frozen[i][j])
					}
					continue
				}
				if math.Float32bits(frozen[i][j]) != math.Float32bits(want[i][j]) {
					t.Fatalf("batch %d: value %d [%d] = %v with the bias frozen, %v without", n, i, j, frozen[i][j], want[i][j])
				}
			}
		}
		nonzero := false
		for _, v := range want[at] {
			nonzero = nonzero || v != 0
		}
		if !nonzero {
			t.Fatalf("batch %d: whiten.bias's gradient is zero unfrozen: the test shows nothing", n)
		}
	}
}
