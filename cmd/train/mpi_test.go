package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"example.com/xent/checkpoints"
	"example.com/xent/internal/dist"
	"example.com/xent/internal/dist/disttest"
	"example.com/xent/train"
)

// mpiTrain returns the command that trains with args as np ranks of an MPI job (the test
// binary acting as cmd/train, see TestMain); it skips without MPI.
func mpiTrain(t *testing.T, np int, args []string) *exec.Cmd {
	t.Helper()
	return disttest.Mpirun(t, np, []string{"XENT_TRAIN_ARGS=" + strings.Join(args, "\x1f")}, os.Args[0])
}

// relativeDiff compares the model's tensors of two checkpoints (not the optimizer's):
// ||got - want|| / ||want|| over all of them as one vector, and the largest of it over
// each tensor alone, with its name.
func relativeDiff(t *testing.T, got, want map[string]checkpoints.Tensor) (all, worst float64, at string) {
	t.Helper()
	var d2, n2 float64
	for name, w := range want {
		if strings.HasPrefix(name, "optimizer/") {
			continue
		}
		g, ok := got[name]
		if !ok || len(g.Data) != len(w.Data) {
			t.Fatalf("tensor %s: missing or of another size", name)
		}
		var d, n float64
		for i := range w.Data {
			d += (float64(g.Data[i]) - float64(w.Data[i])) * (float64(g.Data[i]) - float64(w.Data[i]))
			n += float64(w.Data[i]) * float64(w.Data[i])
		}
		d2, n2 = d2+d, n2+n
		if r := math.Sqrt(d / math.Max(n, 1e-30)); r > worst || math.IsNaN(r) {
			worst, at = r, name
		}
	}
	return math.Sqrt(d2 / n2), worst, at
}

// Two ranks of B/2 images each train the weights one process of B images does, after 20
// steps: the model's tensors, as one vector, within 1e-6 relative, and each tensor within
// 1e-4. They are not the same bits: a weight's gradient sums its batch's rows inside one
// GEMM in one process, and in two halves that MPI adds on two ranks, so the float32 sums
// round differently (the 1/N scalings agree exactly: halving is exact); after one step the
// tensors differ by 1e-7 relative. Training amplifies that most where a gradient is a
// cancelling sum: airbench's whitening bias feeds a GELU and then BatchNorm, which takes
// out nearly all of its gradient (per channel a sum of 30k terms 100x smaller than they
// are), so a 1e-7 change of the terms moves it by 1e-5 in one process as much as in two,
// and after 20 steps it differs by 1e-5 to 2e-5 (seeds 5-7; 2e-6 to 7e-6 at -lr 0.05) while
// the other tensors stay near 1e-6 and all of them, as one vector, near 3e-8. Without
// BatchNorm, and with airbench-4-8-8 under -sync-bn; airbench-4-8-8 with each rank's own
// BatchNorm statistics trains other weights.
func TestTwoRanksTrainAsOneProcess(t *testing.T) {
	disttest.Need(t)
	data := syntheticData(t, 128, 64) // 640 training images: 20 steps of 32
	for _, c := range []struct {
		name    string
		recipe  []string
		sameAs1 bool
	}{
		{"no BatchNorm", []string{"-model", "conv8,relu,pool2,conv16,relu,pool2,fc10", "-augment", "crop,flip", "-lr", "0.05"}, true},
		{"sync BN", []string{"-model", "airbench-4-8-8", "-sync-bn", "-lookahead", "-tta", "flip"}, true},
		{"per-rank BN", []string{"-model", "airbench-4-8-8"}, false},
	} {
		args := func(ck string) []string {
			return append([]string{"-data", data, "-own-data", "-epochs", "1", "-batch", "32", "-eval-batch", "32",
				"-checkpoint-dir", ck, "-seed", "5", "-threads", "1"}, c.recipe...)
		}
		one := filepath.Join(t.TempDir(), "one")
		if err := run(context.Background(), slices.DeleteFunc(args(one), func(a string) bool { return a == "-sync-bn" }), new(bytes.Buffer)); err != nil {
			t.Fatal(err)
		}
		two := filepath.Join(t.TempDir(), "two")
		out, err := mpiTrain(t, 2, args(two)).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: mpirun: %v\n%s", c.name, err, out)
		}
		if !strings.Contains(string(out), "ranks 2 (MPI), rank 0 on 1 threads") || strings.Count(string(out), "final: test accuracy") != 1 {
			t.Errorf("%s: want rank 0 alone to print, and say it trains over 2 ranks:\n%s", c.name, out)
		}
		all, worst, at := relativeDiff(t, finalWeights(t, two), finalWeights(t, one))
		switch {
		case c.sameAs1 && (all > 1e-6 || worst > 1e-4):
			t.Errorf("%s: 2 ranks' weights differ from 1 process's by %.3g relative (%s: %.3g)", c.name, all, at, worst)
		case !c.sameAs1 && all < 1e-3:
			t.Errorf("%s: 2 ranks with their own BatchNorm statistics trained 1 process's weights (difference %.3g)", c.name, all)
		}
		t.Logf("%s: 2 ranks vs 1 process: weights %.3g relative; the most in %s, %.3g", c.name, all, at, worst)
	}
}

