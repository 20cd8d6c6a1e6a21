package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"xent/model"
	"xent/train"
)

// parse turns the arguments into a Config: the preset's recipe (-preset, default
// train.DefaultPreset), then every flag given.
func parse(args []string) (train.Config, error) {
	preset := train.DefaultPreset
	for i, a := range args { // the preset decides the defaults, so it is read first
		if v, ok := strings.CutPrefix(strings.TrimLeft(a, "-"), "preset="); ok && strings.HasPrefix(a, "-") {
			preset = v
		} else if (a == "-preset" || a == "--preset") && i+1 < len(args) {
			preset = args[i+1]
		}
	}
	cfg, ok := train.Presets[preset]
	if !ok {
		var names []string
		for n := range train.Presets {
			names = append(names, n)
		}
		sort.Strings(names)
		return cfg, fmt.Errorf("-preset %q: want one of %s", preset, strings.Join(names, ", "))
	}
	cfg.Preset = preset
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.Preset, "preset", preset, "recipe to start from: quick (about 2 min), standard (about 9 min), airbench (about 30 min), cnn-small")
	fs.StringVar(&cfg.Data, "data", cfg.Data, "cifar-10-batches-bin folder (default $CIFAR10_DIR, else ~/.cache/cifar10/cifar-10-batches-bin)")
	fs.BoolVar(&cfg.Download, "download", cfg.Download, "download CIFAR-10 (MD5-checked) if the folder is absent")
	fs.StringVar(&cfg.Model, "model", cfg.Model, "architecture: "+strings.Join(model.Names(), "; ")+
		"; or a spec such as conv32,bn,relu,pool2,res(conv32,bn,relu),gap,fc10 (tokens: model.ParseSpec)")
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "epochs")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "images per training step")
	fs.IntVar(&cfg.EvalBatch, "eval-batch", cfg.EvalBatch, "images per evaluation pass")
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "peak learning rate")
	fs.StringVar(&cfg.Optimizer, "optimizer", cfg.Optimizer, "sgd or adamw")
	fs.StringVar(&cfg.Schedule, "schedule", cfg.Schedule, "learning-rate schedule: constant, step, cosine, triangular")
	fs.Float64Var(&cfg.WD, "wd", cfg.WD, "weight decay (not on biases and BatchNorm)")
	fs.Float64Var(&cfg.Momentum, "momentum", cfg.Momentum, "SGD momentum (AdamW beta1)")
	fs.BoolVar(&cfg.Nesterov, "nesterov", cfg.Nesterov, "Nesterov momentum (sgd)")
	fs.Float64Var(&cfg.LabelSmoothing, "label-smoothing", cfg.LabelSmoothing, "label smoothing eps")
	fs.StringVar(&cfg.Augment, "augment", cfg.Augment, "comma list of crop (pad 4), cropN (pad N), reflect, flip, altflip; or none")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed")
	fs.IntVar(&cfg.Threads, "threads", cfg.Threads, "cores to use (0: all)")
	fs.StringVar(&cfg.CheckpointDir, "checkpoint-dir", cfg.CheckpointDir, "folder for checkpoints (empty: none)")
	fs.IntVar(&cfg.CheckpointEvery, "checkpoint-every", cfg.CheckpointEvery, "steps between checkpoints (0: epoch ends only)")
	fs.IntVar(&cfg.Keep, "keep", cfg.Keep, "step checkpoints to keep, besides the best")
	fs.BoolVar(&cfg.Resume, "resume", cfg.Resume, "continue from the newest checkpoint in -checkpoint-dir")
	fs.StringVar(&cfg.Metrics, "metrics", cfg.Metrics, "JSON-lines metrics file, a line per epoch")
	fs.StringVar(&cfg.Plot, "plot", cfg.Plot, "PNG of the loss and accuracy curves (default: the metrics file + .png)")
	fs.IntVar(&cfg.Subset, "subset", cfg.Subset, "use only the first N training images (0: all)")
	fs.IntVar(&cfg.Val, "val", cfg.Val, "hold out the last N training images (5000: data_batch_5's second half) and evaluate on them, not on the test split (metrics keys val_*)")
	fs.BoolVar(&cfg.Lookahead, "lookahead", cfg.Lookahead, "Lookahead (airbench): every 5 steps move a slow copy of the weights toward them and continue from it")
	fs.StringVar(&cfg.TTA, "tta", cfg.TTA, "test-time augmentation: none, or flip (mean logits of image and mirror)")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", cfg.CPUProfile, "write a CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, usage(fs)
		}
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q (flags start with -)", fs.Arg(0))
	}
	return cfg, nil
}

// errUsage is returned for -h after the usage has been printed.
var errUsage = errors.New("usage")

func usage(fs *flag.FlagSet) error {
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	return fmt.Errorf("%w:\n%s", errUsage, b.String())
}

// run is the whole command, testable: parse, then train.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := parse(args)
	if errors.Is(err, errUsage) {
		fmt.Fprintln(stdout, "usage: train [flags]")
		fmt.Fprintln(stdout, strings.TrimPrefix(err.Error(), "usage:\n"))
		return nil
	}
	if err != nil {
		return err
	}
	_, err = train.Run(ctx, cfg, stdout)
	return err
}
