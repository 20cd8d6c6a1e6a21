package train

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"xent/checkpoints"
	"xent/data/cifar10"
)

const stateVersion = 1

// optimizerPrefix marks the optimizer's buffers among a checkpoint's tensors.
const optimizerPrefix = "optimizer/"

// lookaheadPrefix marks Lookahead's slow copies.
const lookaheadPrefix = "lookahead/"

// buffers returns the run's state tensors besides the model's, by checkpoint name: the
// optimizer's and, with -lookahead, the slow weights.
func (r *runner) buffers() map[string][]float32 {
	out := map[string][]float32{}
	for name, buf := range r.opt.State() {
		out[optimizerPrefix+name] = buf
	}
	if r.look != nil {
		for name, buf := range r.look.state() {
			out[lookaheadPrefix+name] = buf
		}
	}
	return out
}

// epochTally sums the training loss and accuracy of the epoch under way.
type epochTally struct {
	Loss    float64 `json:"loss"` // sum of batch losses
	Batches int     `json:"batches"`
	Correct int     `json:"correct"`
	Images  int     `json:"images"`
}

func (t *epochTally) add(l float64, correct, n int) {
	t.Loss += l
	t.Batches++
	t.Correct += correct
	t.Images += n
}

// state is a run's position beyond its tensors: the metadata record of a checkpoint.
type state struct {
	Version        int              `json:"version"`
	Model          string           `json:"model"`
	Config         Config           `json:"config"`
	Step           int              `json:"step"`     // steps done
	Position       cifar10.Position `json:"position"` // of the next training batch
	OptimizerSteps int              `json:"optimizer_steps"`
	Epoch          epochTally       `json:"epoch"` // the epoch under way
	Metrics        []EpochMetrics   `json:"metrics"`
	BestAcc        float64          `json:"best_acc"`
	WallBefore     float64          `json:"wall_s"` // seconds spent by this run before its last resume
}

func (r *runner) store() checkpoint.Store {
	return checkpoint.Store{Dir: r.cfg.CheckpointDir, Keep: r.cfg.Keep}
}

// save writes a checkpoint of the step just done (also as the best one if best).
func (r *runner) save(best bool) error {
	if r.cfg.CheckpointDir == "" {
		return nil
	}
	st := r.st
	st.OptimizerSteps = r.opt.Steps()
	st.WallBefore += time.Since(r.start).Seconds()
	meta, err := json.Marshal(st)
	if err != nil {
		return err
	}
	c := &checkpoint.Checkpoint{Tensors: map[string]checkpoint.Tensor{}, Meta: meta}
	for _, p := range r.net.Params.List() {
		c.Tensors[p.Name] = checkpoint.Tensor{Shape: p.T.Shape().Clone(), Data: p.T.Data().([]float32)}
	}
	for name, buf := range r.buffers() {
		c.Tensors[name] = checkpoint.Tensor{Shape: []int{len(buf)}, Data: buf}
	}
	_, err = r.store().Save(r.st.Step, c, best)
	return err
}

// resume restores the newest checkpoint, after checking that every tensor and setting it
// holds fits this run: nothing is changed unless all of it does.
func (r *runner) resume() error {
	path, err := r.store().Latest()
	if err != nil {
		return err
	}
	if path == "" {
		fmt.Fprintf(r.out, "resume: no checkpoint in %s; starting from scratch\n", r.cfg.CheckpointDir)
		return nil
	}
	c, err := checkpoint.Read(path)
	if err != nil {
		return err
	}
	var st state
	if err := json.Unmarshal(c.Meta, &st); err != nil {
		return fmt.Errorf("resume: %s: metadata: %w", path, err)
	}
	if err := r.fits(path, c, &st); err != nil {
		return err
	}
	for _, p := range r.net.Params.List() {
		copy(p.T.Data().([]float32), c.Tensors[p.Name].Data)
	}
	opt := map[string][]float32{}
	for name, t := range c.Tensors {
		if n, ok := strings.CutPrefix(name, optimizerPrefix); ok {
			opt[n] = t.Data
		}
	}
	if r.look != nil {
		for name, buf := range r.look.state() {
			copy(buf, c.Tensors[lookaheadPrefix+name].Data)
		}
	}
	if err := r.opt.SetState(opt, st.OptimizerSteps); err != nil {
		return fmt.Errorf("resume: %s: %w", path, err)
	}
	if err := r.train.Seek(st.Position); err != nil {
		return fmt.Errorf("resume: %s: %w", path, err)
	}
	st.Config = r.cfg
	r.st = st
	return nil
}

// fits reports the first way the checkpoint c at path does not fit this run.
func (r *runner) fits(path string, c *checkpoint.Checkpoint, st *state) error {
	mismatch := func(format string, a ...any) error {
		return fmt.Errorf("resume: %s: %s", path, fmt.Sprintf(format, a...))
	}
	switch {
	case st.Version != stateVersion:
		return mismatch("state version %d, this program reads %d", st.Version, stateVersion)
	case st.Model != r.cfg.Model:
		return mismatch("checkpoint of model %s, this run trains %s", st.Model, r.cfg.Model)
	case st.Config.Batch != r.cfg.Batch || st.Config.Seed != r.cfg.Seed || st.Config.Subset != r.cfg.Subset || st.Config.Val != r.cfg.Val:
		return mismatch("batch %d, seed %d, subset %d, val %d; this run has %d, %d, %d, %d (the data order depends on them)",
			st.Config.Batch, st.Config.Seed, st.Config.Subset, st.Config.Val, r.cfg.Batch, r.cfg.Seed, r.cfg.Subset, r.cfg.Val)
	case st.Position.Index >= r.train.BatchesPerEpoch():
		return mismatch("position at batch %d of an epoch of %d", st.Position.Index, r.train.BatchesPerEpoch())
	}
	want := map[string][]int{}
	for _, p := range r.net.Params.List() {
		want[p.Name] = p.T.Shape().Clone()
	}
	for name, buf := range r.buffers() {
		want[name] = []int{len(buf)}
	}
	for name, shape := range want {
		t, ok := c.Tensors[name]
		if !ok {
			return mismatch("no tensor %s", name)
		}
		if !slices.Equal(t.Shape, shape) {
			return mismatch("tensor %s has shape %v, the model's is %v", name, t.Shape, shape)
		}
	}
	for name := range c.Tensors {
		if _, ok := want[name]; !ok {
			return mismatch("tensor %s is not in this model", name)
		}
	}
	return nil
}
