package train

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"

	"example.com/xent/data/cifar10"
)

// ErrDiverged is a run stopped because its training loss went non-finite or exploded.
var ErrDiverged = errors.New("the training loss diverged")

// The divergence guard: a run stops when the median training loss of its last guardWindow
// steps (all of them in a shorter run, once done) exceeds guardFactor x log K nats, ten
// times what predicting uniformly over the K classes costs (23.0 nats for CIFAR-10). A
// learning run never gets there, and one that diverges passes it within a few steps of
// the explosion (SGD at lr 0.375 on the mlp: 1e21 after an epoch; AdamW at lr 1e3: 4e9).
// The median needs most of the window above the limit, so a few bad batches do not stop
// a run.
// While the last step's loss is above the limit no checkpoint is written, so the newest
// one is from before the loss exploded: the one to resume from with a lower -lr.
const (
	guardWindow = 10
	guardFactor = 10
)

// lossLimit is the guard's limit in nats.
func (r *runner) lossLimit() float64 { return guardFactor * math.Log(float64(len(r.data.Classes))) }

// noteLoss records a step's loss in the guard's window.
func (r *runner) noteLoss(l float64) {
	r.st.Recent = append(r.st.Recent, l)
	if len(r.st.Recent) > guardWindow {
		r.st.Recent = slices.Delete(r.st.Recent, 0, 1)
	}
}

// lossExploded reports whether the last step's loss is above the guard's limit.
func (r *runner) lossExploded() bool {
	n := len(r.st.Recent)
	return n > 0 && r.st.Recent[n-1] > r.lossLimit()
}

// checkDivergence returns an ErrDiverged naming -lr if the guard's window is full (or
// holds every step of a shorter run) and its median is above the limit; b is the batch of
// the step just done.
func (r *runner) checkDivergence(total int, b *cifar10.Batch) error {
	n := len(r.st.Recent)
	if n < min(guardWindow, total) {
		return nil
	}
	sorted := slices.Sorted(slices.Values(r.st.Recent))
	median := (sorted[(n-1)/2] + sorted[n/2]) / 2
	if !(median > r.lossLimit()) {
		return nil
	}
	return r.diverged(r.st.Step, b, fmt.Sprintf("the median of the last %d steps' losses is %.4g nats, more than %d x log(%d) = %.1f",
		n, median, guardFactor, len(r.data.Classes), r.lossLimit()))
}

// diverged is the error that stops a diverged run at step (from 1) on batch b: what
// happened, what was kept, and the flag to change.
func (r *runner) diverged(step int, b *cifar10.Batch, what string) error {
	kept := "nothing was saved (no -checkpoint-dir)"
	if r.cfg.CheckpointDir != "" {
		kept = "no checkpoint was written"
		if latest, err := r.store().Latest(); err == nil && latest != "" {
			kept = "the last checkpoint, " + filepath.Base(latest) + ", is kept"
		}
	}
	return fmt.Errorf("step %d (epoch %d, batch %d): %w: %s; stopping (%s); try a lower -lr (this run's is %g)",
		step, b.Epoch+1, b.Index, ErrDiverged, what, kept, r.cfg.LR)
}
