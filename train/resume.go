package train

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"example.com/xent/checkpoints"
)

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

// resume restores the newest checkpoint, after checking that every tensor and setting it
// holds fits this run: nothing is changed unless all of it does. Without a checkpoint it
// starts afresh under -resume=auto, and is an error under -resume.
func (r *runner) resume() error {
	path, err := r.store().Latest()
	if err != nil {
		return err
	}
	if path == "" {
		if r.cfg.Resume == ResumeAuto {
			fmt.Fprintf(r.out, "resume: no checkpoint in %s yet; starting afresh (-resume=auto)\n", r.cfg.CheckpointDir)
			return nil
		}
		return fmt.Errorf("-resume: no step checkpoint in %s (a mistyped folder?); pass -resume=auto to start afresh when there is none", r.cfg.CheckpointDir)
	}
	c, err := checkpoints.Read(path)
	if err != nil {
		return err
	}
	var st state
	if err := json.Unmarshal(c.Meta, &st); err != nil {
		return fmt.Errorf("resume: %s: metadata: %w", path, err)
	}
	if err := r.compatible(path, &st); err != nil {
		return err
	}
	changes := configChanges(st.Config, r.cfg)
	if n := st.Normalization; n != nil && *n != r.normalization() {
		changes = append(changes, fmt.Sprintf("-data %s: the training images' channel mean %v and std %v, the checkpoint's %v and %v",
			r.data.Dir, r.mean, r.std, n.Mean, n.Std))
	}
	if len(changes) > 0 && !r.cfg.AcceptChanges {
		return fmt.Errorf("resume: %s: this run changes %s (the checkpoint's value first): the run would match no uninterrupted one; "+
			"give the checkpoint's values to resume bit for bit, -accept-changes to go on with these, or another -checkpoint-dir to start afresh",
			path, strings.Join(changes, ", "))
	}
	fresh, err := r.fits(path, c, len(changes) > 0)
	if err != nil {
		return err
	}
	for _, p := range r.net.Params.List() {
		copy(p.T.Data().([]float32), c.Tensors[p.Name].Data)
	}
	if fresh[optimizerPrefix] {
		fmt.Fprintf(r.out, "resume: the checkpoint's optimizer state does not fit -optimizer %s: it starts afresh\n", r.cfg.Optimizer)
	} else {
		opt := map[string][]float32{}
		for name, t := range c.Tensors {
			if n, ok := strings.CutPrefix(name, optimizerPrefix); ok {
				opt[n] = t.Data
			}
		}
		if err := r.opt.SetState(opt, st.OptimizerSteps); err != nil {
			return fmt.Errorf("resume: %s: %w", path, err)
		}
	}
	if r.look != nil {
		for name, slow := range r.look.state() {
			if fresh[lookaheadPrefix] { // the slow weights start from the weights resumed
				copy(slow, c.Tensors[name].Data)
			} else {
				copy(slow, c.Tensors[lookaheadPrefix+name].Data)
			}
		}
	}
	if err := r.train.Seek(st.Position); err != nil {
		return fmt.Errorf("resume: %s: %w", path, err)
	}
	r.cfg.Changes = slices.Clone(st.Config.Changes)
	for _, ch := range changes {
		r.cfg.Changes = append(r.cfg.Changes, fmt.Sprintf("step %d: %s", st.Step, ch))
	}
	if len(changes) > 0 {
		fmt.Fprintf(r.out, "resume: accepted changes: %s\n", strings.Join(changes, ", "))
	}
	st.Config = r.cfg
	r.st = st
	return nil
}

// compatible reports the first way the checkpoint's state st (of the file at path) can
// not continue in this run at all: another version, model or data order.
func (r *runner) compatible(path string, st *state) error {
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
	case st.Position.Seed != r.cfg.Seed || st.Position.Index >= r.train.BatchesPerEpoch():
		return mismatch("position at batch %d of an epoch of %d, seed %d", st.Position.Index, r.train.BatchesPerEpoch(), st.Position.Seed)
	}
	return nil
}

// fits reports the first tensor of the checkpoint c at path that does not fit this run.
// The model's tensors must all be there in their shapes. So must the optimizer's and
// Lookahead's, unless accepted (the run resumes with accepted changes of settings): then
// those that do not fit start afresh, and fresh says whose (by prefix).
func (r *runner) fits(path string, c *checkpoints.Checkpoint, accepted bool) (fresh map[string]bool, err error) {
	mismatch := func(format string, a ...any) error {
		return fmt.Errorf("resume: %s: %s", path, fmt.Sprintf(format, a...))
	}
	want := map[string][]int{}
	for _, p := range r.net.Params.List() {
		want[p.Name] = p.T.Shape().Clone()
	}
	for name, buf := range r.buffers() {
		want[name] = []int{len(buf)}
	}
	fresh = map[string]bool{}
	for name, shape := range want {
		t, ok := c.Tensors[name]
		if ok && slices.Equal(t.Shape, shape) {
			continue
		}
		if prefix := statePrefix(name); accepted && prefix != "" {
			fresh[prefix] = true
			continue
		}
		if !ok {
			return nil, mismatch("no tensor %s", name)
		}
		return nil, mismatch("tensor %s has shape %v, the model's is %v", name, t.Shape, shape)
	}
	for name := range c.Tensors {
		if _, ok := want[name]; !ok && !(accepted && statePrefix(name) != "") {
			return nil, mismatch("tensor %s is not in this model", name)
		}
	}
	return fresh, nil
}

// statePrefix returns the prefix of name if it is an optimizer or Lookahead buffer, else "".
func statePrefix(name string) string {
	for _, p := range []string{optimizerPrefix, lookaheadPrefix} {
		if strings.HasPrefix(name, p) {
			return p
		}
	}
	return ""
}

// courseFree are the fields of Config (by JSON key) that a resumed run may change freely:
// where the data and the outputs are, what and when it evaluates, and (like the number
// of ranks, which no checkpoint records) how the ranks gather BatchNorm's statistics.
// Every other field changes the course of training, so a change is refused unless
// -accept-changes is given; a field added later is in that set until listed here.
var courseFree = map[string]bool{
	"data": true, "download": true, "own_data": true, "eval_batch": true,
	"checkpoint_dir": true, "checkpoint_every": true, "keep": true, "resume": true,
	"accept_changes": true, "changes": true, "metrics": true, "plot": true, "preset": true,
	"sync_bn": true, "eval_every": true,
}

// configChanges lists the fields outside courseFree in which now differs from was, each
// as "-flag was -> now".
func configChanges(was, now Config) []string {
	var out []string
	wv, nv := reflect.ValueOf(was), reflect.ValueOf(now)
	for i := range wv.NumField() {
		f := wv.Type().Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if courseFree[key] || reflect.DeepEqual(wv.Field(i).Interface(), nv.Field(i).Interface()) {
			continue
		}
		out = append(out, fmt.Sprintf("-%s %s -> %s", f.Tag.Get("flag"), show(wv.Field(i)), show(nv.Field(i))))
	}
	return out
}

// show prints a flag's value as a user would type it.
func show(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case string:
		if x == "" {
			return `""`
		}
		return x
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v.Interface())
}
