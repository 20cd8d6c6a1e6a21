// Package train is xent's training loop: data, model, loss, optimizer, evaluation,
// metrics and checkpoints, driven by one Config. cmd/train is a thin command over Run.
package train

import (
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"

	"xent/model"
)

// Config is a whole run. Every field says its unit; flags of cmd/train fill it, a preset
// gives its defaults, and it is printed at the start and saved in every checkpoint and
// metrics line.
type Config struct {
	Data            string     `json:"data" flag:"data"`                         // cifar-10-batches-bin folder; "" = $CIFAR10_DIR, else ~/.cache/cifar10/cifar-10-batches-bin
	Download        bool       `json:"download" flag:"download"`                 // fetch the official archive if the folder is absent
	OwnData         bool       `json:"own_data" flag:"own-data"`                 // the folder is a dataset of one's own in CIFAR-10's format: batch files of any whole number of records (the official ones hold 10,000 each)
	Model           string     `json:"model" flag:"model"`                       // architecture, e.g. cnn-small, resnet9-32 (see model.Names)
	Epochs          int        `json:"epochs" flag:"epochs"`                     // passes over the training images, e.g. 10
	Batch           int        `json:"batch" flag:"batch"`                       // images per step, e.g. 128
	EvalBatch       int        `json:"eval_batch" flag:"eval-batch"`             // images per evaluation pass, e.g. 500
	LR              float64    `json:"lr" flag:"lr"`                             // peak learning rate, e.g. 0.05
	Optimizer       string     `json:"optimizer" flag:"optimizer"`               // sgd | adamw
	Schedule        string     `json:"schedule" flag:"schedule"`                 // constant | step | cosine | triangular
	WD              float64    `json:"wd" flag:"wd"`                             // weight decay (L2 for sgd, decoupled for adamw), e.g. 5e-4
	Momentum        float64    `json:"momentum" flag:"momentum"`                 // sgd momentum, e.g. 0.9 (adamw: beta1)
	Nesterov        bool       `json:"nesterov" flag:"nesterov"`                 // sgd with Nesterov momentum
	LabelSmoothing  float64    `json:"label_smoothing" flag:"label-smoothing"`   // eps of the smoothed target, e.g. 0.1
	Augment         string     `json:"augment" flag:"augment"`                   // comma list of crop (pad 4), cropN (pad N), reflect, flip, altflip; or none
	Seed            uint64     `json:"seed" flag:"seed"`                         // seeds initialisation, order and augmentation
	Threads         int        `json:"threads" flag:"threads"`                   // GOMAXPROCS, at most the cores there are; 0 = every core
	CheckpointDir   string     `json:"checkpoint_dir" flag:"checkpoint-dir"`     // where checkpoints go; "" = none
	CheckpointEvery int        `json:"checkpoint_every" flag:"checkpoint-every"` // steps between checkpoints; 0 = at epoch ends only
	Keep            int        `json:"keep" flag:"keep"`                         // step checkpoints kept (and the best)
	Resume          ResumeMode `json:"resume" flag:"resume"`                     // continue from the newest checkpoint in CheckpointDir: no, yes (one must be there) or auto (if one is there)
	AcceptChanges   bool       `json:"accept_changes" flag:"accept-changes"`     // resume although settings that change the training's course differ from the checkpoint's
	Changes         []string   `json:"changes,omitempty" flag:"-"`               // the changes accepted at resumes, e.g. "step 120: -lr 0.375 -> 0.2"
	Metrics         string     `json:"metrics" flag:"metrics"`                   // JSON-lines file, one line per epoch; "" = none
	Plot            string     `json:"plot" flag:"plot"`                         // PNG of the curves; "" = Metrics with .png
	Subset          int        `json:"subset" flag:"subset"`                     // use only the first N training images; 0 = all
	Val             int        `json:"val" flag:"val"`                           // hold out the last N training images and evaluate on them instead of the test split; 0 = none
	Lookahead       bool       `json:"lookahead" flag:"lookahead"`               // airbench's Lookahead: every 5 steps, pull the weights toward a slow copy; the final model is the slow copy
	TTA             string     `json:"tta" flag:"tta"`                           // test-time augmentation: none, or flip (average the logits of each image and its mirror)
	Preset          string     `json:"preset" flag:"preset"`                     // the recipe the defaults came from
	CPUProfile      string     `json:"cpuprofile" flag:"cpuprofile"`             // write a CPU profile here
}

