package train

import (
	"errors"
	"math"
	"strings"
	"testing"

	"example.com/xent/data/cifar10"
)

// The divergence criterion: the median of the last guardWindow losses above 10 x log K.
func TestDivergenceCriterion(t *testing.T) {
	limit := guardFactor * math.Log(10) // 23.0 nats
	rep := func(v float64, n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = v
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		losses []float64
		total  int // steps of the run
		stops  bool
	}{
		{"learning", []float64{2.3, 2.1, 1.9, 1.8, 1.7, 1.6, 1.5, 1.5, 1.4, 1.3, 1.2}, 100, false},
		{"exploded", append(rep(2.3, 5), rep(4e9, 10)...), 100, true},
		{"one bad batch in ten", append(rep(2.3, 9), 1e6), 100, false},
		{"half the window above", append(rep(2.3, 5), rep(30, 5)...), 100, false},
		{"most of the window above", append(rep(2.3, 4), rep(30, 6)...), 100, true},
		{"just below the limit", rep(limit*0.99, 20), 100, false},
		{"window not yet full", rep(1e9, guardWindow-1), 100, false},
		{"a run shorter than the window", rep(1e9, 4), 4, true},
		{"high but not ten times guessing", rep(8, 30), 100, false},
	} {
		r := &runner{data: &cifar10.Dataset{Classes: make([]string, 10)}, cfg: Config{LR: 0.5}}
		var err error
		for _, l := range tc.losses {
			r.st.Step++
			r.noteLoss(l)
			if err = r.checkDivergence(tc.total, &cifar10.Batch{}); err != nil {
				break
			}
		}
		if (err != nil) != tc.stops {
			t.Errorf("%s: err = %v, want a stop: %v", tc.name, err, tc.stops)
		}
		if err != nil && (!errors.Is(err, ErrDiverged) || !strings.Contains(err.Error(), "-lr (this run's is 0.5)")) {
			t.Errorf("%s: err = %v, want ErrDiverged naming -lr", tc.name, err)
		}
		if len(r.st.Recent) > guardWindow {
			t.Errorf("%s: the window holds %d losses", tc.name, len(r.st.Recent))
		}
	}
}