// A rank killed mid-run ends the job with mpirun's message naming it; the newest
// checkpoint reads back, and one process resumes from it (written by 2 ranks) to the end,
// near the weights of a run never interrupted.
func TestKilledRankEndsTheJob(t *testing.T) {
	disttest.Need(t)
	data := syntheticData(t, 128, 64)
	args := func(ck string) []string {
		return []string{"-data", data, "-own-data", "-model", "conv8,relu,pool2,fc10", "-epochs", "6", "-batch", "32",
			"-eval-batch", "32", "-lr", "0.02", "-checkpoint-dir", ck, "-checkpoint-every", "5", "-seed", "2", "-threads", "1"}
	}
	ck := filepath.Join(t.TempDir(), "ck")
	cmd := mpiTrain(t, 2, args(ck))
	out := start(t, cmd)
	victim, survivor := 0, 0
	waitFor(func() bool {
		if latest, _ := (checkpoints.Store{Dir: ck}).Latest(); latest != "" {
			victim, survivor = rankPID(cmd.Process.Pid, 1), rankPID(cmd.Process.Pid, 0)
		}
		return victim != 0 && survivor != 0
	})
	if victim == 0 {
		cmd.Process.Kill()
		t.Fatalf("no checkpoint, or no rank 1, within a minute:\n%s", out.String())
	}
	syscall.Kill(victim, syscall.SIGKILL)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("mpirun succeeded after rank 1 was killed:\n%s", out.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the job still runs a minute after rank 1 was killed:\n%s", out.String())
	}
	// mpirun can return before rank 0, which it signalled, has exited and let go of the
	// checkpoint folder's lock
	if !waitFor(func() bool { return exited(survivor) }) {
		t.Fatalf("rank 0 (process %d) still runs a minute after mpirun returned", survivor)
	}
	if s := out.String(); !strings.Contains(s, "rank 1") || !strings.Contains(s, "signal 9") {
		t.Errorf("mpirun's message does not name rank 1 and its signal:\n%s", s)
	}
	latest, err := checkpoints.Store{Dir: ck}.Latest()
	if err != nil || latest == "" {
		t.Fatalf("no checkpoint after the kill: %v", err)
	}
	if _, err := checkpoints.Read(latest); err != nil {
		t.Fatalf("the newest checkpoint after the kill: %v", err)
	}
	var resumed bytes.Buffer
	if err := run(context.Background(), append(args(ck), "-resume"), &resumed); err != nil {
		t.Fatalf("resume in one process: %v\n%s", err, resumed.String())
	}
	if !strings.Contains(resumed.String(), "resumed at step") || !strings.Contains(resumed.String(), "final: test accuracy") {
		t.Errorf("one process did not resume the 2 ranks' checkpoint and finish:\n%s", resumed.String())
	}
	whole := filepath.Join(t.TempDir(), "whole")
	if err := run(context.Background(), args(whole), new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	if all, worst, at := relativeDiff(t, finalWeights(t, ck), finalWeights(t, whole)); all > 1e-5 || worst > 1e-4 {
		t.Errorf("2 ranks killed and resumed in 1 process: weights %.3g relative (%s: %.3g) from an uninterrupted run's", all, at, worst)
	}
}

// One process stopped mid-epoch resumes as 2 ranks, which stop mid-epoch again (SIGTERM to
// both, as Slurm's scancel sends: they stop after the same step, and rank 0 writes the
// checkpoint), and resume as 2 ranks to the end: the weights of a run never interrupted,
// within 1e-5. (Short: over 2,000 steps the roundings in which 1 and 2 ranks differ grow,
// on the synthetic images, to 0.4 between uninterrupted runs.)
func TestResumeWithAnotherRankCount(t *testing.T) {
	disttest.Need(t)
	data := syntheticData(t, 128, 64)
	args := func(ck string) []string {
		return []string{"-data", data, "-own-data", "-model", "conv32,relu,pool2,conv64,relu,pool2,fc10", "-epochs", "6", "-batch", "32",
			"-eval-batch", "32", "-lr", "0.02", "-checkpoint-dir", ck, "-seed", "4", "-threads", "1"}
	}
	ck := filepath.Join(t.TempDir(), "ck")
	ctx := &stopAfter{Context: context.Background()}
	ctx.n.Store(7)
	if err := run(ctx, args(ck), new(bytes.Buffer)); !errors.Is(err, train.ErrInterrupted) {
		t.Fatalf("one process: %v, want ErrInterrupted", err)
	}
	cmd := mpiTrain(t, 2, append(args(ck), "-resume"))
	out := start(t, cmd)
	waitFor(func() bool { return strings.Contains(out.String(), "epoch   2/6") })
	for r := range 2 {
		syscall.Kill(rankPID(cmd.Process.Pid, r), syscall.SIGTERM)
	}
	cmd.Wait()
	if s := out.String(); !strings.Contains(s, "resumed at step 7") || !strings.Contains(s, "interrupted at step") {
		t.Fatalf("2 ranks did not resume at step 7 and stop on SIGTERM:\n%s", s)
	}
	if o, err := mpiTrain(t, 2, append(args(ck), "-resume")).CombinedOutput(); err != nil || !strings.Contains(string(o), "final: test accuracy") {
		t.Fatalf("2 ranks resuming to the end: %v\n%s", err, o)
	}
	whole := filepath.Join(t.TempDir(), "whole")
	if err := run(context.Background(), args(whole), new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	if all, worst, at := relativeDiff(t, finalWeights(t, ck), finalWeights(t, whole)); all > 1e-5 || worst > 1e-4 {
		t.Errorf("1 process, then 2 ranks twice: weights %.3g relative (%s: %.3g) from an uninterrupted run's", all, at, worst)
	}
}

// A divergence seen by all ranks (the loss is the all-reduced one) stops them all at the
// same step with status 1 and rank 0's message, without MPI_Abort. Without -threads, each
// rank takes its share of the machine's cores.
func TestRanksDivergeTogether(t *testing.T) {
	data := syntheticData(t, 32, 16)
	args := []string{"-data", data, "-own-data", "-model", "mlp", "-epochs", "20", "-batch", "16", "-eval-batch", "16",
		"-optimizer", "adamw", "-lr", "1e3", "-nesterov=false", "-checkpoint-dir", filepath.Join(t.TempDir(), "ck"), "-checkpoint-every", "1"}
	out, err := mpiTrain(t, 2, args).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit %v, want status 1:\n%s", err, out)
	}
	if s := string(out); strings.Count(s, "try a lower -lr") != 1 || strings.Contains(s, "MPI_ABORT") {
		t.Errorf("want rank 0's divergence message once and no abort:\n%s", s)
	}
	if want := fmt.Sprintf("rank 0 on %d threads", max(runtime.NumCPU()/2, 1)); !strings.Contains(string(out), want) { // no -threads: the cores shared by the 2 ranks
		t.Errorf("each rank should take its share of the cores:\n%s", out)
	}
}

// rankPID returns the PID of rank's process among the children of mpirun's process
// (which names each rank in its environment), or 0.
// exited reports whether process pid has ended: it is gone, or a zombie nobody reaped.
func exited(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// the state follows the command name, which is in parentheses
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z'
}

func rankPID(mpirun, rank int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", mpirun, mpirun))
	if err != nil {
		return 0
	}
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if slices.Contains(strings.Split(string(env), "\x00"), "OMPI_COMM_WORLD_RANK="+strconv.Itoa(rank)) {
			return pid
		}
	}
	return 0
}

// Without MPI, -sync-bn is an error that says how to build with it, and a binary started
// by mpirun as one of several ranks refuses to train alone.
func TestWithoutMPI(t *testing.T) {
	if dist.Built {
		t.Skip("this build has MPI")
	}
	err := run(context.Background(), []string{"-data", t.TempDir(), "-sync-bn"}, new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "-sync-bn") || !strings.Contains(err.Error(), "-tags mpi") {
		t.Errorf("-sync-bn without MPI: %v", err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "XENT_TRAIN_ARGS=-epochs\x1f1", "OMPI_COMM_WORLD_SIZE=2", "OMPI_COMM_WORLD_RANK=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(string(out), "built without MPI") {
		t.Errorf("started as rank 1 of 2 without MPI: %v\n%s", err, out)
	}
}
