package train

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"example.com/xent/internal/blas"
	"example.com/xent/metric"
)

// printStart writes the effective config, the data, the schedule and the model's summary,
// and where a resumed run stands.
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
	if n := r.ranks(); n > 1 {
		stats := "of each rank's shard (-sync-bn: of the whole batch)"
		if r.cfg.SyncBN {
			stats = "of the whole batch (-sync-bn)"
		}
		fmt.Fprintf(r.out, "ranks %d (MPI), rank 0 on %d threads: each trains %d images of every batch of %d; BatchNorm statistics %s\n",
			n, runtime.GOMAXPROCS(0), r.cfg.Batch/n, r.cfg.Batch, stats)
	}
	r.net.Summary(r.out)
	if r.st.Step > 0 {
		fmt.Fprintf(r.out, "resumed at step %d (epoch %d, batch %d)\n", r.st.Step, r.st.Position.Epoch+1, r.st.Position.Index)
		if r.st.Step >= r.cfg.Epochs*r.train.BatchesPerEpoch() {
			fmt.Fprintf(r.out, "the run had finished: its final weights are evaluated; to train afresh, remove %s or give another -checkpoint-dir\n", r.cfg.CheckpointDir)
		}
	}
}

// finish reports the final evaluation (made now if no epoch's is of the final weights),
// the confusion matrix and the curves.
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

// printConfusion writes the confusion matrix with class names.
func printConfusion(w io.Writer, ev metric.Evaluation, classes []string) {
	fmt.Fprintf(w, "confusion matrix (rows: true class, columns: predicted)\n%12s", "")
	for c := range ev.Confusion {
		fmt.Fprintf(w, " %5.5s", classes[c])
	}
	fmt.Fprintln(w, "   acc")
	for c, row := range ev.Confusion {
		var b strings.Builder
		for _, v := range row {
			fmt.Fprintf(&b, " %5d", v)
		}
		fmt.Fprintf(w, "%12s%s %5.1f%%\n", classes[c], b.String(), 100*ev.PerClass[c])
	}
}
