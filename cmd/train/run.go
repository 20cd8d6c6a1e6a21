package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"

	"example.com/xent/internal/dist"
	"example.com/xent/model"
	"example.com/xent/train"
)

// process is what the command does to its process around the run: its cores and its
// CPU profile. They are not part of the run's Config (the same run gives the same
// weights with any of them).
type process struct {
	threads    int    // GOMAXPROCS; 0 = every core
	cpuProfile string // write a CPU profile here
}

// parse turns the arguments into a Config: the recipe of -preset if given, else the
// named architecture's own (-model, train.PresetFor), else train.DefaultPreset's; then
// every flag given.
func parse(args []string) (train.Config, process, error) {
	var proc process
	preset := train.DefaultPreset
	if m, ok := flagValue(args, "model"); ok {
		preset = train.PresetFor(m)
	}
	if p, ok := flagValue(args, "preset"); ok { // the preset decides the defaults, so it is read first
		preset = p
	}
	cfg, ok := train.Presets[preset]
	if !ok {
		var names []string
		for n := range train.Presets {
			names = append(names, n)
		}
		sort.Strings(names)
		return cfg, proc, fmt.Errorf("-preset %q: want one of %s", preset, strings.Join(names, ", "))
	}
	cfg.Preset = preset
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.Preset, "preset", preset, "recipe to start from: quick (about 2 min), standard (about 9 min), airbench (about 30 min), airbench94 (94%, about 15 min), cnn-small, mlp, resnet-tiny, resnet9 (default: -model's own, else quick)")
	fs.StringVar(&cfg.Data, "data", cfg.Data, "cifar-10-batches-bin folder (default $CIFAR10_DIR, else ~/.cache/cifar10/cifar-10-batches-bin)")
	fs.BoolVar(&cfg.Download, "download", cfg.Download, "download CIFAR-10 (MD5-checked) if the folder is absent")
	fs.BoolVar(&cfg.OwnData, "own-data", cfg.OwnData, "the folder holds a dataset of your own in CIFAR-10's format: batch files of any number of records (the official ones hold 10,000)")
	fs.StringVar(&cfg.Model, "model", cfg.Model, "architecture: "+strings.Join(model.Names(), "; ")+
		"; or a spec such as conv32,bn,relu,pool2,res(conv32,bn,relu),gap,fc10 (tokens: model.ParseSpec)")
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "epochs")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "images per training step")
	fs.IntVar(&cfg.EvalBatch, "eval-batch", cfg.EvalBatch, "images per evaluation pass")
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "peak learning rate")
	fs.Var(&cfg.Optimizer, "optimizer", "sgd, adamw, or muon (Muon on the convolution filters, sgd on the rest)")
	fs.Float64Var(&cfg.MuonLR, "muon-lr", cfg.MuonLR, "-optimizer muon: the filters' peak learning rate (0: 0.24, airbench94_muon's)")
	fs.Float64Var(&cfg.MuonMomentum, "muon-momentum", cfg.MuonMomentum, "-optimizer muon: the filters' Nesterov momentum (0: 0.6)")
	fs.IntVar(&cfg.MuonSteps, "muon-steps", cfg.MuonSteps, "-optimizer muon: Newton-Schulz iterations (0: 3)")
	fs.Var(&cfg.Schedule, "schedule", "learning-rate schedule: constant, step, cosine, triangular, linear (from the peak down to 0)")
	fs.Float64Var(&cfg.WD, "wd", cfg.WD, "weight decay (not on biases and BatchNorm)")
	fs.Float64Var(&cfg.Momentum, "momentum", cfg.Momentum, "SGD momentum (AdamW beta1)")
	fs.BoolVar(&cfg.Nesterov, "nesterov", cfg.Nesterov, "Nesterov momentum (sgd)")
	fs.Float64Var(&cfg.Clip, "clip", cfg.Clip, "clip each step's gradients to this global L2 norm (0: no clipping)")
	fs.Float64Var(&cfg.LabelSmoothing, "label-smoothing", cfg.LabelSmoothing, "label smoothing eps")
	fs.Var(&cfg.Augment, "augment", "comma list of crop (pad 4), cropN (pad N), reflect, flip, altflip; or none")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed")
	fs.IntVar(&proc.threads, "threads", 0, "cores to use (0: all; under mpirun, this machine's cores shared among its ranks)")
	fs.StringVar(&cfg.CheckpointDir, "checkpoint-dir", cfg.CheckpointDir, "folder for checkpoints (empty: none)")
	fs.IntVar(&cfg.CheckpointEvery, "checkpoint-every", cfg.CheckpointEvery, "steps between checkpoints (0: epoch ends only)")
	fs.IntVar(&cfg.Keep, "keep", cfg.Keep, "step checkpoints to keep, besides the best")
	fs.Var(&cfg.Resume, "resume", "continue from the newest checkpoint in -checkpoint-dir (an error if there is none); -resume=auto: if there is one")
	fs.BoolVar(&cfg.AcceptChanges, "accept-changes", cfg.AcceptChanges, "with -resume: go on although flags that change the training's course differ from the checkpoint's (recorded in the metrics' config)")
	fs.StringVar(&cfg.Metrics, "metrics", cfg.Metrics, "JSON-lines metrics file, a line per epoch")
	fs.StringVar(&cfg.Plot, "plot", cfg.Plot, "PNG of the loss and accuracy curves (default: the metrics file + .png)")
	fs.IntVar(&cfg.Subset, "subset", cfg.Subset, "use only the first N training images (0: all)")
	fs.IntVar(&cfg.Val, "val", cfg.Val, "hold out the last N training images (5000: data_batch_5's second half) and evaluate on them, not on the test split (metrics keys val_*)")
	fs.BoolVar(&cfg.Lookahead, "lookahead", cfg.Lookahead, "Lookahead (airbench): every 5 steps move a slow copy of the weights toward them and continue from it")
	fs.Var(&cfg.TTA, "tta", "test-time augmentation: none, flip (mean logits of image and mirror), or flip-translate (airbench94's level 2: also the image moved a pixel down-right and up-left, weighted 1/2, 1/4, 1/4)")
	fs.Var(&cfg.EvalEvery, "eval-every", "evaluate after every N-th epoch and the last (default 1); end: after the last only")
	fs.IntVar(&cfg.WhitenBiasEpochs, "whiten-bias-epochs", cfg.WhitenBiasEpochs, "train the whitening layer's bias for the first N epochs only, its rate falling from -lr to 0 over them (airbench94_muon: 3; 0: throughout)")
	fs.Float64Var(&cfg.WhitenBiasLR, "whiten-bias-lr", cfg.WhitenBiasLR, "with -whiten-bias-epochs: the whitening bias's starting rate (0: -lr)")
	fs.BoolVar(&cfg.SyncBN, "sync-bn", cfg.SyncBN, "under mpirun (a build with MPI): BatchNorm statistics over the global batch, not each rank's shard")
	fs.StringVar(&proc.cpuProfile, "cpuprofile", "", "write a CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, proc, usage(fs)
		}
		return cfg, proc, err
	}
	if fs.NArg() > 0 {
		return cfg, proc, fmt.Errorf("unexpected argument %q (flags start with -)", fs.Arg(0))
	}
	if proc.threads < 0 || proc.threads > runtime.NumCPU() {
		return cfg, proc, fmt.Errorf("-threads %d: this machine has %d cores; want 0 (all) to %d", proc.threads, runtime.NumCPU(), runtime.NumCPU())
	}
	return cfg, proc, nil
}

