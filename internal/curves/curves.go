// Package curves draws training curves: panels of lines side by side in one PNG, written
// atomically. It is the one layout of train's plot and cmd/compare's.
package curves

import (
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"example.com/xent/internal/atomicfile"
)

// A Line is one curve of a panel.
type Line struct {
	Name   string
	XY     plotter.XYs
	Color  int  // index into plotutil's palette
	Dashed bool // drawn dashed (for a second split in the same colour)
}

// A Panel is one plot: a title, the x axis's label and its lines.
type Panel struct {
	Title, X   string
	Lines      []Line
	LegendLeft bool // legend at the top left instead of the top right
}

// Write draws the panels side by side, 6 x 4.5 inches each, into the PNG at path.
func Write(path string, panels ...Panel) error {
	img := vgimg.New(vg.Length(6*len(panels))*vg.Inch, 4.5*vg.Inch)
	dc := draw.New(img)
	dc.SetColor(color.White)
	tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Inch / 4, PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8}
	for i, p := range panels {
		pl := plot.New()
		pl.Title.Text, pl.X.Label.Text = p.Title, p.X
		pl.Legend.Top, pl.Legend.Left = true, p.LegendLeft
		for _, l := range p.Lines {
			line, err := plotter.NewLine(l.XY)
			if err != nil {
				return fmt.Errorf("curves: %s: %s: %w", p.Title, l.Name, err)
			}
			line.Color = plotutil.Color(l.Color)
			line.Width = vg.Points(1.5)
			if l.Dashed {
				line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			}
			pl.Add(line)
			pl.Legend.Add(l.Name, line)
		}
		pl.Draw(tiles.At(dc, i, 0))
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w)
		return err
	})
}
