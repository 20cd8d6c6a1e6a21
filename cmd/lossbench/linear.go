package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"example.com/xent/internal/blas"
	"example.com/xent/loss"
)

// defaultLinear is -linear's shapes when it is given without any: a small language model's
// head, GPT-2's (50,257 tokens) and Llama 3's (128,256).
const defaultLinear = "4096x512x32000,8192x768x50257,2048x2048x128256"

// linearRow is one line of the -linear table and one object of its -json array: a mean
// cross-entropy of h w^T + b for h [N,D], w [V,D], b [V], forward and backward (dh, dw, db).
type linearRow struct {
	Framework  string    `json:"framework"` // "xent" or "pytorch"
	Impl       string    `json:"impl"`      // "fused", "recompute" (fused, gradient in a second pass) or "unfused"
	N          int       `json:"n"`
	D          int       `json:"d"`
	V          int       `json:"v"`
	Dtype      string    `json:"dtype"`
	FwdBwdUs   float64   `json:"fwdbwd_us"` // median over runs
	GFlops     float64   `json:"gflops"`    // 6*N*D*V flops per forward+backward second
	ExtraBytes int64     `json:"extra_bytes"`
	MaxErr     jsonFloat `json:"max_err"` // against the float64 fused kernel; null for PyTorch
	FwdBwdMin  float64   `json:"fwdbwd_us_min"`
	FwdBwdMax  float64   `json:"fwdbwd_us_max"`
	PeakFrac   float64   `json:"peak_fraction,omitempty"` // GFLOP/s over -peak, when given
}

// parseLinear reads NxDxV,... shapes.
func parseLinear(s string) ([][3]int, error) {
	var out [][3]int
	for _, f := range strings.Split(s, ",") {
		parts := strings.Split(strings.TrimSpace(f), "x")
		var dims [3]int
		ok := len(parts) == 3
		for i := 0; ok && i < 3; i++ {
			v, err := strconv.Atoi(parts[i])
			dims[i], ok = v, err == nil && v >= 1
		}
		if !ok {
			return nil, fmt.Errorf("-linear: %q is not NxDxV with N, D, V >= 1", f)
		}
		out = append(out, dims)
	}
	return out, nil
}

// linearArgs lets -linear stand alone for the default shapes: "-linear" followed by nothing
// or by another flag becomes "-linear=default".
func linearArgs(args []string) []string {
	out := append([]string(nil), args...)
	for i, a := range out {
		if (a == "-linear" || a == "--linear") && (i+1 == len(out) || strings.HasPrefix(out[i+1], "-")) {
			out[i] = "-linear=default"
		}
	}
	return out
}

// runLinear measures the linear cross-entropy at each shape: xent fused, xent unfused (one
// GEMM to the logits, the fused softmax cross-entropy, two GEMMs back) and, with -peer, the
// PyTorch script's row, one shape after another.
func runLinear(c config, stdout io.Writer) error {
	fmt.Fprintf(stdout, "lossbench -linear: %s/%s, GOMAXPROCS=%d, GEMM %s, float32, fused algorithm %s, %d runs (median [min-max])\n",
		runtime.GOOS, runtime.GOARCH, c.threads, blas.Name(), c.algo, c.runs)
	const format = "%-8s %-10s %6v %5v %7v %28v %8v %12v %8v\n"
	fmt.Fprintf(stdout, format, "", "impl", "N", "D", "V", "fwd+bwd ms", "GFLOP/s", "extra MB", "max err")
	var rows []linearRow
	for _, s := range c.linear {
		shapeRows, err := measureLinear(s[0], s[1], s[2], c)
		if err != nil {
			return fmt.Errorf("-linear %dx%dx%d: %w", s[0], s[1], s[2], err)
		}
		if c.peer != "" {
			r, err := runPeer(c.peer, s, c.runs)
			if err != nil {
				return fmt.Errorf("-peer %s at %dx%dx%d: %w", c.peer, s[0], s[1], s[2], err)
			}
			shapeRows = append(shapeRows, r)
		}
		for _, r := range shapeRows {
			if c.peak > 0 {
				r.PeakFrac = r.GFlops / c.peak
			}
			maxErr := "-"
			if r.Framework == "xent" {
				maxErr = fmt.Sprintf("%.2g", float64(r.MaxErr))
			}
			fmt.Fprintf(stdout, format, r.Framework, r.Impl, r.N, r.D, r.V,
				fmt.Sprintf("%.1f [%.1f-%.1f]", r.FwdBwdUs/1e3, r.FwdBwdMin/1e3, r.FwdBwdMax/1e3),
				fmt.Sprintf("%.1f", r.GFlops), fmt.Sprintf("%.1f", float64(r.ExtraBytes)/1e6), maxErr)
			rows = append(rows, r)
		}
	}
	if c.peak > 0 {
		fmt.Fprintf(stdout, "peak_fraction in -json: GFLOP/s over -peak %.0f GFLOP/s\n", c.peak)
	}
	return writeJSON(c.json, rows)
}

