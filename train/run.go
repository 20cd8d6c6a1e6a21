package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"xent/data/cifar10"
	"xent/internal/blas"
	"xent/loss"
	"xent/model"
	"xent/optim"
)

// ErrInterrupted is returned when the context was cancelled (SIGINT, SIGTERM): the run
// saved a checkpoint at the step boundary, if it keeps checkpoints, and stopped.
var ErrInterrupted = errors.New("train: interrupted")

// EpochMetrics is one line of the metrics log.
type EpochMetrics struct {
	Epoch        int       `json:"epoch"` // from 1
	Step         int       `json:"step"`  // steps done
	LR           float64   `json:"lr"`    // at the epoch's last step
	TrainLoss    float64   `json:"train_loss"`
	TrainAcc     float64   `json:"train_acc"`
	TestLoss     float64   `json:"test_loss"` // nats
	TestLossBits float64   `json:"test_loss_bits"`
	TestAcc      float64   `json:"test_acc"`
	Split        string    `json:"split"` // what test_* measure: "test", or "val" (written val_*) with -val
	ECE          float64   `json:"ece"`
	PerClass     []float64 `json:"test_acc_per_class"`
	ImgPerS      float64   `json:"img_per_s"` // training images per second in the epoch
	WallS        float64   `json:"wall_s"`    // seconds since the run started, evaluations included
	Model        string    `json:"model"`
	Params       int       `json:"params"`
	FLOPs        int64     `json:"flops_per_image"`
	Config       Config    `json:"config"`
}

// Result is what a finished run reports.
type Result struct {
	Metrics []EpochMetrics
	Final   Evaluation
}

// runner holds a run's state.
type runner struct {
	cfg     Config
	out     io.Writer
	data    *cifar10.Dataset
	net     *model.Net
	labels  []int // the training graph's bound labels
	cost    *G.Node
	grads   G.Nodes
	gradBuf [][]float32 // the gradients' data, refilled every step
	vm, evm G.VM
	opt     optim.Optimizer
	sched   optim.Schedule
	train   *cifar10.Iterator
	test    *cifar10.Iterator // the evaluation split: the test split, or the held-out training images with -val
	look    *lookahead        // with -lookahead
	last    *Evaluation       // of the model as it is now: the last epoch's, until a step changes it
	st      state
	start   time.Time
	release func() // of the checkpoint folder's lock

	mean, std [3]float32 // of the training images' channels, for normalisation
}

// Run trains as cfg says, writing progress to out, until the last epoch or until ctx is
// cancelled (then it checkpoints and returns ErrInterrupted).
func Run(ctx context.Context, cfg Config, out io.Writer) (*Result, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Threads > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(cfg.Threads))
	}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return nil, fmt.Errorf("-cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, fmt.Errorf("-cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	r := &runner{cfg: cfg, out: out, start: time.Now()}
	defer r.close()
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	return r.loop(ctx)
}

func (r *runner) close() {
	if r.release != nil {
		r.release()
	}
	for _, it := range []*cifar10.Iterator{r.train, r.test} {
		if it != nil {
			it.Close()
		}
	}
	for _, vm := range []G.VM{r.vm, r.evm} {
		if vm != nil {
			vm.Close()
		}
	}
}

// dataDir is -data, else $CIFAR10_DIR, else the user's cache.
func dataDir(cfg Config) string {
	if cfg.Data != "" {
		return cfg.Data
	}
	if d := os.Getenv("CIFAR10_DIR"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "cifar10", "cifar-10-batches-bin")
}

