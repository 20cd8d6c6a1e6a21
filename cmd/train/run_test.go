package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"example.com/xent/checkpoints"
	"example.com/xent/data/cifar10"
	"example.com/xent/data/cifar10/cifar10test"
	"example.com/xent/train"
)

// syntheticData writes a small CIFAR-10 folder: 5 x perFile training and test images.
func syntheticData(t *testing.T, perFile, test int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cifar-10-batches-bin")
	if err := cifar10test.WriteFolder(dir, perFile, test); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestEndToEnd(t *testing.T) {
	data := syntheticData(t, 16, 40)
	dir := t.TempDir()
	metrics := filepath.Join(dir, "m.jsonl")
	var out bytes.Buffer
	err := run(context.Background(), []string{"-data", data, "-own-data", "-model", "mlp", "-epochs", "2", "-batch", "16",
		"-eval-batch", "32", "-lr", "0.01", "-checkpoint-dir", filepath.Join(dir, "ck"), "-metrics", metrics, "-seed", "3"}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{`"model": "mlp"`, "total     mlp", "epoch   2/2", "final: test accuracy", "confusion matrix", "curves:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	b, err := os.ReadFile(metrics)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d metrics lines, want 2", len(lines))
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &m); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"epoch", "step", "train_loss", "train_acc", "test_loss", "test_loss_bits", "test_acc", "ece", "img_per_s", "wall_s", "config"} {
		if _, ok := m[key]; !ok {
			t.Errorf("metrics line lacks %q", key)
		}
	}
	if m["step"].(float64) != 10 || math.Abs(m["test_loss_bits"].(float64)-m["test_loss"].(float64)/math.Ln2) > 1e-9 {
		t.Errorf("metrics %v", m)
	}
	if _, err := os.Stat(metrics + ".png"); err != nil {
		t.Errorf("no plot: %v", err)
	}
	for _, f := range []string{"best.safetensors", "step-000000010.safetensors"} {
		if _, err := checkpoints.Read(filepath.Join(dir, "ck", f)); err != nil {
			t.Errorf("checkpoint %s: %v", f, err)
		}
	}
}

// stopAfter is a context whose Err turns Canceled after n calls: the training loop asks it
// once per step, so the run stops at a chosen step boundary, as after SIGINT.
type stopAfter struct {
	context.Context
	n atomic.Int64
}

func (c *stopAfter) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

func finalWeights(t *testing.T, dir string) map[string]checkpoints.Tensor {
	t.Helper()
	latest, err := checkpoints.Store{Dir: dir}.Latest()
	if err != nil || latest == "" {
		t.Fatalf("no checkpoint in %s: %v", dir, err)
	}
	c, err := checkpoints.Read(latest)
	if err != nil {
		t.Fatal(err)
	}
	return c.Tensors
}

