package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"example.com/xent/internal/atomicfile"
	"example.com/xent/internal/vmath"
)

// row is one line of the table and one object of the -json array.
type row struct {
	Impl        string    `json:"impl"`
	N           int       `json:"n"`
	K           int       `json:"k"`
	Dtype       string    `json:"dtype"`
	FwdUs       float64   `json:"fwd_us"`    // median over runs
	FwdBwdUs    float64   `json:"fwdbwd_us"` // median over runs
	GBps        float64   `json:"gbps"`      // N*K*4 bytes of logits per forward+backward second
	Allocs      float64   `json:"allocs"`    // heap allocations per forward+backward
	MaxErr      jsonFloat `json:"max_err"`   // largest error against the float64 reference (see maxError)
	Nonfinite   int       `json:"nonfinite"` // NaN/Inf in loss and gradient on adversarial rows
	FwdUsMin    float64   `json:"fwd_us_min"`
	FwdUsMax    float64   `json:"fwd_us_max"`
	FwdBwdUsMin float64   `json:"fwdbwd_us_min"`
	FwdBwdUsMax float64   `json:"fwdbwd_us_max"`
}

// jsonFloat is a float64 that encodes +Inf and NaN (no number in JSON) as null.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	if math.IsInf(float64(f), 0) || math.IsNaN(float64(f)) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

type config struct {
	shapes  [][2]int
	impls   []string
	runs    int           // timed runs per measurement; the median is reported
	target  time.Duration // length of one timed run
	threads int           // GOMAXPROCS
	json    string
	linear  [][3]int // -linear's NxDxV shapes; nil runs the softmax cross-entropy table
	peer    string   // -peer: PyTorch's linear_xent_bench.py, run beside -linear
	peak    float64  // -peak: the machine's FMA peak in GFLOP/s, for -linear's peak_fraction
	chunk   int      // -chunk: the fused kernel's rows per chunk; 0 is its default, N/36
	algo    string   // -algorithm: the fused kernel's: auto, rows or blocks
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("lossbench", flag.ContinueOnError)
	shapes := fs.String("shapes", "128x10,4096x10,4096x1000,512x32000", "comma-separated NxK shapes")
	names := fs.String("impls", "kernel,node,gorgonia", "implementations to run: kernel, node, gorgonia (with -linear: fused, recompute, unfused)")
	c := config{}
	fs.IntVar(&c.runs, "runs", 5, "timed runs per measurement (median reported)")
	fs.DurationVar(&c.target, "target", 200*time.Millisecond, "duration of one timed run")
	fs.IntVar(&c.threads, "threads", runtime.GOMAXPROCS(0), "GOMAXPROCS")
	fs.StringVar(&c.json, "json", "", "also write the rows as a JSON array to this file")
	linear := fs.String("linear", "", "NxDxV,...: time the cross-entropy of a linear layer instead, fused and unfused (alone: "+defaultLinear+")")
	fs.StringVar(&c.peer, "peer", "", "with -linear: PyTorch's linear_xent_bench.py, run on each shape after xent")
	fs.StringVar(&c.algo, "algorithm", "auto", "with -linear: the fused kernel's algorithm: auto, rows (row chunks, one pass) or blocks (class blocks, two passes)")
	fs.IntVar(&c.chunk, "chunk", 0, "with -linear: the fused kernel's rows per chunk (0: N/36, a 1/32 of the logits' memory)")
	fs.Float64Var(&c.peak, "peak", 0, "with -linear: this machine's FMA peak in GFLOP/s, to report the fraction reached")
	if err := fs.Parse(linearArgs(args)); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	runsSet := false
	fs.Visit(func(f *flag.Flag) { runsSet = runsSet || f.Name == "runs" })
	if *linear != "" {
		if *linear == "default" {
			*linear = defaultLinear
		}
		var err error
		if c.linear, err = parseLinear(*linear); err != nil {
			return c, err
		}
		if !runsSet {
			c.runs = 3 // a step takes seconds
		}
	} else if c.peer != "" || c.peak != 0 || c.chunk != 0 {
		return c, fmt.Errorf("-peer, -peak and -chunk go with -linear")
	}
	if _, ok := linearAlgorithms[c.algo]; !ok {
		return c, fmt.Errorf("-algorithm %q: want auto, rows or blocks", c.algo)
	}
	if c.chunk < 0 {
		return c, fmt.Errorf("-chunk %d: want rows >= 1, or 0 for the default", c.chunk)
	}
	if c.peak < 0 || math.IsNaN(c.peak) || math.IsInf(c.peak, 0) {
		return c, fmt.Errorf("-peak %v: want GFLOP/s > 0", c.peak)
	}
	for _, s := range strings.Split(*shapes, ",") {
		n, k, ok := strings.Cut(strings.TrimSpace(s), "x")
		ni, err1 := strconv.Atoi(n)
		ki, err2 := strconv.Atoi(k)
		if !ok || err1 != nil || err2 != nil || ni < 1 || ki < 1 {
			return c, fmt.Errorf("-shapes: %q is not NxK with N, K >= 1", s)
		}
		c.shapes = append(c.shapes, [2]int{ni, ki})
	}
	implsSet := false
	fs.Visit(func(f *flag.Flag) { implsSet = implsSet || f.Name == "impls" })
	for _, name := range strings.Split(*names, ",") {
		switch {
		case c.linear == nil && impls[name] == nil:
			return c, fmt.Errorf("-impls: unknown implementation %q (have kernel, node, gorgonia)", name)
		case c.linear != nil && implsSet && !slices.Contains(linearImpls, name):
			return c, fmt.Errorf("-impls: unknown implementation %q with -linear (have %s)", name, strings.Join(linearImpls, ", "))
		}
		c.impls = append(c.impls, name)
	}
	if c.linear != nil && !implsSet {
		c.impls = linearImpls
	}
	if c.runs < 1 || c.threads < 1 || c.target <= 0 {
		return c, fmt.Errorf("-runs, -threads and -target must be positive")
	}
	return c, nil
}

