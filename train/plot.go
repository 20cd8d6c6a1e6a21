package train

import (
	"fmt"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"xent/internal/atomicfile"
)

// writePlot draws the loss (bits) and accuracy curves per epoch side by side into a PNG,
// written atomically.
func writePlot(path string, ms []EpochMetrics) error {
	lossPlot, accPlot := plot.New(), plot.New()
	lossPlot.Title.Text, accPlot.Title.Text = "loss (bits)", "accuracy"
	lossPlot.X.Label.Text, accPlot.X.Label.Text = "epoch", "epoch"
	lossPlot.Legend.Top, accPlot.Legend.Left = true, true
	curve := func(f func(EpochMetrics) float64) plotter.XYs {
		xy := make(plotter.XYs, len(ms))
		for i, m := range ms {
			xy[i].X, xy[i].Y = float64(m.Epoch), f(m)
		}
		return xy
	}
	add := func(p *plot.Plot, name string, i int, xy plotter.XYs) error {
		l, err := plotter.NewLine(xy)
		if err != nil {
			return err
		}
		l.Color = plotter.DefaultLineStyle.Color
		if i == 1 {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l)
		p.Legend.Add(name, l)
		return nil
	}
	for _, err := range []error{
		add(lossPlot, "train", 0, curve(func(m EpochMetrics) float64 { return m.TrainLoss / 0.6931471805599453 })),
		add(lossPlot, "test", 1, curve(func(m EpochMetrics) float64 { return m.TestLossBits })),
		add(accPlot, "train", 0, curve(func(m EpochMetrics) float64 { return m.TrainAcc })),
		add(accPlot, "test", 1, curve(func(m EpochMetrics) float64 { return m.TestAcc })),
	} {
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
	}
	img := vgimg.New(12*vg.Inch, 4.5*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Inch / 4, PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8}
	lossPlot.Draw(tiles.At(dc, 0, 0))
	accPlot.Draw(tiles.At(dc, 1, 0))
	err := atomicfile.Write(path, func(w io.Writer) error {
		_, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w)
		return err
	})
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}
