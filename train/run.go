package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/data/cifar10"
	"example.com/xent/internal/dist"
	"example.com/xent/internal/graphop"
	"example.com/xent/loss"
	"example.com/xent/metric"
	"example.com/xent/model"
	"example.com/xent/optim"
)

// ErrInterrupted is returned when the context was cancelled (SIGINT, SIGTERM): the run
// saved a checkpoint at the step boundary, if it keeps checkpoints, and stopped.
var ErrInterrupted = errors.New("train: interrupted")

// Result is what a finished run reports.
type Result struct {
	Metrics []EpochMetrics
	Final   metric.Evaluation
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
	test    *cifar10.Iterator  // the evaluation split: the test split, or the held-out training images with -val
	look    *lookahead         // with -lookahead
	last    *metric.Evaluation // of the model as it is now: the last epoch's, until a step changes it
	st      state
	start   time.Time
	release func()    // of the checkpoint folder's lock
	comm    dist.Comm // the ranks training together (dist.Single alone)
	flat    []float32 // with several ranks: the step's gradients, loss, right answers and stop flag, summed over them
	comms   commTally // the epoch's all-reduces
	stopAll bool      // a rank was interrupted: all stop after the step just done
	ttaSum  []float32 // an evaluation batch's logits under -tta
	// with -whiten-bias-epochs: the whitening biases, Frozen from step frozenFrom on
	frozen     []*model.Param
	frozenFrom int

	mean, std [3]float32 // of the training images' channels, for normalisation
}

// Run trains as cfg says, writing progress to out, until the last epoch or until ctx is
// cancelled (then it checkpoints and returns ErrInterrupted). It uses the cores that
// GOMAXPROCS allows.
func Run(ctx context.Context, cfg Config, out io.Writer) (*Result, error) {
	return RunParallel(ctx, dist.Single, cfg, out)
}

