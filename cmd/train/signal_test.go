package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"example.com/xent/checkpoints"
)

// syncBuffer is a bytes.Buffer the command's output goroutines and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs cmd with its output in the returned buffer.
func start(t *testing.T, cmd *exec.Cmd) *syncBuffer {
	t.Helper()
	out := new(syncBuffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitFor polls cond until it holds or a minute has passed, and says which.
func waitFor(cond func() bool) bool {
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

// TestMain lets the test binary act as the command, for the signal test below.
func TestMain(m *testing.M) {
	if args := os.Getenv("XENT_TRAIN_ARGS"); args != "" {
		os.Args = append([]string{"train"}, strings.Split(args, "\x1f")...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// SIGINT during training: a checkpoint at the next step boundary, a message, status 130.
func TestSIGINTCheckpointsAndExits(t *testing.T) {
	data := syntheticData(t, 64, 16)
	ck := filepath.Join(t.TempDir(), "ck")
	args := []string{"-data", data, "-own-data", "-model", "cnn-small", "-epochs", "50", "-batch", "32", "-eval-batch", "16", "-checkpoint-dir", ck}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "XENT_TRAIN_ARGS="+strings.Join(args, "\x1f"))
	out := start(t, cmd)
	waitFor(func() bool { return strings.Contains(out.String(), "total") }) // the model summary: training is about to start
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("exit: %v, want status 130\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "interrupted at step") {
		t.Errorf("no interruption message:\n%s", out.String())
	}
	latest, err := checkpoints.Store{Dir: ck}.Latest()
	if err != nil || latest == "" {
		t.Fatalf("no checkpoint after SIGINT: %v", err)
	}
	if _, err := checkpoints.Read(latest); err != nil {
		t.Errorf("checkpoint after SIGINT: %v", err)
	}
}