// airbenchRecipe is airbench94's training recipe at batch 256, in xent's terms: the loss is
// a batch mean, so airbench's lr 11.5 per 1024 summed examples with momentum 0.85 becomes a
// peak of 11.5/1024 * 256/(1 + 1/(1-0.85)) = 0.375, and its weight decay 0.0153 per 1024
// examples, applied as lr*wd per step, becomes wd = 0.0153*1024/11.5/1024 = 1.33e-3;
// Nesterov momentum 0.85; the triangular schedule; label smoothing 0.2; random translation
// by up to 2 pixels (reflect padding) and alternating flips; flip test-time augmentation.
var airbenchRecipe = Config{Batch: 256, EvalBatch: 500, LR: 0.375, Optimizer: "sgd", Schedule: "triangular",
	WD: 1.33e-3, Momentum: 0.85, Nesterov: true, LabelSmoothing: 0.2, Augment: "crop2,reflect,altflip",
	TTA: "flip", Keep: 2}

// with returns c with the model, epochs and Lookahead given.
func (c Config) with(model string, epochs int, lookahead bool) Config {
	c.Model, c.Epochs, c.Lookahead = model, epochs, lookahead
	return c
}

// Presets are complete recipes; flags given explicitly override their fields. Their
// accuracy and wall time on this machine are in the README.
var Presets = map[string]Config{
	// quick: airbench's net at widths 32/64/128 for 2 epochs: a first run, about 2 minutes on two cores.
	"quick": airbenchRecipe.with("airbench-32-64-128", 2, false),
	// standard: the same net for 9 epochs, about 8 minutes.
	"standard": airbenchRecipe.with("airbench-32-64-128", 9, false),
	// airbench: airbench94's own widths, 64/256/256, with its Lookahead; 7 epochs fit 30 minutes.
	"airbench": airbenchRecipe.with("airbench", 7, true),
	// cnn-small: the earlier quick recipe, the peers' small CNN for 4 epochs.
	"cnn-small": {Model: "cnn-small", Epochs: 4, Batch: 128, EvalBatch: 500, LR: 0.05, Optimizer: "sgd",
		Schedule: "triangular", WD: 5e-4, Momentum: 0.9, Nesterov: true, LabelSmoothing: 0.1,
		Augment: "crop,reflect,flip", Keep: 2},
	// mlp: the peers' MLP for 8 epochs: 57.8% on -val 5000 in 52 s (lr 0.01: 57.6%; 0.05:
	// 58.4%, after a rise of the loss in epoch 2).
	"mlp": {Model: "mlp", Epochs: 8, Batch: 128, EvalBatch: 500, LR: 0.02, Optimizer: "sgd",
		Schedule: "triangular", WD: 5e-4, Momentum: 0.9, Nesterov: true, Augment: "flip", Keep: 2},
	// resnet-tiny: the peers' residual net (no BatchNorm) for 6 epochs: 73.2% on -val 5000
	// (lr 0.05: 69.0%).
	"resnet-tiny": {Model: "resnet-tiny", Epochs: 6, Batch: 128, EvalBatch: 500, LR: 0.1, Optimizer: "sgd",
		Schedule: "triangular", WD: 5e-4, Momentum: 0.9, Nesterov: true, LabelSmoothing: 0.1,
		Augment: "crop,reflect,flip", TTA: "flip", Keep: 2},
	// resnet9: airbench's recipe for 4 epochs (resnet9-16: 85.2% on -val 5000 in 9 min).
	"resnet9": airbenchRecipe.with("resnet9", 4, false),
}

// DefaultPreset is what a run without -preset or -model starts from.
const DefaultPreset = "quick"

// PresetFor names the recipe that a run of model starts from when no -preset is given:
// the architecture's own (quick for airbench's net at other widths, resnet9 at every
// width), and cnn-small's for a spec or a registered architecture.
func PresetFor(model string) string {
	switch {
	case model == "airbench":
		return "airbench"
	case strings.HasPrefix(model, "airbench-"):
		return "quick"
	case model == "resnet9" || strings.HasPrefix(model, "resnet9-"):
		return "resnet9"
	}
	if _, ok := Presets[model]; ok {
		return model
	}
	return "cnn-small"
}

