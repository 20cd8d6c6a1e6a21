package checkpoint

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func sample(scale float32) *Checkpoint {
	w := make([]float32, 2*3*3*3)
	for i := range w {
		w[i] = float32(i) * scale
	}
	return &Checkpoint{
		Tensors: map[string]Tensor{
			"conv1.weight": {Shape: []int{2, 3, 3, 3}, Data: w},
			"conv1.bias":   {Shape: []int{2}, Data: []float32{-1, float32(math.Inf(1))}},
			"optim.step":   {Shape: []int{}, Data: []float32{7}},
		},
		Meta: json.RawMessage(`{"model":"cnn","step":7}`),
	}
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.safetensors")
	want := sample(0.5)
	if err := Write(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Meta) != string(want.Meta) || len(got.Tensors) != 3 {
		t.Fatalf("meta %s, %d tensors", got.Meta, len(got.Tensors))
	}
	for name, w := range want.Tensors {
		g := got.Tensors[name]
		if len(g.Data) != len(w.Data) || len(g.Shape) != len(w.Shape) {
			t.Fatalf("%s: %v %d values, want %v %d", name, g.Shape, len(g.Data), w.Shape, len(w.Data))
		}
		for i := range w.Data {
			if math.Float32bits(g.Data[i]) != math.Float32bits(w.Data[i]) {
				t.Fatalf("%s[%d] = %v, want %v", name, i, g.Data[i], w.Data[i])
			}
		}
	}
}

// An independent minimal safetensors reader: what PyTorch's loader relies on.
func TestIsSafetensors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.safetensors")
	if err := Write(path, sample(1)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	n := binary.LittleEndian.Uint64(b)
	if (8+n)%8 != 0 {
		t.Errorf("data starts at byte %d, not 8-aligned", 8+n)
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &header); err != nil {
		t.Fatalf("header is not JSON: %v", err)
	}
	data := b[8+n:]
	covered := 0
	for name, raw := range header {
		if name == "__metadata__" {
			var meta map[string]string
			if err := json.Unmarshal(raw, &meta); err != nil {
				t.Errorf("__metadata__ is not a string map: %v", err)
			}
			continue
		}
		var e struct {
			Dtype   string `json:"dtype"`
			Shape   []int  `json:"shape"`
			Offsets []int  `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &e); err != nil || e.Dtype != "F32" || len(e.Offsets) != 2 {
			t.Fatalf("%s: entry %s", name, raw)
		}
		size := 4
		for _, d := range e.Shape {
			size *= d
		}
		if e.Offsets[1]-e.Offsets[0] != size || e.Offsets[1] > len(data) {
			t.Errorf("%s: offsets %v for shape %v", name, e.Offsets, e.Shape)
		}
		covered += size
		if name == "conv1.bias" {
			if v := math.Float32frombits(binary.LittleEndian.Uint32(data[e.Offsets[0]:])); v != -1 {
				t.Errorf("conv1.bias[0] reads %v, want -1", v)
			}
		}
	}
	if covered != len(data) {
		t.Errorf("tensors cover %d of %d data bytes", covered, len(data))
	}
}

func TestCorruptionIsRefused(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	if err := Write(good, sample(1)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(good)
	n := int(binary.LittleEndian.Uint64(b))
	tests := []struct {
		name  string
		bytes []byte
		want  string
	}{
		{"empty", nil, "too short"},
		{"truncated data", b[:len(b)-5], ""},
		{"truncated header", b[:20], "header"},
		{"flipped data bit", flip(b, len(b)-3), "checksum"},
		{"edited record", []byte(strings.Replace(string(b), `\"step\":7`, `\"step\":8`, 1)), "checksum"},
		{"not a checkpoint", append(binary.LittleEndian.AppendUint64(nil, 2), "{}"...), "not an"},
		{"garbage header", append(binary.LittleEndian.AppendUint64(nil, uint64(n)), make([]byte, n)...), "header"},
	}
	for _, tc := range tests {
		p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
		os.WriteFile(p, tc.bytes, 0o644)
		_, err := Read(p)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want ErrCorrupt naming the file and %q", tc.name, err, tc.want)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x10
	return c
}

func TestStoreKeepsLastAndBest(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "run"), Keep: 2}
	for step := 10; step <= 40; step += 10 {
		if _, err := s.Save(step, sample(float32(step)), step == 20); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(s.Dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := "best.safetensors step-000000030.safetensors step-000000040.safetensors"
	if strings.Join(names, " ") != want {
		t.Errorf("files %v, want %s", names, want)
	}
	latest, _ := s.Latest()
	if filepath.Base(latest) != "step-000000040.safetensors" {
		t.Errorf("latest %s", latest)
	}
	best, err := Read(filepath.Join(s.Dir, BestName))
	if err != nil || best.Tensors["conv1.weight"].Data[1] != 20 {
		t.Errorf("best is not step 20's: %v", err)
	}
}

// A process killed while writing leaves the previous checkpoint whole: the helper below
// rewrites one path in a loop until the test kills it with SIGKILL.
func TestKillDuringWriteLeavesPreviousLoadable(t *testing.T) {
	if os.Getenv("CHECKPOINT_WRITER") != "" {
		return
	}
	path := filepath.Join(t.TempDir(), "c.safetensors")
	if err := Write(path, sample(1)); err != nil {
		t.Fatal(err)
	}
	for trial := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$")
		cmd.Env = append(os.Environ(), "CHECKPOINT_WRITER="+path)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(150+100*trial) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if _, err := Read(path); err != nil {
			t.Fatalf("trial %d: after SIGKILL: %v", trial, err)
		}
	}
}

func TestHelperWriter(t *testing.T) {
	path := os.Getenv("CHECKPOINT_WRITER")
	if path == "" {
		t.Skip("helper process for TestKillDuringWriteLeavesPreviousLoadable")
	}
	big := sample(1)
	big.Tensors["big"] = Tensor{Shape: []int{1 << 20}, Data: make([]float32, 1<<20)}
	for i := 0; ; i++ {
		big.Tensors["big"].Data[0] = float32(i)
		if err := Write(path, big); err != nil {
			t.Fatal(err)
		}
	}
}