func (r *runner) setup(ctx context.Context) error {
	cfg := r.cfg
	if err := r.checkOutputs(); err != nil {
		return err
	}
	dir := dataDir(cfg)
	if cfg.Download {
		if err := cifar10.Download(ctx, dir, cifar10.DownloadOptions{Progress: r.out}); err != nil {
			return err
		}
	}
	var err error
	var opts []cifar10.OpenOption
	if cfg.OwnData {
		opts = append(opts, cifar10.AnyRecordCount())
	}
	if r.data, err = cifar10.Open(dir, opts...); err != nil {
		switch {
		case errors.Is(err, os.ErrNotExist) && !cfg.Download:
			return fmt.Errorf("%w (pass -download to fetch CIFAR-10, or -data DIR)", err)
		case errors.Is(err, cifar10.ErrRecordCount):
			return fmt.Errorf("%w: a damaged folder (fetch it again), or a dataset of your own in this format (pass -own-data)", err)
		}
		return err
	}
	if cfg.Val > 0 { // the last Val records (of data_batch_5), never seen in training
		n := r.data.Train.Len()
		if cfg.Val >= n {
			return fmt.Errorf("-val %d: want fewer than the %d training images", cfg.Val, n)
		}
		r.data.Test, r.data.Train = r.data.Train.Slice(n-cfg.Val, n), r.data.Train.Slice(0, n-cfg.Val)
	}
	if cfg.Subset > r.data.Train.Len() {
		return fmt.Errorf("-subset %d: more than the %d training images", cfg.Subset, r.data.Train.Len())
	}
	if cfg.Subset > 0 {
		r.data.Train = r.data.Train.Slice(0, cfg.Subset)
	}
	if cfg.Batch > r.data.Train.Len() {
		return fmt.Errorf("-batch %d: more than the %d training images", cfg.Batch, r.data.Train.Len())
	}
	if r.net, err = model.New(cfg.Model, model.Options{TrainBatch: cfg.Batch, EvalBatch: cfg.EvalBatch, Seed: cfg.Seed}); err != nil {
		return err
	}
	if k := r.net.Train.Logits.Shape()[1]; k != len(r.data.Classes) {
		return fmt.Errorf("-model %s: %d logits per image, but the data has %d classes", cfg.Model, k, len(r.data.Classes))
	}
	if err := r.buildGraphs(); err != nil {
		return err
	}
	if err := r.buildData(); err != nil {
		return err
	}
	if err := r.buildOptimizer(); err != nil {
		return err
	}
	if err := r.initFromData(); err != nil {
		return err
	}
	if cfg.Lookahead { // after the data-dependent init, before a resume overwrites both
		r.look = newLookahead(r.net.Params.List(), cfg.Epochs*r.train.BatchesPerEpoch())
	}
	r.st = state{Version: stateVersion, Model: cfg.Model, Config: cfg, BestAcc: -1, Position: r.train.Position()}
	if err := r.resumeOrStart(); err != nil {
		return err
	}
	r.printStart()
	return nil
}

// resumeOrStart continues from the checkpoint folder's newest checkpoint as -resume says,
// or checks that a new run does not mix its checkpoints with another's; then it makes the
// metrics file agree with the state: empty for a new run, and for a resumed one the lines
// of the checkpoint's epochs (a line written after the checkpoint, by a run killed
// before its next one, is dropped: the resumed run writes it again).
func (r *runner) resumeOrStart() error {
	if r.cfg.Resume != ResumeNo {
		if err := r.resume(); err != nil {
			return err
		}
	} else if r.cfg.CheckpointDir != "" {
		latest, err := r.store().Latest()
		if err != nil {
			return err
		}
		if latest != "" {
			return fmt.Errorf("-checkpoint-dir %s holds another run's checkpoints (newest %s): pass -resume to continue it, or give another folder",
				r.cfg.CheckpointDir, filepath.Base(latest))
		}
	}
	return r.rewriteMetrics()
}

func (r *runner) buildGraphs() error {
	g := r.net.Train
	r.labels = make([]int, g.Batch)
	y := G.NewVector(g.G, tensor.Int, G.WithShape(g.Batch), G.WithName("labels"),
		G.WithValue(tensor.New(tensor.WithShape(g.Batch), tensor.WithBacking(r.labels))))
	var err error
	if r.cost, err = loss.SoftmaxCrossEntropy(g.Logits, y, loss.WithSmoothing(r.cfg.LabelSmoothing)); err != nil {
		return err
	}
	if r.grads, err = G.Grad(r.cost, g.Params...); err != nil {
		return fmt.Errorf("train: gradients: %w", err)
	}
	// Only what a step needs: the loss and the parameters' gradients, not dL/d(images).
	r.vm = G.NewTapeMachine(g.G.SubgraphRoots(append(G.Nodes{r.cost}, r.grads...)...))
	r.evm = G.NewTapeMachine(r.net.Eval.G.SubgraphRoots(r.net.Eval.Logits))
	return nil
}

