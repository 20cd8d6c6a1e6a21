package train

import (
	"encoding/json"
	"time"

	"example.com/xent/checkpoints"
	"example.com/xent/data/cifar10"
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
	WallBefore     float64          `json:"wall_s"`                  // seconds spent by this run before its last resume
	Recent         []float64        `json:"recent_losses,omitempty"` // the divergence guard's window: the last steps' training losses
	Normalization  *Normalization   `json:"normalization,omitempty"` // of the images the weights were trained on (absent in older checkpoints)
	Classes        []string         `json:"classes,omitempty"`       // the class names, in label order (absent in older checkpoints)
}

// Normalization is what the images were normalised with, per channel R, G, B in pixel
// units (0..255): x' = (x - Mean) / Std. A checkpoint stores it, since the weights are of
// no use without it.
type Normalization struct {
	Mean [3]float32 `json:"mean"`
	Std  [3]float32 `json:"std"`
}

// normalization returns this run's normalisation (from its training images).
func (r *runner) normalization() Normalization { return Normalization{Mean: r.mean, Std: r.std} }

func (r *runner) store() checkpoints.Store {
	return checkpoints.Store{Dir: r.cfg.CheckpointDir, Keep: r.cfg.Keep}
}

// save writes a checkpoint of the step just done (also as the best one if best).
func (r *runner) save(best bool) error {
	if r.cfg.CheckpointDir == "" {
		return nil
	}
	st := r.st
	st.OptimizerSteps = r.opt.Steps()
	n := r.normalization()
	st.Normalization, st.Classes = &n, r.data.Classes
	st.WallBefore += time.Since(r.start).Seconds()
	meta, err := json.Marshal(st)
	if err != nil {
		return err
	}
	c := &checkpoints.Checkpoint{Tensors: map[string]checkpoints.Tensor{}, Meta: meta}
	for _, p := range r.net.Params.List() {
		c.Tensors[p.Name] = checkpoints.Tensor{Shape: p.T.Shape().Clone(), Data: p.T.Data().([]float32)}
	}
	for name, buf := range r.buffers() {
		c.Tensors[name] = checkpoints.Tensor{Shape: []int{len(buf)}, Data: buf}
	}
	_, err = r.store().Save(r.st.Step, c, best)
	return err
}