// An interrupted and resumed run ends with the same bits as an uninterrupted one: weights,
// BatchNorm statistics and optimizer state; for airbench's net also the whitening filters
// set from data and the BatchNorm shifts at 64x the learning rate.
func TestResumeIsBitExact(t *testing.T) {
	data := syntheticData(t, 16, 16) // 80 training images: 5 steps of 16 per epoch
	for _, recipe := range [][]string{
		{"-model", "resnet9-4", "-augment", "crop,reflect,flip"},
		{"-model", "airbench-4-8-8", "-augment", "crop2,reflect,altflip", "-tta", "flip", "-momentum", "0.85", "-lookahead"},
		{"-model", "airbench-4-8-8", "-optimizer", "muon", "-momentum", "0.85", "-nesterov", "-muon-lr", "0.1",
			"-whiten-bias-epochs", "1", "-tta", "flip-translate"},
	} {
		args := func(ck string) []string {
			return append([]string{"-data", data, "-own-data", "-epochs", "3", "-batch", "16", "-eval-batch", "16",
				"-lr", "0.02", "-checkpoint-dir", ck, "-checkpoint-every", "2", "-seed", "9"}, recipe...)
		}
		whole := filepath.Join(t.TempDir(), "whole")
		if err := run(context.Background(), args(whole), new(bytes.Buffer)); err != nil {
			t.Fatal(err)
		}
		parts := filepath.Join(t.TempDir(), "parts")
		for _, stopAt := range []int64{7, 4} { // stop mid-epoch twice, then finish
			ctx := &stopAfter{Context: context.Background()}
			ctx.n.Store(stopAt)
			err := run(ctx, append(args(parts), "-resume=auto"), new(bytes.Buffer)) // the first part finds no checkpoint
			if !errors.Is(err, train.ErrInterrupted) {
				t.Fatalf("%v: stop after %d steps: err = %v, want ErrInterrupted", recipe, stopAt, err)
			}
		}
		var out bytes.Buffer
		if err := run(context.Background(), append(args(parts), "-resume"), &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "resumed at step 11") {
			t.Errorf("%v: the last part did not resume at step 11:\n%s", recipe, out.String())
		}
		want, got := finalWeights(t, whole), finalWeights(t, parts)
		if len(want) != len(got) {
			t.Fatalf("%v: %d tensors, uninterrupted %d", recipe, len(got), len(want))
		}
		for name, w := range want {
			g := got[name]
			for i := range w.Data {
				if math.Float32bits(g.Data[i]) != math.Float32bits(w.Data[i]) {
					t.Fatalf("%v: %s[%d] = %v after resuming, %v uninterrupted", recipe, name, i, g.Data[i], w.Data[i])
				}
			}
		}
	}
}

// -val holds out the last N training images and evaluates on them alone: metrics say
// val_*, never test_*, and the run reports the validation split.
func TestValidationSplit(t *testing.T) {
	data := syntheticData(t, 16, 40)
	metrics := filepath.Join(t.TempDir(), "m.jsonl")
	var out bytes.Buffer
	err := run(context.Background(), []string{"-data", data, "-own-data", "-model", "mlp", "-epochs", "2", "-batch", "16",
		"-eval-batch", "16", "-lr", "0.01", "-val", "32", "-tta", "flip", "-metrics", metrics}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"48 training, 32 validation", "val loss", "final: validation (last 32 training images) accuracy"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	b, err := os.ReadFile(metrics)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"val_acc", "val_loss", "val_loss_bits", "val_acc_per_class"} {
		if _, ok := m[key]; !ok {
			t.Errorf("metrics line lacks %q: %v", key, m)
		}
	}
	if _, ok := m["test_acc"]; ok || m["split"] != "val" {
		t.Errorf("a validation run wrote test_acc or split %v", m["split"])
	}
	var back train.EpochMetrics // and it reads back with the figures in place
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &back); err != nil || back.TestAcc != m["val_acc"].(float64) || back.Split != "val" {
		t.Errorf("read back %+v, %v", back, err)
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		damage func(data string)
		want   string
	}{
		{"bad flag value", []string{"-lr", "fast"}, nil, "-lr"},
		{"unknown model", []string{"-model", "vgg"}, nil, "-model"},
		{"unknown augmentation", []string{"-augment", "rotate"}, nil, "-augment"},
		{"resume without a folder", []string{"-resume"}, nil, "-checkpoint-dir"},
		{"nesterov without momentum", []string{"-momentum", "0"}, nil, "-nesterov"},
		{"validation as large as the training split", []string{"-val", "80"}, nil, "-val 80"},
		{"negative validation", []string{"-val", "-1"}, nil, "-val"},
		{"unknown test-time augmentation", []string{"-tta", "rotate"}, nil, "-tta"},
		{"crop of no pixels", []string{"-augment", "crop0"}, nil, "crop0"},
		{"airbench widths", []string{"-model", "airbench-8-8"}, nil, "-model"},
		{"truncated data file", nil, func(d string) { os.Truncate(filepath.Join(d, "data_batch_2.bin"), 100) }, "data_batch_2.bin"},
		{"missing data file", nil, func(d string) { os.Remove(filepath.Join(d, "test_batch.bin")) }, "test_batch.bin"},
		{"bad label", nil, func(d string) {
			p := filepath.Join(d, "data_batch_4.bin")
			b, _ := os.ReadFile(p)
			b[3*cifar10.RecordSize] = 11
			os.WriteFile(p, b, 0o644)
		}, "data_batch_4.bin: record 3"},
	}
	for _, tc := range tests {
		data := syntheticData(t, 16, 16)
		base := []string{"-data", data, "-own-data", "-model", "mlp", "-epochs", "1", "-batch", "16", "-eval-batch", "16"}
		if tc.damage != nil {
			tc.damage(data)
		}
		err := run(context.Background(), append(append([]string{}, base...), tc.args...), new(bytes.Buffer))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want one line naming %q", tc.name, err, tc.want)
		}
	}
}