// flagValue returns the value given to flag name in args (-name v, -name=v, and -- forms).
func flagValue(args []string, name string) (string, bool) {
	value, found := "", false
	for i, a := range args {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		k, v, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if k != name {
			continue
		}
		if hasValue {
			value, found = v, true
		} else if i+1 < len(args) {
			value, found = args[i+1], true
		}
	}
	return value, found
}

// errUsage is returned for -h after the usage has been printed.
var errUsage = errors.New("usage")

func usage(fs *flag.FlagSet) error {
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	return fmt.Errorf("%w:\n%s", errUsage, b.String())
}

// run is the whole command, testable: parse, set up the process, train.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, proc, err := parse(args)
	if errors.Is(err, errUsage) {
		fmt.Fprintln(stdout, "usage: train [flags]")
		fmt.Fprintln(stdout, strings.TrimPrefix(err.Error(), "usage:\n"))
		return nil
	}
	if err != nil {
		return err
	}
	if proc.threads == 0 && world.Size() > 1 { // each rank its share of this machine's cores
		if share := max(runtime.NumCPU()/dist.LocalRanks(), 1); share < runtime.GOMAXPROCS(0) {
			proc.threads = share
		}
	}
	if proc.threads > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(proc.threads))
	}
	if proc.cpuProfile != "" {
		f, err := os.Create(proc.cpuProfile)
		if err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	_, err = train.RunParallel(ctx, world, cfg, stdout)
	return err
}
