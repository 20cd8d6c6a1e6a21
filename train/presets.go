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

// airbench94Recipe is airbench94_muon's (Keller Jordan's cifar10-airbench, 2025: 94.01% mean
// over 200 runs in 8 epochs) in xent's terms, on its network (airbench, 64/256/256), for 10
// epochs: on -val 5000 seed 1 gave 94.02% at 8 epochs and 94.18% at 10; on the test split
// seeds 1-3 gave 93.66%, 94.07% and 93.99% at 8, and 94.01%, 94.21% and 93.99% at 10, then
// in about 25 minutes on two Zen 5 cores; at 887203b 94.09%, 94.22% and 93.98% at 10 in
// about 15 (README). Batch 2000, Muon (lr 0.24,
// Nesterov momentum 0.6, 3 Newton-Schulz steps, the weights renormalised) on the
// convolution filters, and Nesterov SGD with momentum 0.85 on the rest, all on
// lr x (1 - step/total). The record sums its loss over the batch, xent takes the
// mean, so a rate for SGD is the record's x 2000: its biases' 0.053 is 106, which xent's
// BatchNorm shift reaches at -lr x 64 (its bias_scaler, kept from airbench94): -lr is 1.656.
// The head's 0.67 over logits divided by 256 equals 1.656 over xent's logits divided by 9
// (the step's effect on the logits scales as lr/scale^2, and xent's initial head is the
// record's rescaled: 1/sqrt(3*256)/9 against 1/256 per unit). Weight decay 0.004 per step
// (the record's 2e-6 x 2000 as lr x wd/lr) is wd = 0.004/1.656 on the head; xent does not
// decay biases and BatchNorm. The whitening bias at 106, falling to 0 over the first 3
// epochs, then frozen; label smoothing 0.2; translation by up to 2 pixels (reflect) and
// alternating flips; test-time augmentation level 2 (flip-translate), evaluated after the
// last epoch only; the rest is airbenchRecipe's (evaluation in batches of 500 keeps its
// graph a quarter of the training one's size).
var airbench94Recipe = func() Config {
	c := airbenchRecipe // its Nesterov momentum 0.85, smoothing, augmentation, eval batch and Keep
	c.Model, c.Epochs, c.Batch, c.LR, c.WD, c.Schedule = "airbench", 10, 2000, 1.656, 0.004/1.656, Linear
	c.Optimizer, c.MuonLR, c.MuonMomentum, c.MuonSteps = Muon, 0.24, 0.6, 3
	c.TTA, c.EvalEvery, c.WhitenBiasEpochs, c.WhitenBiasLR = TranslateTTA, EvalAtEnd, 3, 106
	return c
}()

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
	// airbench94: airbench94_muon's recipe (above) for 10 epochs, 94% in about 15 minutes.
	"airbench94": airbench94Recipe,
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
