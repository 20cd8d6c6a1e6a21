package train

import (
	"encoding/json"
	"testing"
)

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
