package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"example.com/xent/internal/atomicfile"
	"example.com/xent/metric"
)

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
	// Unevaluated: no evaluation after this epoch (-eval-every); the line has no test_*
	// (val_*) keys nor ece, and those fields are zero.
	Unevaluated bool `json:"-"`
	// with several ranks (MPI): how many, and the gradients' all-reduce of each step
	Ranks          int     `json:"ranks,omitempty"`
	AllReduceBytes int     `json:"allreduce_bytes_per_step,omitempty"` // of each rank's buffer
	AllReduceS     float64 `json:"allreduce_s_per_step,omitempty"`     // mean over the epoch's steps, rank 0's
}

// epochMetrics is the line of the epoch just done, evaluated as ev.
func (r *runner) epochMetrics(epoch int, ev metric.Evaluation, imgPerS float64) EpochMetrics {
	t := r.st.Epoch
	m := EpochMetrics{Epoch: epoch, Step: r.st.Step, LR: r.sched.LR(r.st.Step - 1),
		TrainLoss: t.Loss / float64(max(t.Batches, 1)), TrainAcc: float64(t.Correct) / float64(max(t.Images, 1)),
		TestLoss: ev.Loss, TestLossBits: ev.LossBits, TestAcc: ev.Accuracy, Split: r.split(), ECE: ev.ECE, PerClass: ev.PerClass,
		ImgPerS: imgPerS, WallS: r.st.WallBefore + time.Since(r.start).Seconds(),
		Model: r.cfg.Model, Params: r.net.Params.Count(), FLOPs: 2 * r.net.MACs(), Config: r.cfg}
	if r.ranks() > 1 {
		m.Ranks, m.AllReduceBytes, m.AllReduceS = r.ranks(), r.comms.bytes, r.comms.perStep()
	}
	return m
}

// valKeys are the keys of a metrics line that hold the evaluation split's figures; with
// -val (Split "val") they are written val_* instead of test_*, so that a validation run can
// never be read as a test result.
var valKeys = []string{"test_loss", "test_loss_bits", "test_acc", "test_acc_per_class"}

// epochJSON is EpochMetrics without its methods, for the default encoding.
type epochJSON EpochMetrics

// MarshalJSON writes the line, with val_* keys when Split is "val", and without the
// evaluation's keys when Unevaluated.
func (m EpochMetrics) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(epochJSON(m))
	if err != nil || (m.Split != "val" && !m.Unevaluated) {
		return b, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	for _, k := range valKeys {
		if !m.Unevaluated {
			fields["val_"+strings.TrimPrefix(k, "test_")] = fields[k]
		}
		delete(fields, k)
	}
	if m.Unevaluated {
		delete(fields, "ece")
	}
	return json.Marshal(fields)
}

// UnmarshalJSON reads a line written by MarshalJSON (test_* or val_* keys).
func (m *EpochMetrics) UnmarshalJSON(b []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return err
	}
	if _, ok := fields["val_acc"]; ok {
		for _, k := range valKeys {
			if v, ok := fields["val_"+strings.TrimPrefix(k, "test_")]; ok {
				fields[k] = v
			}
		}
		var err error
		if b, err = json.Marshal(fields); err != nil {
			return err
		}
	}
	if err := json.Unmarshal(b, (*epochJSON)(m)); err != nil {
		return err
	}
	_, test := fields["test_acc"]
	_, val := fields["val_acc"]
	m.Unevaluated = !test && !val
	return nil
}

func (r *runner) appendMetrics(m EpochMetrics) error {
	if r.cfg.Metrics == "" {
		return nil
	}
	line, err := json.Marshal(m)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(r.cfg.Metrics, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("-metrics: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("-metrics: %w", err)
	}
	return f.Close()
}

// rewriteMetrics makes the metrics file hold exactly the lines of the epochs the run's
// state has done, atomically: none for a new run; for a resumed one, those of its
// checkpoint.
func (r *runner) rewriteMetrics() error {
	if r.cfg.Metrics == "" {
		return nil
	}
	var b bytes.Buffer
	for _, m := range r.st.Metrics {
		line, err := json.Marshal(m)
		if err != nil {
			return err
		}
		b.Write(append(line, '\n'))
	}
	if err := atomicfile.WriteBytes(r.cfg.Metrics, b.Bytes()); err != nil {
		return fmt.Errorf("-metrics: %w", err)
	}
	return nil
}
