// Package train is xent's training loop: data, model, loss, optimizer, evaluation,
// metrics and checkpoints, driven by one Config. cmd/train is a thin command over Run.
package train

import (
	"cmp"
	"fmt"
	"math"

	"example.com/xent/internal/dist"
)

// Config is a whole run. Every field says its unit; a preset gives its defaults, flags of
// cmd/train fill it (each typed field parses its flag once), and it is printed at the
// start and saved in every checkpoint and metrics line. The flag tag names a field's flag.
type Config struct {
	Data             string       `json:"data" flag:"data"`                                       // cifar-10-batches-bin folder; "" = $CIFAR10_DIR, else ~/.cache/cifar10/cifar-10-batches-bin
	Download         bool         `json:"download" flag:"download"`                               // fetch the official archive if the folder is absent
	OwnData          bool         `json:"own_data" flag:"own-data"`                               // the folder is a dataset of one's own in CIFAR-10's format: batch files of any whole number of records (the official ones hold 10,000 each)
	Model            string       `json:"model" flag:"model"`                                     // architecture, e.g. cnn-small, resnet9-32, or a spec (see model.Named)
	Epochs           int          `json:"epochs" flag:"epochs"`                                   // passes over the training images, e.g. 10
	Batch            int          `json:"batch" flag:"batch"`                                     // images per step, e.g. 128
	EvalBatch        int          `json:"eval_batch" flag:"eval-batch"`                           // images per evaluation pass, e.g. 500
	LR               float64      `json:"lr" flag:"lr"`                                           // peak learning rate, e.g. 0.05
	Optimizer        Optimizer    `json:"optimizer" flag:"optimizer"`                             // sgd | adamw | muon (Muon on the conv filters, sgd on the rest)
	Schedule         Schedule     `json:"schedule" flag:"schedule"`                               // constant | step | cosine | triangular | linear
	WD               float64      `json:"wd" flag:"wd"`                                           // weight decay (L2 for sgd, decoupled for adamw), e.g. 5e-4
	Momentum         float64      `json:"momentum" flag:"momentum"`                               // sgd momentum, e.g. 0.9 (adamw: beta1)
	Nesterov         bool         `json:"nesterov" flag:"nesterov"`                               // sgd with Nesterov momentum
	MuonLR           float64      `json:"muon_lr,omitempty" flag:"muon-lr"`                       // -optimizer muon: the filters' peak learning rate (the schedule's shape, as -lr's); 0 = 0.24, airbench94_muon's
	MuonMomentum     float64      `json:"muon_momentum,omitempty" flag:"muon-momentum"`           // -optimizer muon: the filters' Nesterov momentum; 0 = 0.6, the record's
	MuonSteps        int          `json:"muon_steps,omitempty" flag:"muon-steps"`                 // -optimizer muon: Newton-Schulz iterations; 0 = 3, the record's
	Clip             float64      `json:"clip,omitempty" flag:"clip"`                             // largest global L2 norm of a step's gradients (scaled down beyond it, as torch's clip_grad_norm_), e.g. 1; 0 = no clipping
	LabelSmoothing   float64      `json:"label_smoothing" flag:"label-smoothing"`                 // eps of the smoothed target, e.g. 0.1
	Augment          Augmentation `json:"augment" flag:"augment"`                                 // e.g. crop2,reflect,altflip (see Augmentation)
	Seed             uint64       `json:"seed" flag:"seed"`                                       // seeds initialisation, order and augmentation
	CheckpointDir    string       `json:"checkpoint_dir" flag:"checkpoint-dir"`                   // where checkpoints go; "" = none
	CheckpointEvery  int          `json:"checkpoint_every" flag:"checkpoint-every"`               // steps between checkpoints; 0 = at epoch ends only
	Keep             int          `json:"keep" flag:"keep"`                                       // step checkpoints kept (and the best)
	Resume           ResumeMode   `json:"resume" flag:"resume"`                                   // continue from the newest checkpoint in CheckpointDir: no, yes (one must be there) or auto (if one is there)
	AcceptChanges    bool         `json:"accept_changes" flag:"accept-changes"`                   // resume although settings that change the training's course differ from the checkpoint's
	Changes          []string     `json:"changes,omitempty" flag:"-"`                             // the changes accepted at resumes, e.g. "step 120: -lr 0.375 -> 0.2"
	Metrics          string       `json:"metrics" flag:"metrics"`                                 // JSON-lines file, one line per epoch; "" = none
	Plot             string       `json:"plot" flag:"plot"`                                       // PNG of the curves; "" = Metrics with .png
	Subset           int          `json:"subset" flag:"subset"`                                   // use only the first N training images; 0 = all
	Val              int          `json:"val" flag:"val"`                                         // hold out the last N training images and evaluate on them instead of the test split; 0 = none
	Lookahead        bool         `json:"lookahead" flag:"lookahead"`                             // airbench's Lookahead: every 5 steps, pull the weights toward a slow copy; the final model is the slow copy
	TTA              TTA          `json:"tta" flag:"tta"`                                         // test-time augmentation of evaluations: none, or flip
	Preset           string       `json:"preset" flag:"preset"`                                   // the recipe the defaults came from
	SyncBN           bool         `json:"sync_bn,omitempty" flag:"sync-bn"`                       // with several ranks (MPI), BatchNorm's statistics over the global batch rather than each rank's shard
	EvalEvery        EvalEvery    `json:"eval_every,omitempty" flag:"eval-every"`                 // evaluate after every N-th epoch and after the last, e.g. 1; "end": after the last only (airbench94's way: the time goes to training); 0 = 1
	WhitenBiasEpochs int          `json:"whiten_bias_epochs,omitempty" flag:"whiten-bias-epochs"` // airbench94's: the whitening bias trained for the first N epochs only, its rate falling linearly from -lr to 0 over them, e.g. 3; 0 = trained throughout on the schedule
	WhitenBiasLR     float64      `json:"whiten_bias_lr,omitempty" flag:"whiten-bias-lr"`         // with -whiten-bias-epochs: the whitening bias's starting rate, e.g. 106 (airbench94_muon's 0.053 per summed example x 2000); 0 = -lr
}

