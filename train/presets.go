package train

import "strings"

// airbenchRecipe is airbench94's training recipe at batch 256, in xent's terms: the loss is
// a batch mean, so airbench's lr 11.5 per 1024 summed examples with momentum 0.85 becomes a
// peak of 11.5/1024 * 256/(1 + 1/(1-0.85)) = 0.375, and its weight decay 0.0153 per 1024
// examples, applied as lr*wd per step, becomes wd = 0.0153*1024/11.5/1024 = 1.33e-3;
// Nesterov momentum 0.85; the triangular schedule; label smoothing 0.2; random translation
// by up to 2 pixels (reflect padding) and alternating flips; flip test-time augmentation.
var airbenchRecipe = Config{Batch: 256, EvalBatch: 500, LR: 0.375, Optimizer: SGD, Schedule: Triangular,
	WD: 1.33e-3, Momentum: 0.85, Nesterov: true, LabelSmoothing: 0.2,
	Augment: Augmentation{Crop: 2, Reflect: true, AltFlip: true}, TTA: FlipTTA, Keep: 2}

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
	"cnn-small": {Model: "cnn-small", Epochs: 4, Batch: 128, EvalBatch: 500, LR: 0.05, Optimizer: SGD,
		Schedule: Triangular, WD: 5e-4, Momentum: 0.9, Nesterov: true, LabelSmoothing: 0.1,
		Augment: Augmentation{Crop: 4, Reflect: true, Flip: true}, TTA: NoTTA, Keep: 2},
	// mlp: the peers' MLP for 8 epochs: 57.8% on -val 5000 in 52 s (lr 0.01: 57.6%; 0.05:
	// 58.4%, after a rise of the loss in epoch 2).
	"mlp": {Model: "mlp", Epochs: 8, Batch: 128, EvalBatch: 500, LR: 0.02, Optimizer: SGD,
		Schedule: Triangular, WD: 5e-4, Momentum: 0.9, Nesterov: true, Augment: Augmentation{Flip: true}, TTA: NoTTA, Keep: 2},
	// resnet-tiny: the peers' residual net (no BatchNorm) for 6 epochs: 73.2% on -val 5000
	// (lr 0.05: 69.0%).
	"resnet-tiny": {Model: "resnet-tiny", Epochs: 6, Batch: 128, EvalBatch: 500, LR: 0.1, Optimizer: SGD,
		Schedule: Triangular, WD: 5e-4, Momentum: 0.9, Nesterov: true, LabelSmoothing: 0.1,
		Augment: Augmentation{Crop: 4, Reflect: true, Flip: true}, TTA: FlipTTA, Keep: 2},
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
