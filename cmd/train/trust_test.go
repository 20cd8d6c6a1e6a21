package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"example.com/xent/checkpoints"
	"example.com/xent/data/cifar10"
	"example.com/xent/train"
)

// tinyRun is the arguments of a short mlp run on data (5 steps of 16 per epoch on
// syntheticData(t, 16, 16)), with checkpoints in ck every 2 steps, then extra.
func tinyRun(data, ck string, extra ...string) []string {
	args := []string{"-data", data, "-own-data", "-model", "mlp", "-epochs", "2", "-batch", "16", "-eval-batch", "16",
		"-lr", "0.01", "-seed", "1", "-checkpoint-dir", ck, "-checkpoint-every", "2", "-keep", "20"}
	return append(args, extra...)
}

func sameWeights(t *testing.T, what string, want, got map[string]checkpoints.Tensor) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%s: %d tensors, want %d", what, len(got), len(want))
	}
	for name, w := range want {
		for i := range w.Data {
			if math.Float32bits(got[name].Data[i]) != math.Float32bits(w.Data[i]) {
				t.Fatalf("%s: %s[%d] = %v, want %v", what, name, i, got[name].Data[i], w.Data[i])
			}
		}
	}
}

// A checkpoint written before the first step (SIGINT 0.25 s into a run) resumes, to the
// weights of an uninterrupted run.
func TestInterruptBeforeTheFirstStepResumes(t *testing.T) {
	data := syntheticData(t, 16, 16)
	whole, parts := filepath.Join(t.TempDir(), "whole"), filepath.Join(t.TempDir(), "parts")
	if err := run(context.Background(), tinyRun(data, whole), new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	ctx := &stopAfter{Context: context.Background()} // cancelled before the first step
	var out bytes.Buffer
	if err := run(ctx, tinyRun(data, parts), &out); !errors.Is(err, train.ErrInterrupted) || !strings.Contains(out.String(), "interrupted at step 0") {
		t.Fatalf("err = %v, want ErrInterrupted at step 0:\n%s", err, out.String())
	}
	if err := run(context.Background(), tinyRun(data, parts, "-resume"), new(bytes.Buffer)); err != nil {
		t.Fatalf("resuming the step-0 checkpoint: %v", err)
	}
	sameWeights(t, "resumed from step 0", finalWeights(t, whole), finalWeights(t, parts))
}

// A run killed between an epoch's metrics line and its checkpoint resumes from the step
// checkpoint before: the metrics file then holds each epoch once.
func TestMetricsAgreeWithTheCheckpoint(t *testing.T) {
	data := syntheticData(t, 16, 16)
	ck := filepath.Join(t.TempDir(), "ck")
	metrics := filepath.Join(t.TempDir(), "m.jsonl")
	if err := run(context.Background(), tinyRun(data, ck, "-metrics", metrics), new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	// as if killed after epoch 2's line, before its checkpoint: step 10's is not there
	if err := os.Remove(filepath.Join(ck, "step-000000010.safetensors")); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), tinyRun(data, ck, "-metrics", metrics, "-resume"), new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(metrics)
	if err != nil {
		t.Fatal(err)
	}
	var epochs []int
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m train.EpochMetrics
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		epochs = append(epochs, m.Epoch)
	}
	if len(epochs) != 2 || epochs[0] != 1 || epochs[1] != 2 {
		t.Errorf("metrics lines of epochs %v, want [1 2]", epochs)
	}
}