// linearProblem is one shape's inputs and the gradients a step writes.
type linearProblem struct {
	n, d, v    int
	h, w, b    []float32
	y          []int
	dh, dw, db []float32
}

func newLinearProblem(n, d, v int) *linearProblem {
	rng := rand.New(rand.NewPCG(uint64(n), uint64(v)))
	p := &linearProblem{n: n, d: d, v: v, h: make([]float32, n*d), w: make([]float32, v*d), b: make([]float32, v),
		y: make([]int, n), dh: make([]float32, n*d), dw: make([]float32, v*d), db: make([]float32, v)}
	// the scales of PyTorch's script: h ~ N(0, 1/D), w ~ N(0, 1), b = 0
	for i := range p.h {
		p.h[i] = float32(rng.NormFloat64() / math.Sqrt(float64(d)))
	}
	for i := range p.w {
		p.w[i] = float32(rng.NormFloat64())
	}
	for i := range p.y {
		p.y[i] = rng.IntN(v)
	}
	return p
}

// linearStep is one implementation: a forward and backward over p, returning the loss.
type linearStep func(p *linearProblem) (float64, error)

func measureLinear(n, d, v int, c config) ([]linearRow, error) {
	p := newLinearProblem(n, d, v)
	refLoss, refDH, refDW, refDB, err := linearReference(p)
	if err != nil {
		return nil, err
	}
	var rows []linearRow
	for _, impl := range c.impls {
		runtime.GC()
		before := heapInUse()
		step, err := newLinearStep(impl, v, c.chunk, linearAlgorithms[c.algo])
		if err != nil {
			return nil, err
		}
		l, err := step(p) // the first step allocates the implementation's buffers
		if err != nil {
			return nil, err
		}
		peakStart := heapInUse()
		var ms runtime.MemStats
		r := linearRow{Framework: "xent", Impl: impl, N: n, D: d, V: v, Dtype: "float32"}
		us := make([]float64, c.runs)
		stepAlloc := uint64(math.MaxUint64)
		for i := range us {
			runtime.ReadMemStats(&ms)
			total := ms.TotalAlloc
			t := time.Now()
			if l, err = step(p); err != nil {
				return nil, err
			}
			us[i] = float64(time.Since(t).Microseconds())
			runtime.ReadMemStats(&ms)
			stepAlloc = min(stepAlloc, ms.TotalAlloc-total)
		}
		// what the implementation keeps, and what a step allocated on top of it (the
		// fewest bytes of any run: a run may also count the runtime's own, once)
		r.ExtraBytes = int64(peakStart-before) + int64(stepAlloc)
		slices.Sort(us)
		r.FwdBwdUs, r.FwdBwdMin, r.FwdBwdMax = us[len(us)/2], us[0], us[len(us)-1]
		r.GFlops = 6 * float64(n) * float64(d) * float64(v) / (r.FwdBwdUs * 1e3)
		worst := math.Abs(l-refLoss) / math.Max(1, math.Abs(refLoss))
		worst = math.Max(worst, maxAbsError(p.dh, refDH))
		worst = math.Max(worst, maxAbsError(p.dw, refDW))
		worst = math.Max(worst, maxAbsError(p.db, refDB))
		if math.IsNaN(worst) {
			worst = math.Inf(1)
		}
		r.MaxErr = jsonFloat(worst)
		rows = append(rows, r)
	}
	return rows, nil
}

// maxAbsError returns max_i |got[i] - want[i]| (NaN when a value is NaN).
func maxAbsError(got []float32, want []float64) float64 {
	var worst float64
	for i, g := range got {
		d := math.Abs(float64(g) - want[i])
		if d > worst || d != d {
			worst = d
		}
	}
	return worst
}

// heapInUse returns the live heap after a collection.
func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// linearImpls are -linear's implementations.
var linearImpls = []string{"fused", "recompute", "unfused"}

// linearAlgorithms are -algorithm's values.
var linearAlgorithms = map[string]loss.LinearAlgorithm{"auto": loss.LinearAuto, "rows": loss.LinearRowChunks, "blocks": loss.LinearClassBlocks}

