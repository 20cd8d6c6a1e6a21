package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/internal/atomicfile"
	"example.com/xent/internal/blas"
	"example.com/xent/internal/vmath"
	"example.com/xent/loss"
	"example.com/xent/model"
	"example.com/xent/optim"
	"example.com/xent/train"
)

// result is one model's line of the table and object of the -json array.
type result struct {
	Framework  string  `json:"framework"`
	Model      string  `json:"model"`
	Batch      int     `json:"batch"`
	TrainImgS  float64 `json:"train_img_s"` // median over runs
	InferImgS  float64 `json:"infer_img_s"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
	TrainMin   float64 `json:"train_img_s_min"`
	TrainMax   float64 `json:"train_img_s_max"`
	InferMin   float64 `json:"infer_img_s_min"`
	InferMax   float64 `json:"infer_img_s_max"`
	MsPerStep  float64 `json:"train_ms_per_step"`
	Params     int     `json:"params"`
	Threads    int     `json:"threads"`
	BLAS       string  `json:"blas"`
	SIMDKernel bool    `json:"simd"`
	Kernels    string  `json:"kernels"` // vmath.Kernels(): avx512, avx2 or go
}

type config struct {
	models  []string
	batch   int
	runs    int
	target  time.Duration
	threads int
	json    string
	one     string // internal: measure this model in this process and print its result
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c config
	models := fs.String("models", "mlp,cnn-small,resnet-tiny", "comma-separated models")
	fs.IntVar(&c.batch, "batch", 128, "images per step")
	fs.IntVar(&c.runs, "runs", 5, "timed runs per measurement (median reported)")
	fs.DurationVar(&c.target, "target", 2*time.Second, "length of one timed run")
	fs.IntVar(&c.threads, "threads", runtime.NumCPU(), "GOMAXPROCS")
	fs.StringVar(&c.json, "json", "", "also write the results as a JSON array to this file")
	fs.StringVar(&c.one, "one", "", "internal: measure one model in this process")
	profile := fs.String("cpuprofile", "", "with -one: write a CPU profile of the measurement")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) { // -h: the flags, on stdout
			fmt.Fprintln(stdout, "usage: bench [flags]")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil
		}
		return err
	}
	c.models = strings.Split(*models, ",")
	if c.batch < 1 || c.runs < 1 || c.target <= 0 || c.threads < 1 {
		return errors.New("-batch, -runs, -target and -threads must be positive")
	}
	runtime.GOMAXPROCS(c.threads)
	if c.one != "" {
		if *profile != "" {
			f, err := os.Create(*profile)
			if err != nil {
				return err
			}
			defer f.Close()
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
		r, err := measure(c.one, c)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(r)
	}
	fmt.Fprintf(stdout, "bench: %s/%s, GOMAXPROCS %d, BLAS %s, vector kernels %s; %d runs of %v (median [min-max])\n",
		runtime.GOOS, runtime.GOARCH, c.threads, blas.Name(), vmath.Kernels(), c.runs, c.target)
	if hint := blas.FastPathHint(); hint != "" {
		fmt.Fprintln(stdout, hint)
	}
	const format = "%-12s %9v %26v %26v %12v\n"
	fmt.Fprintf(stdout, format, "model", "params", "train img/s", "infer img/s", "peak RSS MB")
	var results []result
	for _, m := range c.models {
		r, err := inChild(m, args)
		if err != nil {
			return fmt.Errorf("%s: %w", m, err)
		}
		results = append(results, r)
		fmt.Fprintf(stdout, format, r.Model, r.Params,
			fmt.Sprintf("%.0f [%.0f-%.0f]", r.TrainImgS, r.TrainMin, r.TrainMax),
			fmt.Sprintf("%.0f [%.0f-%.0f]", r.InferImgS, r.InferMin, r.InferMax), fmt.Sprintf("%.0f", r.PeakRSSMB))
	}
	if c.json == "" {
		return nil
	}
	b, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(c.json, append(b, '\n')); err != nil {
		return fmt.Errorf("-json: %w", err)
	}
	return nil
}

// childEnv marks a measuring child process (the tests' binary needs to know).
const childEnv = "XENT_BENCH_CHILD"

// inChild measures one model in a new process of this program, whose peak RSS is the model's.
func inChild(m string, args []string) (result, error) {
	exe, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	cmd := exec.Command(exe, append(append([]string{}, args...), "-one", m)...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%w: %s", err, strings.TrimSpace(errOut.String()))
	}
	var r result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return r, err
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.PeakRSSMB = float64(ru.Maxrss) / 1024 // kilobytes on Linux
	}
	return r, nil
}

// measure times training steps and inference passes of model m.
func measure(m string, c config) (result, error) {
	net, err := model.New(m, model.Options{TrainBatch: c.batch, EvalBatch: c.batch, Seed: 1})
	if err != nil {
		return result{}, err
	}
	// Inputs as the peer makes them: random bytes /255, normalised per channel.
	rng := rand.New(rand.NewPCG(1, 2))
	mean, std := [3]float32{0.4914, 0.4822, 0.4465}, [3]float32{0.2470, 0.2435, 0.2616}
	for _, g := range []*model.Graph{net.Train, net.Eval} {
		x := g.Input.Value().Data().([]float32)
		for i := range x {
			ch := (i / 1024) % 3
			x[i] = (float32(rng.IntN(256))/255 - mean[ch]) / std[ch]
		}
	}
	labels := make([]int, c.batch)
	for i := range labels {
		labels[i] = rng.IntN(10)
	}
	g := net.Train
	y := G.NewVector(g.G, tensor.Int, G.WithShape(c.batch), G.WithName("labels"),
		G.WithValue(tensor.New(tensor.WithShape(c.batch), tensor.WithBacking(labels))))
	cost, err := loss.SoftmaxCrossEntropy(g.Logits, y)
	if err != nil {
		return result{}, err
	}
	grads, err := G.Grad(cost, g.Params...)
	if err != nil {
		return result{}, err
	}
	params := train.OptimizerParams(net)
	opt, err := optim.NewSGD(params, optim.SGDConfig{Momentum: 0.9})
	if err != nil {
		return result{}, err
	}
	vm, err := net.Machine(g, append(G.Nodes{cost}, grads...))
	if err != nil {
		return result{}, err
	}
	defer vm.Close()
	gs := make([][]float32, len(grads))
	var stepErr error
	step := func() {
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			stepErr = loss.FromMachine(err)
			return
		}
		for i, gr := range grads {
			gs[i] = gr.Value().Data().([]float32)
		}
		if err := opt.Step(0.01, gs); err != nil {
			stepErr = err
		}
	}
	evm, err := net.Machine(net.Eval, G.Nodes{net.Eval.Logits})
	if err != nil {
		return result{}, err
	}
	defer evm.Close()
	infer := func() {
		evm.Reset()
		if err := evm.RunAll(); err != nil {
			stepErr = err
		}
	}
	r := result{Framework: "xent", Model: m, Batch: c.batch, Params: net.Params.Count(), Threads: c.threads,
		BLAS: blas.Name(), SIMDKernel: vmath.SIMD(), Kernels: vmath.Kernels()}
	r.TrainImgS, r.TrainMin, r.TrainMax = rate(step, c)
	r.InferImgS, r.InferMin, r.InferMax = rate(infer, c)
	r.MsPerStep = 1000 * float64(c.batch) / r.TrainImgS
	return r, stepErr
}

// rate runs f (one batch) for c.runs timed runs of about c.target after a warm-up, and
// returns the median, min and max images per second.
func rate(f func(), c config) (med, lo, hi float64) {
	start := time.Now()
	n := 0
	for n < 3 || time.Since(start) < c.target/4 {
		f()
		n++
	}
	per := time.Since(start) / time.Duration(n)
	iters := max(1, int(c.target/per))
	var all []float64
	for range c.runs {
		t := time.Now()
		for range iters {
			f()
		}
		all = append(all, float64(iters*c.batch)/time.Since(t).Seconds())
	}
	slices.Sort(all)
	return all[len(all)/2], all[0], all[len(all)-1]
}
