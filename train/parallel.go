package train

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"example.com/xent/internal/dist"
)

// RunParallel trains as one rank of comm's data-parallel job (Run is the job of one
// process). Every rank calls it with the same cfg. Each step, the global batch of
// cfg.Batch images (the same images, in the same order, as one process with cfg.Seed
// would train on) is split into comm.Size() equal shards, one per rank; each rank runs
// forward and backward on its shard, and the gradients are summed over the ranks (one
// all-reduce of one flat buffer) into the mean over the global batch, so that every rank's
// optimizer makes the same update. BatchNorm uses each rank's own batch statistics, as
// PyTorch's DistributedDataParallel does, unless cfg.SyncBN; the running statistics the
// evaluations use are rank 0's (DDP broadcasts rank 0's buffers). Evaluations are split
// across the ranks and their tallies summed.
//
// Rank 0 leads: it alone prints to out, takes the checkpoint folder, resumes from it and
// writes checkpoints, metrics and plots; it broadcasts the starting weights and state to the
// others. A checkpoint holds nothing of the ranks: it resumes with any number of them.
func RunParallel(ctx context.Context, comm dist.Comm, cfg Config, out io.Writer) (*Result, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if n := comm.Size(); cfg.Batch%n != 0 {
		return nil, fmt.Errorf("-batch %d: want a multiple of the %d ranks (each trains an equal part of every batch)", cfg.Batch, n)
	}
	if comm.Rank() != 0 { // the lead's files and words only
		cfg.CheckpointDir, cfg.Metrics, cfg.Plot, cfg.Resume = "", "", "", ResumeNo
		out = io.Discard
	}
	r := &runner{cfg: cfg, out: out, comm: comm, start: time.Now()}
	defer r.close()
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	return r.loop(ctx)
}

// ranks is how many processes train together.
func (r *runner) ranks() int { return r.comm.Size() }

// barrier returns when every rank has called it.
func (r *runner) barrier() error { return r.comm.Sum64([]float64{0}) }

// share makes every rank start where rank 0 stands: its weights (initialised, or resumed)
// with the BatchNorm statistics, the optimizer's and Lookahead's buffers, and its state
// (the step, the data position, the epoch's tallies).
func (r *runner) share() error {
	if r.ranks() == 1 {
		return nil
	}
	st := r.st
	st.OptimizerSteps = r.opt.Steps()
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if b, err = r.comm.BroadcastBytes(b, 0); err != nil {
		return err
	}
	for _, p := range r.net.Params.List() {
		if err := r.comm.Broadcast(p.T.Data().([]float32), 0); err != nil {
			return fmt.Errorf("broadcast of %s: %w", p.Name, err)
		}
	}
	bufs := r.buffers()
	for _, name := range slices.Sorted(maps.Keys(bufs)) {
		if err := r.comm.Broadcast(bufs[name], 0); err != nil {
			return fmt.Errorf("broadcast of %s: %w", name, err)
		}
	}
	if r.comm.Rank() == 0 {
		return nil
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("rank %d: rank 0's state: %w", r.comm.Rank(), err)
	}
	if err := r.train.Seek(st.Position); err != nil {
		return fmt.Errorf("rank %d: %w", r.comm.Rank(), err)
	}
	opt := map[string][]float32{}
	for name, buf := range r.opt.State() {
		opt[name] = buf
	}
	if err := r.opt.SetState(opt, st.OptimizerSteps); err != nil {
		return fmt.Errorf("rank %d: %w", r.comm.Rank(), err)
	}
	st.Config = r.cfg
	r.st = st
	return nil
}

// stepTotals are a step's figures summed over the ranks with its gradients.
type stepTotals struct {
	loss    float64 // the mean of the ranks' losses: the global batch's (NaN if a rank's was not finite)
	correct int     // images of the global batch the model got right
	stop    bool    // a rank was interrupted: every rank stops after this step
}

// allReduce sums the step's gradients (r.gradBuf, the graph's) over the ranks into the
// mean over the global batch, and with them the loss, the count of right answers and
// whether a rank was asked to stop, in one flat buffer: [gradients..., loss, correct, stop].
// Afterwards r.gradBuf points into that buffer. The ranks' losses are means over equal
// shards, so their mean is the global batch's; every rank gets the same bits.
func (r *runner) allReduce(loss float64, correct int, stop bool) (stepTotals, error) {
	n := 0
	for _, g := range r.gradBuf {
		n += len(g)
	}
	if len(r.flat) != n+3 {
		r.flat = make([]float32, n+3)
	}
	off := 0
	for i, g := range r.gradBuf {
		copy(r.flat[off:], g)
		r.gradBuf[i] = r.flat[off : off+len(g) : off+len(g)]
		off += len(g)
	}
	r.flat[n], r.flat[n+1], r.flat[n+2] = float32(loss), float32(correct), 0
	if stop {
		r.flat[n+2] = 1
	}
	start := time.Now()
	if err := r.comm.Sum(r.flat); err != nil {
		return stepTotals{}, err
	}
	r.comms.add(time.Since(start), 4*len(r.flat))
	inv := 1 / float32(r.ranks()) // exact for a power of two ranks
	for i := range r.flat[:n] {
		r.flat[i] *= inv
	}
	return stepTotals{loss: float64(r.flat[n]) / float64(r.ranks()), correct: int(r.flat[n+1]), stop: r.flat[n+2] > 0}, nil
}

// commTally is the all-reduces' time and bytes over an epoch's steps.
type commTally struct {
	steps int
	time  time.Duration
	bytes int // per step
}

func (c *commTally) add(d time.Duration, bytes int) {
	c.steps, c.time, c.bytes = c.steps+1, c.time+d, bytes
}

// perStep is the mean all-reduce time of a step, in seconds.
func (c commTally) perStep() float64 {
	if c.steps == 0 {
		return 0
	}
	return c.time.Seconds() / float64(c.steps)
}

// interruptedAnywhere reports, between steps, whether the run should stop: ctx is done (one
// process), or a rank's was at the last step's all-reduce (several: they stop together,
// after the same step).
func (r *runner) interruptedAnywhere(ctx context.Context) bool {
	if r.ranks() == 1 {
		return ctx.Err() != nil
	}
	return r.stopAll
}

// shareStatistics gives every rank rank 0's BatchNorm running statistics (and every other
// tensor that is not trained) before an evaluation, as DDP broadcasts rank 0's buffers; and
// checks that the trained weights are the same on every rank.
func (r *runner) shareStatistics() error {
	if r.ranks() == 1 {
		return nil
	}
	var h float64 // a checksum of the trained weights, in one order on every rank
	for _, p := range r.net.Params.List() {
		d := p.T.Data().([]float32)
		if !p.Trainable {
			if err := r.comm.Broadcast(d, 0); err != nil {
				return fmt.Errorf("broadcast of %s: %w", p.Name, err)
			}
			continue
		}
		for i, v := range d {
			h += float64(v) * float64(1+i%7)
		}
	}
	ref := []float64{0} // rank 0's checksum, on every rank: the sum of it and zeros
	if r.comm.Rank() == 0 {
		ref[0] = h
	}
	if err := r.comm.Sum64(ref); err != nil {
		return err
	}
	differ := []float64{0}
	if ref[0] != h {
		differ[0] = 1
	}
	if err := r.comm.Sum64(differ); err != nil {
		return err
	}
	if differ[0] > 0 {
		return fmt.Errorf("the trained weights of %v of the %d ranks differ from rank 0's: the all-reduce gave ranks different sums", differ[0], r.ranks())
	}
	return nil
}