func (r *runner) buildData() error {
	aug, _ := parseAugment(r.cfg.Augment)
	m, s := r.data.Train.ChannelStats()
	mean, std := &r.mean, &r.std
	for c := range 3 {
		mean[c], std[c] = float32(m[c]), float32(s[c])
	}
	train := cifar10.IterConfig{BatchSize: r.cfg.Batch, Shuffle: true, DropLast: true, Seed: r.cfg.Seed,
		Mean: *mean, Std: *std, Prefetch: 2}
	train.Crop = aug.crop
	if aug.reflect {
		train.Pad = cifar10.PadReflect
	}
	switch {
	case aug.flip:
		train.Flip = cifar10.RandomFlip
	case aug.altflip:
		train.Flip = cifar10.AlternatingFlip
	}
	var err error
	if r.train, err = cifar10.NewIterator(r.data.Train, train); err != nil {
		return err
	}
	r.test, err = cifar10.NewIterator(r.data.Test, cifar10.IterConfig{BatchSize: r.cfg.EvalBatch, Mean: *mean, Std: *std})
	return err
}

func (r *runner) buildOptimizer() error {
	var params []optim.Param
	for _, p := range r.net.Trainable() {
		params = append(params, optim.Param{Name: p.Name, Data: p.T.Data().([]float32), Decay: p.Decay, LRScale: p.LRScale})
	}
	var err error
	if r.cfg.Optimizer == "adamw" {
		r.opt, err = optim.NewAdamW(params, optim.AdamWConfig{Beta1: r.cfg.Momentum, Beta2: 0.999, Eps: 1e-8, WeightDecay: r.cfg.WD})
	} else {
		r.opt, err = optim.NewSGD(params, optim.SGDConfig{Momentum: r.cfg.Momentum, Nesterov: r.cfg.Nesterov, WeightDecay: r.cfg.WD})
	}
	if err != nil {
		return err
	}
	total := r.cfg.Epochs * r.train.BatchesPerEpoch()
	switch r.cfg.Schedule {
	case "constant":
		r.sched = optim.Constant{Rate: r.cfg.LR}
	case "step":
		r.sched = optim.StepDecay{Rate: r.cfg.LR, Every: max(total/3, 1), Gamma: 0.1}
	case "cosine":
		r.sched = optim.Cosine{Peak: r.cfg.LR, Warmup: total / 20, Total: total}
	case "triangular":
		r.sched = optim.Triangular{Peak: r.cfg.LR, Total: total, Warmup: 0.2, Start: 0.1, End: 0}
	}
	return nil
}

func (r *runner) printStart() {
	b, _ := json.MarshalIndent(r.cfg, "", "  ")
	fmt.Fprintf(r.out, "config %s\n", b)
	if hint := blas.FastPathHint(); hint != "" {
		fmt.Fprintln(r.out, hint)
	}
	evalName := "test"
	if r.split() == "val" {
		evalName = "validation (held out from training; the test split is not evaluated)"
	}
	fmt.Fprintf(r.out, "data %s: %d training, %d %s images; %d steps per epoch; schedule %v\n",
		r.data.Dir, r.data.Train.Len(), r.data.Test.Len(), evalName, r.train.BatchesPerEpoch(), r.sched)
	r.net.Summary(r.out)
	if r.st.Step > 0 {
		fmt.Fprintf(r.out, "resumed at step %d (epoch %d, batch %d)\n", r.st.Step, r.st.Position.Epoch+1, r.st.Position.Index)
		if r.st.Step >= r.cfg.Epochs*r.train.BatchesPerEpoch() {
			fmt.Fprintf(r.out, "the run had finished: its final weights are evaluated; to train afresh, remove %s or give another -checkpoint-dir\n", r.cfg.CheckpointDir)
		}
	}
}