func TestResumeRefusesMismatches(t *testing.T) {
	data := syntheticData(t, 16, 16)
	ck := filepath.Join(t.TempDir(), "ck")
	args := []string{"-data", data, "-own-data", "-epochs", "1", "-batch", "16", "-eval-batch", "16", "-checkpoint-dir", ck}
	if err := run(context.Background(), append(args, "-model", "mlp"), new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), append(args, "-model", "cnn-small", "-resume"), new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "model mlp") {
		t.Errorf("resuming mlp as cnn-small: err = %v", err)
	}
	latest, _ := checkpoints.Store{Dir: ck}.Latest()
	b, _ := os.ReadFile(latest)
	b[len(b)-1] ^= 1
	os.WriteFile(latest, b, 0o644)
	err = run(context.Background(), append(args, "-model", "mlp", "-resume"), new(bytes.Buffer))
	if !errors.Is(err, checkpoints.ErrCorrupt) {
		t.Errorf("resuming from a corrupted checkpoint: err = %v", err)
	}
}

func TestNonFiniteLossStops(t *testing.T) {
	data := syntheticData(t, 32, 16)
	ck := filepath.Join(t.TempDir(), "ck")
	err := run(context.Background(), []string{"-data", data, "-own-data", "-model", "mlp", "-epochs", "3", "-batch", "16", "-eval-batch", "16",
		"-lr", "1e30", "-optimizer", "sgd", "-momentum", "0", "-nesterov=false", "-checkpoint-dir", ck, "-checkpoint-every", "1"}, new(bytes.Buffer))
	if !errors.Is(err, train.ErrDiverged) || !strings.Contains(err.Error(), "the logits are not finite") ||
		!strings.Contains(err.Error(), "try a lower -lr (this run's is 1e+30)") || !strings.Contains(err.Error(), "is kept") {
		t.Fatalf("err = %v, want the divergence stop naming -lr and the checkpoint kept", err)
	}
	latest, _ := checkpoints.Store{Dir: ck}.Latest()
	if latest == "" {
		t.Fatal("no checkpoint from the steps before the loss went non-finite")
	}
	if _, err := checkpoints.Read(latest); err != nil {
		t.Errorf("the last checkpoint is not loadable: %v", err)
	}
	step, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(latest), "step-"), ".safetensors"))
	if step < 1 {
		t.Errorf("latest checkpoint %s", latest)
	}
}

// Real data: a short run on a subset learns (test accuracy well above chance).
func TestRealDataShortRun(t *testing.T) {
	dir := os.Getenv("CIFAR10_DIR")
	if dir == "" {
		t.Skip("CIFAR10_DIR is not set: skipping the real-data run (export CIFAR10_DIR=$(../shared/cifar10/get | tail -n 1))")
	}
	res, err := train.Run(context.Background(), train.Config{Data: dir, Model: "mlp", Epochs: 2, Batch: 100, EvalBatch: 1000,
		LR: 0.01, Optimizer: train.SGD, Momentum: 0.9, Nesterov: true, Schedule: train.Triangular, Augment: train.Augmentation{Flip: true}, Keep: 1, Subset: 5000}, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if res.Final.Accuracy < 0.25 {
		t.Errorf("test accuracy %.3f after 2 epochs on 5000 images, want well above chance (>= 0.25)", res.Final.Accuracy)
	}
	t.Logf("test accuracy %.3f", res.Final.Accuracy)
}