// Temporary files of interrupted writes are removed at start, and said so.
func TestStaleTemporaryFilesAreRemoved(t *testing.T) {
	data := syntheticData(t, 16, 16)
	ck := filepath.Join(t.TempDir(), "ck")
	if err := run(context.Background(), tinyRun(data, ck, "-epochs", "1"), new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{".tmp-step-000000004.safetensors-1234", ".tmp-best.safetensors-5678"} {
		os.WriteFile(filepath.Join(ck, name), make([]byte, 1000), 0o600)
	}
	var out bytes.Buffer
	if err := run(context.Background(), tinyRun(data, ck, "-epochs", "1", "-resume"), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "removed 2 temporary files of interrupted writes") {
		t.Errorf("output does not say the temporary files were removed:\n%s", out.String())
	}
	if left, _ := filepath.Glob(filepath.Join(ck, ".tmp-*")); len(left) > 0 {
		t.Errorf("left: %v", left)
	}
}

// -resume needs a checkpoint; -resume=auto does not; a new run does not write into
// another run's folder.
func TestResumeNeedsACheckpoint(t *testing.T) {
	data := syntheticData(t, 16, 16)
	empty := filepath.Join(t.TempDir(), "empty")
	err := run(context.Background(), tinyRun(data, empty, "-resume"), new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "no step checkpoint in "+empty) || !strings.Contains(err.Error(), "-resume=auto") {
		t.Errorf("-resume of an empty folder: err = %v", err)
	}
	bestOnly := filepath.Join(t.TempDir(), "best")
	if err := run(context.Background(), tinyRun(data, bestOnly, "-epochs", "1"), new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	steps, _ := filepath.Glob(filepath.Join(bestOnly, "step-*"))
	for _, s := range steps {
		os.Remove(s)
	}
	if err := run(context.Background(), tinyRun(data, bestOnly, "-resume"), new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "no step checkpoint") {
		t.Errorf("-resume of a folder with only %s: err = %v", checkpoints.BestName, err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), tinyRun(data, empty, "-resume=auto"), &out); err != nil || !strings.Contains(out.String(), "starting afresh") {
		t.Errorf("-resume=auto of an empty folder: err = %v\n%s", err, out.String())
	}
	err = run(context.Background(), tinyRun(data, empty), new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "holds another run's checkpoints") {
		t.Errorf("a new run into a folder of checkpoints: err = %v", err)
	}
}

// A resume with settings that change the training's course is refused, naming each flag
// with both values, unless -accept-changes, which the metrics record.
func TestResumeRefusesChangedSettings(t *testing.T) {
	data := syntheticData(t, 16, 16)
	ck := filepath.Join(t.TempDir(), "ck")
	if err := run(&stopAfter{Context: context.Background()}, tinyRun(data, ck, "-epochs", "1"), new(bytes.Buffer)); !errors.Is(err, train.ErrInterrupted) {
		t.Fatal(err)
	}
	changed := []string{"-lr", "0.5", "-epochs", "3", "-augment", "none", "-optimizer", "adamw", "-nesterov=false", "-lookahead"}
	err := run(context.Background(), tinyRun(data, ck, append(changed, "-resume")...), new(bytes.Buffer))
	for _, want := range []string{"-lr 0.01 -> 0.5", "-epochs 1 -> 3", "-augment flip -> none", "-optimizer sgd -> adamw",
		"-nesterov true -> false", "-lookahead false -> true", "-accept-changes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to name %q", err, want)
		}
	}
	// what may change freely: where outputs go, the threads, the evaluation batch
	free := []string{"-epochs", "1", "-lr", "0.02", "-eval-batch", "8", "-threads", "1", "-keep", "3", "-resume", "-accept-changes", "-metrics", filepath.Join(t.TempDir(), "m.jsonl")}
	if err := run(context.Background(), tinyRun(data, ck, free...), new(bytes.Buffer)); err != nil {
		t.Fatalf("with -accept-changes: %v", err)
	}
	b, _ := os.ReadFile(free[len(free)-1])
	var m train.EpochMetrics
	if err := json.Unmarshal(bytes.TrimSpace(b), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Config.Changes) != 1 || m.Config.Changes[0] != "step 0: -lr 0.01 -> 0.02" {
		t.Errorf("metrics config records changes %q, want [step 0: -lr 0.01 -> 0.02]", m.Config.Changes)
	}
	// another optimizer, and Lookahead: their state starts afresh
	ck2 := filepath.Join(t.TempDir(), "ck")
	if err := run(&stopAfter{Context: context.Background()}, tinyRun(data, ck2), new(bytes.Buffer)); !errors.Is(err, train.ErrInterrupted) {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = run(context.Background(), tinyRun(data, ck2, "-optimizer", "adamw", "-nesterov=false", "-lookahead", "-resume", "-accept-changes"), &out)
	if err != nil || !strings.Contains(out.String(), "optimizer state does not fit -optimizer adamw: it starts afresh") {
		t.Errorf("resuming with another optimizer: err = %v\n%s", err, out.String())
	}
}

// A run whose loss explodes while finite stops with a message naming -lr, a non-zero
// status, and the newest checkpoint from before the explosion.
func TestDivergenceStops(t *testing.T) {
	data := syntheticData(t, 32, 16)
	ck := filepath.Join(t.TempDir(), "ck")
	err := run(context.Background(), []string{"-data", data, "-own-data", "-model", "mlp", "-epochs", "20", "-batch", "16", "-eval-batch", "16",
		"-optimizer", "adamw", "-lr", "1e3", "-nesterov=false", "-checkpoint-dir", ck, "-checkpoint-every", "1"}, new(bytes.Buffer))
	if !errors.Is(err, train.ErrDiverged) || !strings.Contains(err.Error(), "try a lower -lr (this run's is 1000)") {
		t.Fatalf("err = %v, want the divergence stop naming -lr", err)
	}
	latest, _ := checkpoints.Store{Dir: ck}.Latest()
	if latest == "" {
		t.Fatal("no checkpoint kept")
	}
	c, err := checkpoints.Read(latest)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Recent []float64 `json:"recent_losses"`
	}
	json.Unmarshal(c.Meta, &st)
	if len(st.Recent) == 0 || st.Recent[len(st.Recent)-1] > 10*math.Log(10) {
		t.Errorf("the newest checkpoint %s was written after the loss exploded: recent losses %v", latest, st.Recent)
	}
}