// setup makes everything a step needs, in the order data flows: the outputs checked, the
// data, the model and its graphs, the batches, the optimizer, the data-dependent
// initialisation, then the checkpoint resumed from.
func (r *runner) setup(ctx context.Context) error {
	if err := r.checkOutputs(); err != nil {
		return err
	}
	arch, init, err := model.Named(r.cfg.Model)
	if err != nil {
		return fmt.Errorf("-model: %w", err)
	}
	if err := r.openData(ctx); err != nil {
		return err
	}
	opts := model.Options{TrainBatch: r.cfg.Batch / r.ranks(), EvalBatch: r.cfg.EvalBatch, Seed: r.cfg.Seed, Replica: r.comm.Rank()}
	if r.cfg.SyncBN && r.ranks() > 1 {
		opts.SumReplicas = r.comm.Sum64
	}
	if r.net, err = model.Build(r.cfg.Model, arch, init, opts); err != nil {
		return err
	}
	if k := r.net.Train.Logits.Shape()[1]; k != len(r.data.Classes) {
		return fmt.Errorf("-model %s: %d logits per image, but the data has %d classes", r.cfg.Model, k, len(r.data.Classes))
	}
	if err := r.buildGraphs(); err != nil {
		return err
	}
	if err := r.buildBatches(); err != nil {
		return err
	}
	if err := r.buildOptimizer(); err != nil {
		return err
	}
	if err := r.initFromData(); err != nil {
		return err
	}
	if r.cfg.Lookahead { // after the data-dependent init, before a resume overwrites both
		r.look = newLookahead(r.net.Params.List(), r.cfg.Epochs*r.train.BatchesPerEpoch())
	}
	r.st = state{Version: stateVersion, Model: r.cfg.Model, Config: r.cfg, BestAcc: -1, Position: r.train.Position()}
	if err := r.resumeOrStart(); err != nil {
		return err
	}
	if err := r.share(); err != nil {
		return err
	}
	r.printStart()
	return nil
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

// loop runs the steps: next batch, forward and backward, the optimizer's update (and
// Lookahead's), the tallies and the progress bar; at an epoch's end an evaluation, a
// metrics line and a checkpoint; between, a checkpoint every -checkpoint-every steps.
func (r *runner) loop(ctx context.Context) (*Result, error) {
	perEpoch := r.train.BatchesPerEpoch()
	total := r.cfg.Epochs * perEpoch
	prog := newProgress(r.out, perEpoch)
	epochStart := time.Now()
	imagesAtStart := r.st.Epoch.Images
	for r.st.Step < total {
		if r.interruptedAnywhere(ctx) {
			return r.interrupted()
		}
		b := r.train.Next()
		if b.Index == 0 || r.st.Epoch.Images == imagesAtStart {
			prog.start(b.Epoch+1, r.cfg.Epochs, b.Index)
		}
		lossValue, correct, err := r.step(ctx, b)
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
		r.st.Epoch.add(lossValue, correct, b.N*r.ranks()) // the shards are equal
		imgPerS := float64(r.st.Epoch.Images-imagesAtStart) / time.Since(epochStart).Seconds()
		prog.update(b.Index+1, r.st.Epoch, imgPerS)
		if b.Index == perEpoch-1 {
			m, err := r.endEpoch(b.Epoch+1, imgPerS)
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

// step trains on one batch (this rank's shard of it): forward and backward through the
// training graph, the gradients summed over the ranks, clipped (-clip), and the optimizer's
// update at the schedule's rate. It returns the global batch's loss and how many of its
// images the model got right.
func (r *runner) step(ctx context.Context, b *cifar10.Batch) (float64, int, error) {
	g := r.net.Train
	copy(graphop.Slice[float32](g.Input.Value().(*tensor.Dense)), b.Images)
	copy(r.labels, b.Labels)
	r.net.SetStep(r.st.Step)
	for _, p := range r.frozen {
		p.Frozen = r.st.Step >= r.frozenFrom
	}
	r.vm.Reset()
	l, correct := math.NaN(), 0
	if err := r.vm.RunAll(); err != nil {
		err = loss.FromMachine(err)
		if !errors.Is(err, loss.ErrNonFinite) {
			return 0, 0, fmt.Errorf("step %d: %w", r.st.Step+1, err)
		}
		if r.ranks() == 1 { // the loss node refuses non-finite logits
			return 0, 0, r.diverged(r.st.Step+1, b, "the logits are not finite")
		}
		// several ranks: a NaN loss in the all-reduce makes every rank stop here
	} else {
		l = float64(r.cost.Value().Data().(float32))
		logits, err := graphop.Data[float32](g.Logits.Value(), "the logits")
		if err != nil {
			return 0, 0, err
		}
		correct = countCorrect(logits, b.Labels)
	}
	r.gradBuf = r.gradBuf[:0]
	for _, gr := range r.grads {
		d, err := graphop.Data[float32](gr.Value(), "a gradient")
		if err != nil {
			return 0, 0, fmt.Errorf("step %d: %w", r.st.Step+1, err)
		}
		r.gradBuf = append(r.gradBuf, d)
	}
	if r.ranks() > 1 {
		t, err := r.allReduce(l, correct, ctx.Err() != nil)
		if err != nil {
			return 0, 0, fmt.Errorf("step %d: %w", r.st.Step+1, err)
		}
		l, correct, r.stopAll = t.loss, t.correct, t.stop
	}
	if math.IsNaN(l) || math.IsInf(l, 0) {
		return 0, 0, r.diverged(r.st.Step+1, b, fmt.Sprintf("the loss is %v", l))
	}
	if r.cfg.Clip > 0 {
		optim.ClipGradNorm(r.gradBuf, r.cfg.Clip)
	}
	if err := r.opt.Step(r.sched.LR(r.st.Step), r.gradBuf); err != nil {
		return 0, 0, err
	}
	return l, correct, nil
}

// endEpoch evaluates the model (at the epochs -eval-every says), writes the epoch's metrics
// line and its checkpoint (also as the best one if its accuracy is the best so far).
func (r *runner) endEpoch(epoch int, imgPerS float64) (EpochMetrics, error) {
	var ev metric.Evaluation
	evaluated := r.cfg.evaluates(epoch)
	if evaluated {
		var err error
		if ev, err = r.evaluate(); err != nil {
			return EpochMetrics{}, err
		}
		r.last = &ev
	}
	m := r.epochMetrics(epoch, ev, imgPerS)
	m.Unevaluated = !evaluated
	r.comms = commTally{}
	r.st.Metrics = append(r.st.Metrics, m)
	r.st.Epoch = epochTally{}
	best := evaluated && ev.Accuracy > r.st.BestAcc
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

// interrupted saves a checkpoint of the step just done and says so.
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