func run(args []string, stdout io.Writer) error {
	c, err := parseFlags(args)
	if err != nil {
		return err
	}
	runtime.GOMAXPROCS(c.threads)
	if c.linear != nil {
		return runLinear(c, stdout)
	}
	fmt.Fprintf(stdout, "lossbench: %s/%s, GOMAXPROCS=%d, vector kernels %s, %d runs of %v (median [min-max])\n",
		runtime.GOOS, runtime.GOARCH, c.threads, vmath.Kernels(), c.runs, c.target)
	const format = "%-8s %6v %6v %27v %27v %6v %7v %8v %10v\n"
	fmt.Fprintf(stdout, format, "impl", "N", "K", "fwd us", "fwd+bwd us", "GB/s", "allocs", "max err", "non-finite")
	var rows []row
	for _, s := range c.shapes {
		for _, name := range c.impls {
			r, err := measure(name, s[0], s[1], c)
			if err != nil {
				return fmt.Errorf("%s at %dx%d: %w", name, s[0], s[1], err)
			}
			rows = append(rows, r)
			fmt.Fprintf(stdout, format, r.Impl, r.N, r.K,
				fmt.Sprintf("%.1f [%.1f-%.1f]", r.FwdUs, r.FwdUsMin, r.FwdUsMax),
				fmt.Sprintf("%.1f [%.1f-%.1f]", r.FwdBwdUs, r.FwdBwdUsMin, r.FwdBwdUsMax),
				fmt.Sprintf("%.2f", r.GBps), fmt.Sprintf("%.0f", r.Allocs), fmt.Sprintf("%.2g", float64(r.MaxErr)), r.Nonfinite)
		}
	}
	return writeJSON(c.json, rows)
}

// writeJSON writes rows as an indented JSON array to path, atomically; "" writes nothing.
func writeJSON(path string, rows any) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(path, append(b, '\n')); err != nil {
		return fmt.Errorf("-json: %w", err)
	}
	return nil
}

// measure times one implementation at one shape and checks its numbers.
func measure(name string, n, k int, c config) (row, error) {
	r := row{Impl: name, N: n, K: k, Dtype: "float32"}
	rng := rand.New(rand.NewPCG(uint64(n), uint64(k)))
	logits, labels := make([]float32, n*k), make([]int, n)
	for i := range logits {
		logits[i] = float32(2 * rng.NormFloat64())
	}
	for i := range labels {
		labels[i] = rng.IntN(k)
	}
	p := impls[name]()
	if err := p.Setup(logits, labels, k); err != nil {
		return r, err
	}
	var err error
	fwd := func() {
		if _, e := p.Forward(); e != nil && err == nil {
			err = e
		}
	}
	both := func() {
		if _, _, e := p.ForwardBackward(); e != nil && err == nil {
			err = e
		}
	}
	r.FwdUs, r.FwdUsMin, r.FwdUsMax = timeCall(fwd, c)
	r.FwdBwdUs, r.FwdBwdUsMin, r.FwdBwdUsMax = timeCall(both, c)
	if err != nil {
		return r, err
	}
	r.GBps = float64(n*k*4) / (r.FwdBwdUs * 1e-6) / 1e9
	r.Allocs = allocsPerCall(both)
	l, grad, err := p.ForwardBackward()
	if err != nil {
		return r, err
	}
	maxErr := maxError(l, grad, logits, labels, k)

	// Adversarial rows: the same impl on logits that break unstable softmaxes.
	adv := adversarial(n, k)
	copy(logits, adv) // the impl reads the slice it was set up with
	if l, grad, err = p.ForwardBackward(); err != nil {
		return r, err
	}
	r.Nonfinite = countNonfinite(l, grad)
	r.MaxErr = jsonFloat(math.Max(maxErr, maxError(l, grad, logits, labels, k)))
	return r, nil
}

// timeCall returns the median, min and max microseconds per call over c.runs runs of
// about c.target each.
func timeCall(f func(), c config) (med, lo, hi float64) {
	f()
	f()
	start, iters := time.Now(), 0
	for time.Since(start) < 20*time.Millisecond || iters < 1 {
		f()
		iters++
	}
	per := time.Since(start) / time.Duration(iters)
	iters = max(1, int(c.target/max(per, 1)))
	us := make([]float64, c.runs)
	for i := range us {
		t := time.Now()
		for range iters {
			f()
		}
		us[i] = float64(time.Since(t).Microseconds()) / float64(iters)
	}
	slices.Sort(us)
	return us[len(us)/2], us[0], us[len(us)-1]
}

func allocsPerCall(f func()) float64 {
	const calls = 10
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range calls {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / calls
}

func countNonfinite(l float64, grad []float32) int {
	bad := 0
	if math.IsNaN(l) || math.IsInf(l, 0) {
		bad++
	}
	for _, v := range grad {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			bad++
		}
	}
	return bad
}
