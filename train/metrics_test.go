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
		if err := json.Unmarshal(b, &back); err != nil || back.TestAcc != 0.5 || back.TestLoss != 1.25 || back.TestLossBits != 1.8 || len(back.PerClass) != 1 || back.Epoch != 2 || back.Unevaluated {
			t.Errorf("split %s: read back %+v, %v", split, back, err)
		}
		// an epoch without an evaluation (-eval-every): no test_*, val_* or ece keys
		b, _ = json.Marshal(EpochMetrics{Epoch: 1, TrainAcc: 0.25, Split: split, Unevaluated: true})
		clear(keys)
		json.Unmarshal(b, &keys)
		for _, k := range []string{"test_acc", "val_acc", "test_loss", "val_loss", "ece", "test_acc_per_class", "val_acc_per_class"} {
			if _, ok := keys[k]; ok {
				t.Errorf("split %s: an unevaluated epoch's line has %s: %s", split, k, b)
			}
		}
		if err := json.Unmarshal(b, &back); err != nil || !back.Unevaluated || back.TrainAcc != 0.25 {
			t.Errorf("split %s: unevaluated line read back %+v, %v", split, back, err)
		}
	}
}
