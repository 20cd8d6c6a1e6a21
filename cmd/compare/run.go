package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"xent/internal/atomicfile"
	"xent/train"
)

// runLog is one metrics file.
type runLog struct {
	file   string
	epochs []train.EpochMetrics
}

func (r runLog) label() string {
	return fmt.Sprintf("%s (%s)", r.epochs[0].Model, strings.TrimSuffix(filepath.Base(r.file), ".jsonl"))
}

func read(path string) (runLog, error) {
	f, err := os.Open(path)
	if err != nil {
		return runLog{}, err
	}
	defer f.Close()
	r := runLog{file: path}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var m train.EpochMetrics
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return r, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		r.epochs = append(r.epochs, m)
	}
	if err := sc.Err(); err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	if len(r.epochs) == 0 {
		return r, fmt.Errorf("%s: no epochs", path)
	}
	return r, nil
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	png := fs.String("png", "compare.png", "PNG of the runs' test accuracy and loss curves (empty: none)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) { // -h: the usage, on stdout
			fmt.Fprintln(stdout, "usage: compare [-png FILE] run1.jsonl run2.jsonl ...")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil
		}
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("no metrics files (usage: compare [-png FILE] run1.jsonl run2.jsonl ...)")
	}
	var runs []runLog
	for _, path := range fs.Args() {
		r, err := read(path)
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	table(stdout, runs)
	if *png == "" {
		return nil
	}
	if err := curves(*png, runs); err != nil {
		return fmt.Errorf("-png: %w", err)
	}
	fmt.Fprintf(stdout, "curves: %s\n", *png)
	return nil
}

func table(w io.Writer, runs []runLog) {
	const format = "%-32s %10v %12v %7v %9v %9v %10v %9v %8v\n"
	fmt.Fprintf(w, format, "run", "params", "FLOPs/img", "epochs", "best acc", "final acc", "NLL bits", "wall s", "img/s")
	for _, r := range runs {
		last, best := r.epochs[len(r.epochs)-1], 0.0
		for _, m := range r.epochs {
			best = max(best, m.TestAcc)
		}
		fmt.Fprintf(w, format, r.label(), last.Params, last.FLOPs, last.Epoch,
			fmt.Sprintf("%.2f%%", 100*best), fmt.Sprintf("%.2f%%", 100*last.TestAcc),
			fmt.Sprintf("%.4f", last.TestLossBits), fmt.Sprintf("%.1f", last.WallS), fmt.Sprintf("%.0f", last.ImgPerS))
	}
}

// curves draws test accuracy and test loss (bits) per epoch, one colour per run.
func curves(path string, runs []runLog) error {
	acc, nll := plot.New(), plot.New()
	acc.Title.Text, nll.Title.Text = "test accuracy", "test loss (bits)"
	acc.X.Label.Text, nll.X.Label.Text = "epoch", "epoch"
	acc.Legend.Left, acc.Legend.Top = true, true
	nll.Legend.Top = true
	for i, r := range runs {
		for _, c := range []struct {
			p *plot.Plot
			f func(train.EpochMetrics) float64
		}{{acc, func(m train.EpochMetrics) float64 { return m.TestAcc }}, {nll, func(m train.EpochMetrics) float64 { return m.TestLossBits }}} {
			xy := make(plotter.XYs, len(r.epochs))
			for j, m := range r.epochs {
				xy[j].X, xy[j].Y = float64(m.Epoch), c.f(m)
			}
			l, err := plotter.NewLine(xy)
			if err != nil {
				return err
			}
			l.Color = plotutil.Color(i)
			l.Width = vg.Points(1.5)
			c.p.Add(l)
			c.p.Legend.Add(r.label(), l)
		}
	}
	img := vgimg.New(12*vg.Inch, 4.5*vg.Inch)
	dc := draw.New(img)
	dc.SetColor(color.White)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Inch / 4, PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8}
	acc.Draw(tiles.At(dc, 0, 0))
	nll.Draw(tiles.At(dc, 1, 0))
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w)
		return err
	})
}