// newLinearStep returns impl's step for v classes; chunk is the fused kernel's rows per chunk
// (0: its default), alg its algorithm.
func newLinearStep(impl string, v, chunk int, alg loss.LinearAlgorithm) (linearStep, error) {
	switch impl {
	case "fused", "recompute":
		x, err := loss.NewLinearCrossEntropyKernel[float32](v)
		if err != nil {
			return nil, err
		}
		x.SetChunkRows(chunk)
		x.SetAlgorithm(alg)
		if impl == "recompute" {
			one := []float32{1}
			return func(p *linearProblem) (float64, error) {
				l, err := x.Forward(p.h, p.w, p.b, p.y)
				if err == nil {
					x.Backward(p.dh, p.dw, p.db, p.h, p.w, p.b, p.y, one)
				}
				return l, err
			}, nil
		}
		return func(p *linearProblem) (float64, error) {
			return x.ForwardBackward(p.dh, p.dw, p.db, p.h, p.w, p.b, p.y)
		}, nil
	case "unfused":
		x, err := loss.NewSoftmaxCrossEntropyKernel[float32](v)
		if err != nil {
			return nil, err
		}
		var z, dz []float32
		one := []float32{1}
		return func(p *linearProblem) (float64, error) {
			n, d := p.n, p.d
			if z == nil {
				z, dz = make([]float32, n*v), make([]float32, n*v)
			}
			for i := range n {
				copy(z[i*v:(i+1)*v], p.b)
			}
			blas.Gemm(false, true, n, v, d, 1, p.h, d, p.w, d, 1, z, v)
			l, err := x.Forward(z, p.y)
			if err != nil {
				return 0, err
			}
			x.Backward(dz, z, p.y, one)
			blas.Gemm(false, false, n, d, v, 1, dz, v, p.w, d, 0, p.dh, d)
			blas.Gemm(true, false, v, d, n, 1, dz, v, p.h, d, 0, p.dw, d)
			clear(p.db)
			for i := range n {
				for j, g := range dz[i*v : (i+1)*v] {
					p.db[j] += g
				}
			}
			return l, nil
		}, nil
	}
	return nil, fmt.Errorf("unknown linear implementation %q", impl)
}

// linearReference is the float64 fused kernel on the same inputs: the loss and dh, dw, db.
func linearReference(p *linearProblem) (float64, []float64, []float64, []float64, error) {
	x, err := loss.NewLinearCrossEntropyKernel[float64](p.v)
	if err != nil {
		return 0, nil, nil, nil, err
	}
	h, w, b := widen(p.h), widen(p.w), widen(p.b)
	dh, dw, db := make([]float64, len(h)), make([]float64, len(w)), make([]float64, len(b))
	l, err := x.ForwardBackward(dh, dw, db, h, w, b, p.y)
	return l, dh, dw, db, err
}

func widen(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// runPeer runs the PyTorch script on one shape, with OMP_WAIT_POLICY=PASSIVE (its best
// setting here: OpenBLAS on both cores), and returns its row.
func runPeer(script string, s [3]int, runs int) (linearRow, error) {
	dir, err := os.MkdirTemp("", "lossbench-peer")
	if err != nil {
		return linearRow{}, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "peer.json")
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		python = "python3"
	}
	cmd := exec.Command(python, script, "--shapes", fmt.Sprintf("%dx%dx%d", s[0], s[1], s[2]),
		"--runs", strconv.Itoa(runs), "--json", out)
	cmd.Env = append(os.Environ(), "OMP_WAIT_POLICY=PASSIVE")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return linearRow{}, fmt.Errorf("%w: %s", err, strings.TrimSpace(string(msg)))
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return linearRow{}, err
	}
	var peer []struct {
		N, D, V     int
		FwdBwdMs    float64 `json:"fwdbwd_ms"`
		FwdBwdMsMin float64 `json:"fwdbwd_ms_min"`
		FwdBwdMsMax float64 `json:"fwdbwd_ms_max"`
		GFlops      float64 `json:"gflops"`
		ExtraMB     float64 `json:"extra_mb"`
	}
	if err := json.Unmarshal(b, &peer); err != nil || len(peer) != 1 {
		return linearRow{}, fmt.Errorf("%s: want one row of the script's JSON: %v", out, err)
	}
	r := peer[0]
	return linearRow{Framework: "pytorch", Impl: "unfused", N: r.N, D: r.D, V: r.V, Dtype: "float32",
		FwdBwdUs: r.FwdBwdMs * 1e3, FwdBwdMin: r.FwdBwdMsMin * 1e3, FwdBwdMax: r.FwdBwdMsMax * 1e3,
		GFlops: r.GFlops, ExtraBytes: int64(r.ExtraMB * (1 << 20)), MaxErr: jsonFloat(math.NaN())}, nil
}
