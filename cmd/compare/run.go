package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot/plotter"

	"example.com/xent/internal/curves"
	"example.com/xent/train"
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
	png := fs.String("png", "compare.png", "PNG of the runs' accuracy and loss curves on their evaluation split (empty: none)")
	x := fs.String("x", "epoch", "x axis of the curves: epoch, or time (wall seconds since the run started)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) { // -h: the usage, on stdout
			fmt.Fprintln(stdout, "usage: compare [-png FILE] [-x epoch|time] run1.jsonl run2.jsonl ...")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil
		}
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("no metrics files (usage: compare [-png FILE] [-x epoch|time] run1.jsonl run2.jsonl ...)")
	}
	if _, ok := axes[*x]; !ok {
		return fmt.Errorf("-x %q: want epoch or time", *x)
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
	if err := drawCurves(*png, *x, runs); err != nil {
		return fmt.Errorf("-png: %w", err)
	}
	fmt.Fprintf(stdout, "curves: %s\n", *png)
	return nil
}

func table(w io.Writer, runs []runLog) {
	const format = "%-32s %5v %10v %12v %7v %9v %9v %10v %9v %8v\n"
	fmt.Fprintf(w, format, "run", "split", "params", "FLOPs/img", "epochs", "best acc", "final acc", "NLL bits", "wall s", "img/s")
	for _, r := range runs {
		last, best := r.epochs[len(r.epochs)-1], 0.0
		for _, m := range r.epochs {
			best = max(best, m.TestAcc)
		}
		fmt.Fprintf(w, format, r.label(), r.split(), last.Params, last.FLOPs, last.Epoch,
			fmt.Sprintf("%.2f%%", 100*best), fmt.Sprintf("%.2f%%", 100*last.TestAcc),
			fmt.Sprintf("%.4f", last.TestLossBits), fmt.Sprintf("%.1f", last.WallS), fmt.Sprintf("%.0f", last.ImgPerS))
	}
}

// split names what a run's evaluation figures measure: "test", or "val" for a run with
// -val (older files, without the key, are of the test split).
func (r runLog) split() string {
	if s := r.epochs[len(r.epochs)-1].Split; s != "" {
		return s
	}
	return "test"
}

// splitsOf returns the runs' common split, or "" if they differ.
func splitsOf(runs []runLog) string {
	common := runs[0].split()
	for _, r := range runs[1:] {
		if r.split() != common {
			return ""
		}
	}
	return common
}

// axes are what -x puts on the x axis.
var axes = map[string]struct {
	label string
	of    func(train.EpochMetrics) float64
}{
	"epoch": {"epoch", func(m train.EpochMetrics) float64 { return float64(m.Epoch) }},
	"time":  {"wall time (s)", func(m train.EpochMetrics) float64 { return m.WallS }},
}

// drawCurves draws accuracy and loss (bits) of each run's evaluation split against x, one
// colour per run; the titles name the split, or each label does when the runs' differ.
func drawCurves(path, x string, runs []runLog) error {
	split := splitsOf(runs)
	acc := curves.Panel{Title: strings.TrimSpace(split + " accuracy"), X: axes[x].label, LegendLeft: true}
	nll := curves.Panel{Title: strings.TrimSpace(split + " loss (bits)"), X: axes[x].label}
	for i, r := range runs {
		name := r.label()
		if split == "" {
			name += ", " + r.split()
		}
		for _, c := range []struct {
			p *curves.Panel
			f func(train.EpochMetrics) float64
		}{{&acc, func(m train.EpochMetrics) float64 { return m.TestAcc }}, {&nll, func(m train.EpochMetrics) float64 { return m.TestLossBits }}} {
			var xy plotter.XYs
			for _, m := range r.epochs {
				if !m.Unevaluated { // -eval-every: the epochs with an evaluation
					xy = append(xy, plotter.XY{X: axes[x].of(m), Y: c.f(m)})
				}
			}
			c.p.Lines = append(c.p.Lines, curves.Line{Name: name, XY: xy, Color: i})
		}
	}
	return curves.Write(path, acc, nll)
}
