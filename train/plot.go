package train

import (
	"fmt"
	"math"

	"gonum.org/v1/plot/plotter"

	"example.com/xent/internal/curves"
)

// writePlot draws the loss (bits) and accuracy curves per epoch side by side into a PNG,
// the training split's solid and the evaluation split's (test, or val with -val) dashed, at
// the epochs evaluated.
func writePlot(path string, ms []EpochMetrics) error {
	curve := func(f func(EpochMetrics) float64, evaluated bool) plotter.XYs {
		var xy plotter.XYs
		for _, m := range ms {
			if !evaluated || !m.Unevaluated {
				xy = append(xy, plotter.XY{X: float64(m.Epoch), Y: f(m)})
			}
		}
		return xy
	}
	split := ms[len(ms)-1].Split
	err := curves.Write(path,
		curves.Panel{Title: "loss (bits)", X: "epoch", Lines: []curves.Line{
			{Name: "train", XY: curve(func(m EpochMetrics) float64 { return m.TrainLoss / math.Ln2 }, false)},
			{Name: split, XY: curve(func(m EpochMetrics) float64 { return m.TestLossBits }, true), Dashed: true},
		}},
		curves.Panel{Title: "accuracy", X: "epoch", LegendLeft: true, Lines: []curves.Line{
			{Name: "train", XY: curve(func(m EpochMetrics) float64 { return m.TrainAcc }, false)},
			{Name: split, XY: curve(func(m EpochMetrics) float64 { return m.TestAcc }, true), Dashed: true},
		}})
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}