// Bad values and outputs are refused before training, naming the flag.
func TestRefusedBeforeTraining(t *testing.T) {
	data := syntheticData(t, 16, 16)
	file := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-lr", "Inf"}, "-lr +Inf: want a finite number"},
		{[]string{"-wd", "NaN"}, "-wd NaN"},
		{[]string{"-threads", "1000"}, "-threads 1000: this machine has"},
		{[]string{"-subset", "100000"}, "-subset 100000: more than the 80 training images"},
		{[]string{"-checkpoint-dir", file}, "-checkpoint-dir"},
		{[]string{"-plot", filepath.Join(t.TempDir(), "missing", "p.png")}, "-plot"},
		{[]string{"-metrics", t.TempDir()}, "-metrics"},
		{[]string{"-resume=sometimes", "-checkpoint-dir", t.TempDir()}, "-resume"},
		{[]string{"-model", "conv8,gap,fc7"}, "-model conv8,gap,fc7: 7 logits per image, but the data has 10 classes"},
	} {
		var out bytes.Buffer
		args := append([]string{"-data", data, "-own-data", "-model", "mlp", "-epochs", "1", "-batch", "16", "-eval-batch", "16"}, tc.args...)
		err := run(context.Background(), args, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want one naming %q", tc.args, err, tc.want)
		}
		if strings.Contains(out.String(), "step ") {
			t.Errorf("%v: trained before failing:\n%s", tc.args, out.String())
		}
	}
}

// Without -own-data, batch files of another record count than the official ones are an
// error naming the file and the flag.
func TestOfficialRecordCount(t *testing.T) {
	data := syntheticData(t, 16, 16)
	err := run(context.Background(), []string{"-data", data, "-model", "mlp", "-epochs", "1", "-batch", "16"}, new(bytes.Buffer))
	if !errors.Is(err, cifar10.ErrRecordCount) || !strings.Contains(err.Error(), "data_batch_1.bin: 16 records") || !strings.Contains(err.Error(), "-own-data") {
		t.Errorf("err = %v, want ErrRecordCount naming data_batch_1.bin and -own-data", err)
	}
}

