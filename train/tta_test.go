package train

import (
	"encoding/json"
	"testing"
)

func TestMirror(t *testing.T) {
	img := make([]float32, 2*3*32*32)
	for i := range img {
		img[i] = float32(i)
	}
	m := append([]float32(nil), img...)
	mirror(m)
	for row := 0; row < len(img); row += 32 {
		for x := range 32 {
			if m[row+x] != img[row+31-x] {
				t.Fatalf("row %d column %d = %v, want %v", row/32, x, m[row+x], img[row+31-x])
			}
		}
	}
	mirror(m)
	for i := range m {
		if m[i] != img[i] {
			t.Fatalf("mirroring twice changed element %d", i)
		}
	}
}

// A test-split line keeps its test_* keys and reads back unchanged.
func TestMetricsKeys(t *testing.T) {
	for _, split := range []string{"test", "val"} {
		m := EpochMetrics{Epoch: 2, TestAcc: 0.5, TestLoss: 1.25, TestLossBits: 1.8, PerClass: []float64{0.5}, Split: split}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var keys map[string]any
		json.Unmarshal(b, &keys)
		_, hasTest := keys["test_acc"]
		_, hasVal := keys["val_acc"]
		if hasTest != (split == "test") || hasVal != (split == "val") {
			t.Errorf("split %s: keys %v", split, keys)
		}
		var back EpochMetrics
		if err := json.Unmarshal(b, &back); err != nil || back.TestAcc != 0.5 || back.TestLoss != 1.25 || back.TestLossBits != 1.8 || len(back.PerClass) != 1 || back.Epoch != 2 {
			t.Errorf("split %s: read back %+v, %v", split, back, err)
		}
	}
}