// loop runs the steps; each epoch ends with an evaluation, a metrics line and a checkpoint.
func (r *runner) loop(ctx context.Context) (*Result, error) {
	perEpoch := r.train.BatchesPerEpoch()
	total := r.cfg.Epochs * perEpoch
	prog := newProgress(r.out, perEpoch)
	epochStart := time.Now()
	imagesAtStart := r.st.Epoch.Images
	for r.st.Step < total {
		if ctx.Err() != nil {
			return r.interrupted()
		}
		b := r.train.Next()
		if b.Index == 0 || r.st.Epoch.Images == imagesAtStart {
			prog.start(b.Epoch+1, r.cfg.Epochs, b.Index)
		}
		lossValue, correct, err := r.step(b)
		if err != nil {
			return nil, err
		}
		r.last = nil
		r.st.Step++
		r.noteLoss(lossValue)
		if err := r.checkDivergence(total, b); err != nil {
			return nil, err
		}
		if r.look != nil {
			r.look.afterStep(r.st.Step)
		}
		r.st.Position = r.train.Position()
		r.st.Epoch.add(lossValue, correct, b.N)
		elapsed := time.Since(epochStart).Seconds()
		prog.update(b.Index+1, r.st.Epoch, float64(r.st.Epoch.Images-imagesAtStart)/elapsed)
		if b.Index == perEpoch-1 {
			m, err := r.endEpoch(b.Epoch+1, float64(r.st.Epoch.Images-imagesAtStart)/elapsed)
			if err != nil {
				return nil, err
			}
			prog.finish(m)
			epochStart, imagesAtStart = time.Now(), 0
			continue
		}
		if r.cfg.CheckpointEvery > 0 && r.st.Step%r.cfg.CheckpointEvery == 0 && !r.lossExploded() {
			if err := r.save(false); err != nil {
				return nil, err
			}
		}
	}
	return r.finish()
}

// step trains on one batch and returns its loss and the number it got right.
func (r *runner) step(b *cifar10.Batch) (float64, int, error) {
	g := r.net.Train
	copy(g.Input.Value().Data().([]float32), b.Images)
	copy(r.labels, b.Labels)
	r.net.SetStep(r.st.Step)
	r.vm.Reset()
	if err := r.vm.RunAll(); err != nil {
		err = loss.FromMachine(err)
		if errors.Is(err, loss.ErrNonFinite) { // the loss node refuses non-finite logits
			return 0, 0, r.diverged(r.st.Step+1, b, "the logits are not finite")
		}
		return 0, 0, fmt.Errorf("step %d: %w", r.st.Step+1, err)
	}
	l := float64(r.cost.Value().Data().(float32))
	if math.IsNaN(l) || math.IsInf(l, 0) {
		return 0, 0, r.diverged(r.st.Step+1, b, fmt.Sprintf("the loss is %v", l))
	}
	r.gradBuf = r.gradBuf[:0]
	for _, gr := range r.grads {
		r.gradBuf = append(r.gradBuf, gr.Value().Data().([]float32))
	}
	if err := r.opt.Step(r.sched.LR(r.st.Step), r.gradBuf); err != nil {
		return 0, 0, err
	}
	return l, countCorrect(g.Logits.Value().Data().([]float32), b.Labels), nil
}

func countCorrect(logits []float32, labels []int) int {
	k := len(logits) / len(labels)
	right := 0
	for n, y := range labels {
		best := 0
		for c := 1; c < k; c++ {
			if logits[n*k+c] > logits[n*k+best] {
				best = c
			}
		}
		if best == y {
			right++
		}
	}
	return right
}

// split names what evaluate measures: "val" (-val's held-out images) or "test".
func (r *runner) split() string {
	if r.cfg.Val > 0 {
		return "val"
	}
	return "test"
}

// evaluate runs the evaluation graph over the evaluation split (test, or -val's); with
// -tta flip, each image's logits are the mean of its own and its mirror image's.
func (r *runner) evaluate() (Evaluation, error) {
	g := r.net.Eval
	k := len(r.data.Classes)
	e := newEvaluator(k)
	if err := r.test.Seek(cifar10.Position{Seed: 0}); err != nil {
		return Evaluation{}, err
	}
	in := g.Input.Value().Data().([]float32)
	var sum []float32
	for range r.test.BatchesPerEpoch() {
		b := r.test.Next()
		copy(in, b.Images)
		clear(in[len(b.Images):]) // a short last batch: the rest of the graph's batch is ignored
		logits, err := r.infer()
		if err != nil {
			return Evaluation{}, err
		}
		logits = logits[:b.N*k]
		if r.cfg.TTA == "flip" {
			sum = append(sum[:0], logits...)
			mirror(in[:len(b.Images)])
			if logits, err = r.infer(); err != nil {
				return Evaluation{}, err
			}
			for i := range sum {
				sum[i] = (sum[i] + logits[i]) / 2
			}
			logits = sum
		}
		e.add(logits, b.Labels)
	}
	return e.result(), nil
}