// SIGINT without -checkpoint-dir says that nothing was saved.
func TestInterruptWithoutCheckpointsSaysSo(t *testing.T) {
	data := syntheticData(t, 16, 16)
	ctx := &stopAfter{Context: context.Background()}
	ctx.n.Store(3)
	var out bytes.Buffer
	err := run(ctx, []string{"-data", data, "-own-data", "-model", "mlp", "-epochs", "1", "-batch", "16"}, &out)
	if !errors.Is(err, train.ErrInterrupted) || !strings.Contains(out.String(), "interrupted at step 3: nothing saved (no -checkpoint-dir)") {
		t.Errorf("err = %v, output:\n%s", err, out.String())
	}
}

// The checkpoint holds the normalisation the weights were trained with.
func TestCheckpointHoldsTheNormalization(t *testing.T) {
	data := syntheticData(t, 16, 16)
	ck := filepath.Join(t.TempDir(), "ck")
	if err := run(context.Background(), tinyRun(data, ck, "-epochs", "1"), new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	latest, _ := checkpoints.Store{Dir: ck}.Latest()
	c, err := checkpoints.Read(latest)
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ Normalization *train.Normalization }
	if err := json.Unmarshal(c.Meta, &st); err != nil || st.Normalization == nil {
		t.Fatalf("no normalization in %s: %v", c.Meta, err)
	}
	d, err := cifar10.Open(data, cifar10.AnyRecordCount())
	if err != nil {
		t.Fatal(err)
	}
	mean, std := d.Train.ChannelStats()
	for c := range 3 {
		if st.Normalization.Mean[c] != float32(mean[c]) || st.Normalization.Std[c] != float32(std[c]) {
			t.Errorf("channel %d: stored %v %v, the training images' %v %v", c, st.Normalization.Mean[c], st.Normalization.Std[c], mean[c], std[c])
		}
	}
}

// -model NAME alone starts from the architecture's own recipe; -preset still wins.
func TestEachArchitectureHasItsRecipe(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		preset string
	}{
		{nil, "quick"},
		{[]string{"-model", "mlp"}, "mlp"},
		{[]string{"-model=resnet-tiny"}, "resnet-tiny"},
		{[]string{"-model", "resnet9-16"}, "resnet9"},
		{[]string{"-model", "airbench"}, "airbench"},
		{[]string{"-model", "airbench-16-32-64"}, "quick"},
		{[]string{"-model", "conv16,relu,pool2,flatten,fc10"}, "cnn-small"},
		{[]string{"-model", "mlp", "-preset", "standard"}, "standard"},
	} {
		cfg, _, err := parse(tc.args)
		if err != nil {
			t.Fatal(err)
		}
		want := train.Presets[tc.preset]
		if cfg.Preset != tc.preset || cfg.LR != want.LR || cfg.Epochs != want.Epochs || cfg.Batch != want.Batch {
			t.Errorf("%v: preset %s, lr %v, %d epochs, batch %d; want %s's", tc.args, cfg.Preset, cfg.LR, cfg.Epochs, cfg.Batch, tc.preset)
		}
	}
}

// -clip scales each step's gradients to that global norm: with a tiny one (and no
// momentum or weight decay), training leaves the weights where they started.
func TestClip(t *testing.T) {
	data := syntheticData(t, 16, 16)
	args := func(ck string, extra ...string) []string {
		return tinyRun(data, ck, append([]string{"-epochs", "1", "-momentum", "0", "-nesterov=false", "-wd", "0"}, extra...)...)
	}
	start := filepath.Join(t.TempDir(), "start")
	if err := run(&stopAfter{Context: context.Background()}, args(start), new(bytes.Buffer)); !errors.Is(err, train.ErrInterrupted) {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		clip  string
		moved bool
	}{{"0", true}, {"1e-12", false}} {
		ck := filepath.Join(t.TempDir(), "ck")
		if err := run(context.Background(), args(ck, "-clip", tc.clip), new(bytes.Buffer)); err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		before, after := finalWeights(t, start), finalWeights(t, ck)
		for name, w := range before {
			if strings.Contains(name, "/") {
				continue // optimizer state
			}
			for i := range w.Data {
				worst = math.Max(worst, math.Abs(float64(after[name].Data[i]-w.Data[i])))
			}
		}
		if (worst > 1e-6) != tc.moved {
			t.Errorf("-clip %s: the weights moved by up to %g", tc.clip, worst)
		}
	}
}