// check reports the first field that makes no sense, naming its flag.
func (c *Config) check() error {
	if _, _, err := model.Named(c.Model); err != nil {
		return fmt.Errorf("-model: %w", err)
	}
	switch {
	case c.Epochs < 1:
		return fmt.Errorf("-epochs %d: want >= 1", c.Epochs)
	case c.Batch < 1:
		return fmt.Errorf("-batch %d: want >= 1", c.Batch)
	case c.EvalBatch < 1:
		return fmt.Errorf("-eval-batch %d: want >= 1", c.EvalBatch)
	case !(c.LR > 0):
		return fmt.Errorf("-lr %v: want > 0", c.LR)
	case c.Optimizer != "sgd" && c.Optimizer != "adamw":
		return fmt.Errorf("-optimizer %q: want sgd or adamw", c.Optimizer)
	case c.WD < 0:
		return fmt.Errorf("-wd %v: want >= 0", c.WD)
	case c.Momentum < 0 || c.Momentum >= 1:
		return fmt.Errorf("-momentum %v: want [0, 1)", c.Momentum)
	case c.LabelSmoothing < 0 || c.LabelSmoothing > 1:
		return fmt.Errorf("-label-smoothing %v: want [0, 1]", c.LabelSmoothing)
	case c.Threads < 0:
		return fmt.Errorf("-threads %d: want >= 0", c.Threads)
	case c.CheckpointEvery < 0:
		return fmt.Errorf("-checkpoint-every %d: want >= 0", c.CheckpointEvery)
	case c.Keep < 1:
		return fmt.Errorf("-keep %d: want >= 1", c.Keep)
	case c.Subset < 0:
		return fmt.Errorf("-subset %d: want >= 0", c.Subset)
	case c.Val < 0:
		return fmt.Errorf("-val %d: want >= 0", c.Val)
	case c.TTA != "" && c.TTA != "none" && c.TTA != "flip":
		return fmt.Errorf("-tta %q: want none or flip", c.TTA)
	case c.Nesterov && (c.Optimizer != "sgd" || c.Momentum == 0):
		return fmt.Errorf("-nesterov needs -optimizer sgd with -momentum > 0 (use -nesterov=false)")
	case c.Resume != ResumeNo && c.CheckpointDir == "":
		return fmt.Errorf("-resume needs -checkpoint-dir")
	case c.Threads > runtime.NumCPU():
		return fmt.Errorf("-threads %d: this machine has %d cores; want 0 (all) to %d", c.Threads, runtime.NumCPU(), runtime.NumCPU())
	}
	for _, f := range []struct {
		flag string
		v    float64
	}{{"-lr", c.LR}, {"-wd", c.WD}, {"-momentum", c.Momentum}, {"-label-smoothing", c.LabelSmoothing}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("%s %v: want a finite number", f.flag, f.v)
		}
	}
	if _, err := ParseResume(string(c.Resume)); err != nil {
		return err
	}
	switch c.Schedule {
	case "constant", "step", "cosine", "triangular":
	default:
		return fmt.Errorf("-schedule %q: want constant, step, cosine or triangular", c.Schedule)
	}
	if _, err := parseAugment(c.Augment); err != nil {
		return err
	}
	return nil
}

// augmentation is what -augment asks for.
type augmentation struct {
	crop          int // padding of the random crop (translation by up to crop pixels); 0 = none
	reflect       bool
	flip, altflip bool
}

func parseAugment(s string) (augmentation, error) {
	var a augmentation
	if s == "" || s == "none" {
		return a, nil
	}
	for _, w := range strings.Split(s, ",") {
		w = strings.TrimSpace(w)
		if n, ok := strings.CutPrefix(w, "crop"); ok && n != "" {
			pad, err := strconv.Atoi(n)
			if err != nil || pad < 1 || pad > 16 {
				return a, fmt.Errorf("-augment %q: %q: want cropN with N in 1..16 pixels", s, w)
			}
			a.crop = pad
			continue
		}
		switch w {
		case "crop":
			a.crop = 4
		case "reflect":
			a.reflect = true
		case "flip":
			a.flip = true
		case "altflip":
			a.altflip = true
		default:
			return a, fmt.Errorf("-augment %q: unknown %q (want a comma list of crop (4 pixels), cropN (N pixels), reflect, flip, altflip, or none)", s, w)
		}
	}
	if a.flip && a.altflip {
		return a, fmt.Errorf("-augment %q: flip and altflip exclude each other", s)
	}
	if a.reflect && a.crop == 0 {
		return a, fmt.Errorf("-augment %q: reflect is a crop's padding; add crop", s)
	}
	return a, nil
}