// infer runs the evaluation graph on its bound images and returns its logits.
func (r *runner) infer() ([]float32, error) {
	r.evm.Reset()
	if err := r.evm.RunAll(); err != nil {
		return nil, fmt.Errorf("evaluation: %w", loss.FromMachine(err))
	}
	return r.net.Eval.Logits.Value().Data().([]float32), nil
}

// mirror flips images [n,3,32,32] left to right in place.
func mirror(images []float32) {
	for row := 0; row < len(images); row += cifar10.Width {
		slices.Reverse(images[row : row+cifar10.Width])
	}
}

// initFromData gives data-dependent layers (airbench's whitening) the first 5,000 training
// images, normalised, unaugmented. A resumed run overwrites them from its checkpoint.
func (r *runner) initFromData() error {
	if !r.net.NeedsData() {
		return nil
	}
	n := min(5000, r.data.Train.Len())
	it, err := cifar10.NewIterator(r.data.Train.Slice(0, n), cifar10.IterConfig{BatchSize: n, Mean: r.mean, Std: r.std})
	if err != nil {
		return err
	}
	defer it.Close()
	return r.net.InitFromData(it.Next().Images, n)
}

func (r *runner) endEpoch(epoch int, imgPerS float64) (EpochMetrics, error) {
	ev, err := r.evaluate()
	if err != nil {
		return EpochMetrics{}, err
	}
	r.last = &ev
	m := EpochMetrics{Epoch: epoch, Step: r.st.Step, LR: r.sched.LR(r.st.Step - 1),
		TrainLoss: r.st.Epoch.Loss / float64(max(r.st.Epoch.Batches, 1)), TrainAcc: float64(r.st.Epoch.Correct) / float64(max(r.st.Epoch.Images, 1)),
		TestLoss: ev.Loss, TestLossBits: ev.LossBits, TestAcc: ev.Accuracy, Split: r.split(), ECE: ev.ECE, PerClass: ev.PerClass,
		ImgPerS: imgPerS, WallS: r.st.WallBefore + time.Since(r.start).Seconds(),
		Model: r.cfg.Model, Params: r.net.Params.Count(), FLOPs: 2 * r.net.MACs(), Config: r.cfg}
	r.st.Metrics = append(r.st.Metrics, m)
	r.st.Epoch = epochTally{}
	best := ev.Accuracy > r.st.BestAcc
	if best {
		r.st.BestAcc = ev.Accuracy
	}
	if err := r.appendMetrics(m); err != nil {
		return m, err
	}
	if r.lossExploded() { // the guard stops the run within a few steps; keep the last good checkpoint newest
		return m, nil
	}
	return m, r.save(best)
}

func (r *runner) interrupted() (*Result, error) {
	if err := r.save(false); err != nil {
		return nil, err
	}
	if r.cfg.CheckpointDir != "" {
		fmt.Fprintf(r.out, "\ninterrupted at step %d: checkpoint saved in %s; continue with -resume\n", r.st.Step, r.cfg.CheckpointDir)
	} else {
		fmt.Fprintf(r.out, "\ninterrupted at step %d: nothing saved (no -checkpoint-dir)\n", r.st.Step)
	}
	return &Result{Metrics: r.st.Metrics}, ErrInterrupted
}

func (r *runner) finish() (*Result, error) {
	if r.last == nil { // e.g. a resumed run that had already finished
		ev, err := r.evaluate()
		if err != nil {
			return nil, err
		}
		r.last = &ev
	}
	ev := *r.last
	splitName := "test"
	if r.split() == "val" {
		splitName = fmt.Sprintf("validation (last %d training images)", r.cfg.Val)
	}
	fmt.Fprintf(r.out, "\nfinal: %s accuracy %.2f%%, loss %.4f nats (%.4f bits), ECE %.4f, %d steps, %.1f s\n",
		splitName, 100*ev.Accuracy, ev.Loss, ev.LossBits, ev.ECE, r.st.Step, r.st.WallBefore+time.Since(r.start).Seconds())
	printConfusion(r.out, ev, r.data.Classes)
	if plot := r.plotPath(); plot != "" && len(r.st.Metrics) > 0 {
		if err := writePlot(plot, r.st.Metrics); err != nil {
			return nil, err
		}
		fmt.Fprintf(r.out, "curves: %s\n", plot)
	}
	return &Result{Metrics: r.st.Metrics, Final: ev}, nil
}