// -optimizer muon: Muon on the filters, SGD on the rest, both in the checkpoint; its flags
// are refused without it, and a model without filters is refused.
func TestMuonFlags(t *testing.T) {
	data := syntheticData(t, 16, 16)
	base := []string{"-data", data, "-own-data", "-epochs", "1", "-batch", "16", "-eval-batch", "16", "-lr", "0.02"}
	ck := filepath.Join(t.TempDir(), "ck")
	var out bytes.Buffer
	if err := run(context.Background(), append(base, "-model", "airbench-4-8-8", "-optimizer", "muon", "-checkpoint-dir", ck), &out); err != nil {
		t.Fatal(err)
	}
	c, err := checkpoints.Read(filepath.Join(ck, "step-000000005.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"optimizer/block1.conv1.weight.momentum", "optimizer/head.weight.momentum"} {
		if _, ok := c.Tensors[name]; !ok {
			var names []string
			for n := range c.Tensors {
				names = append(names, n)
			}
			t.Errorf("checkpoint lacks %s: has %v", name, names)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-model", "airbench-4-8-8", "-muon-lr", "0.2"}, "go with -optimizer muon"},
		{[]string{"-model", "mlp", "-optimizer", "muon"}, "no convolution filters"},
		{[]string{"-model", "airbench-4-8-8", "-optimizer", "muon", "-muon-momentum", "1"}, "-muon-momentum 1"},
	} {
		err := run(context.Background(), append(append([]string{}, base...), tc.args...), new(bytes.Buffer))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}

// -whiten-bias-epochs 1: the whitening bias moves in the first epoch and not after (the
// other weights do); without it, it moves in the second too. A model without whitening
// refuses it.
func TestWhitenBiasEpochs(t *testing.T) {
	data := syntheticData(t, 16, 16) // 5 steps of 16 per epoch
	for _, n := range []string{"1", "0"} {
		ck := filepath.Join(t.TempDir(), "ck")
		args := []string{"-data", data, "-own-data", "-model", "airbench-4-8-8", "-epochs", "2", "-batch", "16", "-eval-batch", "16",
			"-checkpoint-dir", ck, "-keep", "5", "-whiten-bias-epochs", n}
		if err := run(context.Background(), args, new(bytes.Buffer)); err != nil {
			t.Fatal(err)
		}
		read := func(step int) map[string]checkpoints.Tensor {
			c, err := checkpoints.Read(filepath.Join(ck, fmt.Sprintf("step-%09d.safetensors", step)))
			if err != nil {
				t.Fatal(err)
			}
			return c.Tensors
		}
		first, last := read(5), read(10)
		biasMoved := !slices.Equal(first["whiten.bias"].Data, last["whiten.bias"].Data)
		if biasMoved != (n == "0") || slices.Equal(first["head.weight"].Data, last["head.weight"].Data) {
			t.Errorf("-whiten-bias-epochs %s: the whitening bias moved in epoch 2: %v (the head moved: %v)", n, biasMoved,
				!slices.Equal(first["head.weight"].Data, last["head.weight"].Data))
		}
	}
	err := run(context.Background(), []string{"-data", data, "-own-data", "-model", "mlp", "-epochs", "1", "-batch", "16", "-whiten-bias-epochs", "1"}, new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "no whitening layer") {
		t.Errorf("-whiten-bias-epochs on the mlp: %v", err)
	}
}

// -whiten-bias-lr r sets the whitening bias's first rate: its first step (SGD with momentum
// from zero, so linear in the rate) at 2r is twice the step at r, measured from a run at
// 1e-30 (the starting bias, to float32's precision), and the other weights' steps do not
// change. Without -whiten-bias-epochs it is refused.
func TestWhitenBiasLR(t *testing.T) {
	data := syntheticData(t, 16, 16)
	steps := map[string]map[string][]float32{}
	for _, r := range []string{"1e-30", "1", "2"} {
		ck := filepath.Join(t.TempDir(), "ck")
		args := []string{"-data", data, "-own-data", "-subset", "16", "-model", "airbench-4-8-8", "-epochs", "1", "-batch", "16",
			"-eval-batch", "16", "-checkpoint-dir", ck, "-checkpoint-every", "1", "-keep", "5", "-whiten-bias-epochs", "1", "-whiten-bias-lr", r}
		if err := run(context.Background(), args, new(bytes.Buffer)); err != nil {
			t.Fatal(err)
		}
		c, err := checkpoints.Read(filepath.Join(ck, "step-000000001.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		steps[r] = map[string][]float32{}
		for _, name := range []string{"whiten.bias", "head.weight"} {
			steps[r][name] = c.Tensors[name].Data
		}
	}
	moved := 0 // block1's Dirac filters read only its first channels: the others' bias has no gradient
	for i, b := range steps["1e-30"]["whiten.bias"] {
		d1, d2 := float64(steps["1"]["whiten.bias"][i]-b), float64(steps["2"]["whiten.bias"][i]-b)
		if d1 != 0 {
			moved++
		}
		if math.Abs(d2-2*d1) > 1e-6+1e-3*math.Abs(d2) {
			t.Errorf("whiten.bias[%d] moved %v at -whiten-bias-lr 1 and %v at 2, want twice", i, d1, d2)
		}
	}
	if moved == 0 {
		t.Errorf("the whitening bias did not move")
	}
	if !slices.Equal(steps["1"]["head.weight"], steps["2"]["head.weight"]) {
		t.Errorf("-whiten-bias-lr changed the head's step")
	}
	err := run(context.Background(), []string{"-data", data, "-own-data", "-model", "airbench-4-8-8", "-epochs", "1", "-batch", "16", "-whiten-bias-lr", "0.1"}, new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "-whiten-bias-lr") {
		t.Errorf("-whiten-bias-lr without -whiten-bias-epochs: %v", err)
	}
}

// -eval-every 2 over 3 epochs evaluates after epochs 2 and 3 only: epoch 1's metrics line
// has no test keys and says so on the console; -eval-every end after the last only; the
// best checkpoint is of an evaluated epoch; a resume may change it.
func TestEvalEvery(t *testing.T) {
	data := syntheticData(t, 16, 16)
	for _, c := range []struct {
		every     string
		evaluated []bool
	}{{"2", []bool{false, true, true}}, {"end", []bool{false, false, true}}} {
		dir := t.TempDir()
		metrics := filepath.Join(dir, "m.jsonl")
		var out bytes.Buffer
		args := []string{"-data", data, "-own-data", "-model", "cnn-small", "-epochs", "3", "-batch", "16", "-eval-batch", "16",
			"-checkpoint-dir", filepath.Join(dir, "ck"), "-metrics", metrics, "-eval-every", c.every}
		if err := run(context.Background(), args, &out); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(metrics)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 3 {
			t.Fatalf("-eval-every %s: %d metrics lines", c.every, len(lines))
		}
		for i, l := range lines {
			if strings.Contains(l, `"test_acc"`) != c.evaluated[i] || strings.Contains(l, `"ece"`) != c.evaluated[i] {
				t.Errorf("-eval-every %s: epoch %d's line: %s", c.every, i+1, l)
			}
		}
		if n := strings.Count(out.String(), "(not evaluated: -eval-every)"); n != strings.Count(fmt.Sprint(c.evaluated), "false") {
			t.Errorf("-eval-every %s: %d epochs said not evaluated:\n%s", c.every, n, out.String())
		}
		if !strings.Contains(out.String(), "final: test accuracy") {
			t.Errorf("-eval-every %s: no final evaluation", c.every)
		}
	}
	if err := run(context.Background(), []string{"-data", data, "-own-data", "-eval-every", "0"}, new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "-eval-every") {
		t.Errorf("-eval-every 0: %v", err)
	}
}