// evaluates reports whether the run evaluates after epoch (from 1), as -eval-every says.
func (c *Config) evaluates(epoch int) bool {
	switch {
	case epoch == c.Epochs:
		return true
	case c.EvalEvery == EvalAtEnd:
		return false
	}
	return epoch%max(int(c.EvalEvery), 1) == 0
}

// check reports the first field that makes no sense, naming its flag; it fills TTA's
// default. The model's name is checked where it is resolved, once (Run's setup).
func (c *Config) check() error {
	switch {
	case c.Model == "":
		return fmt.Errorf("-model: none given")
	case c.Epochs < 1:
		return fmt.Errorf("-epochs %d: want >= 1", c.Epochs)
	case c.Batch < 1:
		return fmt.Errorf("-batch %d: want >= 1", c.Batch)
	case c.EvalBatch < 1:
		return fmt.Errorf("-eval-batch %d: want >= 1", c.EvalBatch)
	case !(c.LR > 0):
		return fmt.Errorf("-lr %v: want > 0", c.LR)
	case c.WD < 0:
		return fmt.Errorf("-wd %v: want >= 0", c.WD)
	case c.Momentum < 0 || c.Momentum >= 1:
		return fmt.Errorf("-momentum %v: want [0, 1)", c.Momentum)
	case c.Clip < 0:
		return fmt.Errorf("-clip %v: want >= 0 (0: no clipping)", c.Clip)
	case c.LabelSmoothing < 0 || c.LabelSmoothing > 1:
		return fmt.Errorf("-label-smoothing %v: want [0, 1]", c.LabelSmoothing)
	case c.CheckpointEvery < 0:
		return fmt.Errorf("-checkpoint-every %d: want >= 0", c.CheckpointEvery)
	case c.Keep < 1:
		return fmt.Errorf("-keep %d: want >= 1", c.Keep)
	case c.Subset < 0:
		return fmt.Errorf("-subset %d: want >= 0", c.Subset)
	case c.Val < 0:
		return fmt.Errorf("-val %d: want >= 0", c.Val)
	case c.Nesterov && (c.Optimizer == AdamW || c.Momentum == 0):
		return fmt.Errorf("-nesterov needs -optimizer sgd or muon with -momentum > 0 (use -nesterov=false)")
	case c.Resume != ResumeNo && c.CheckpointDir == "":
		return fmt.Errorf("-resume needs -checkpoint-dir")
	case c.EvalEvery < EvalAtEnd:
		return fmt.Errorf("-eval-every %d: want N >= 1, or end", int(c.EvalEvery))
	case c.WhitenBiasEpochs < 0 || c.WhitenBiasEpochs > c.Epochs:
		return fmt.Errorf("-whiten-bias-epochs %d: want 0 (trained throughout) to -epochs (%d)", c.WhitenBiasEpochs, c.Epochs)
	case c.WhitenBiasLR < 0 || c.WhitenBiasLR > 0 && c.WhitenBiasEpochs == 0:
		return fmt.Errorf("-whiten-bias-lr %v: want a rate > 0 with -whiten-bias-epochs N (0: -lr)", c.WhitenBiasLR)
	case c.SyncBN && !dist.Built:
		return fmt.Errorf("-sync-bn is for training over MPI, and this binary was built without it: %s", dist.HowToBuild)
	case c.Optimizer != Muon && (c.MuonLR != 0 || c.MuonMomentum != 0 || c.MuonSteps != 0):
		return fmt.Errorf("-muon-lr, -muon-momentum and -muon-steps go with -optimizer muon")
	case c.MuonLR < 0 || c.MuonMomentum < 0 || c.MuonMomentum >= 1 || c.MuonSteps < 0:
		return fmt.Errorf("-muon-lr %v, -muon-momentum %v, -muon-steps %d: want a rate > 0, momentum in (0, 1), steps >= 1 (0: the record's)",
			c.MuonLR, c.MuonMomentum, c.MuonSteps)
	}
	if c.Optimizer == Muon { // the record's values where none are given
		c.MuonLR = cmp.Or(c.MuonLR, 0.24)
		c.MuonMomentum = cmp.Or(c.MuonMomentum, 0.6)
		c.MuonSteps = cmp.Or(c.MuonSteps, 3)
	}
	for _, f := range []struct {
		flag string
		v    float64
	}{{"-lr", c.LR}, {"-wd", c.WD}, {"-momentum", c.Momentum}, {"-clip", c.Clip}, {"-label-smoothing", c.LabelSmoothing},
		{"-muon-lr", c.MuonLR}, {"-muon-momentum", c.MuonMomentum}, {"-whiten-bias-lr", c.WhitenBiasLR}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("%s %v: want a finite number", f.flag, f.v)
		}
	}
	// the choices, for a Config built in Go rather than by their Set
	if err := (new(Optimizer)).Set(string(c.Optimizer)); err != nil {
		return err
	}
	if err := (new(Schedule)).Set(string(c.Schedule)); err != nil {
		return err
	}
	if err := c.TTA.Set(string(c.TTA)); err != nil {
		return err
	}
	if err := (new(ResumeMode)).Set(string(c.Resume)); err != nil {
		return err
	}
	if err := c.Augment.check(); err != nil {
		return fmt.Errorf("-augment %v: %w", c.Augment, err)
	}
	return nil
}
