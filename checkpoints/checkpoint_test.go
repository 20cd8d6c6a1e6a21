package checkpoints

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
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
		// sizes that overflow or go negative: refused before anything is allocated
		{"negative shape", reindex(t, b, "conv1.bias", negativeShape), "a negative dimension"},
		{"shape of 2^62 values", reindex(t, b, "conv1.bias", hugeShape), "more values than the data holds"},
		{"size overflowing to 0", reindex(t, b, "conv1.bias", overflowingShape), "more values than the data holds"},
		{"offsets reversed", reindex(t, b, "conv1.bias", func(e *entry, lo int) { e.DataOffsets = [2]int{lo + 8, lo} }), "offsets outside"},
		{"offsets past the data", reindex(t, b, "conv1.bias", func(e *entry, _ int) { e.DataOffsets = [2]int{1 << 40, 1<<40 + 8} }), "offsets outside"},
		{"overlapping tensors", reindex(t, b, "conv1.bias", func(e *entry, lo int) { e.DataOffsets = [2]int{lo + 4, lo + 12} }), "starts at byte"},
		{"shape and offsets disagree", reindex(t, b, "conv1.bias", func(e *entry, _ int) { e.Shape = []int{3} }), "holds 12 bytes"},
		{"another dtype", reindex(t, b, "conv1.bias", func(e *entry, _ int) { e.Dtype = "F16" }), "want dtype F32"},
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

// reindex returns the checkpoint file b with tensor name's header entry changed by edit;
// the data stays as it is. lo is where the tensor's data starts.
func reindex(t testing.TB, b []byte, name string, edit func(e *entry, lo int)) []byte {
	return editHeader(t, b, func(h map[string]json.RawMessage) {
		var e entry
		if err := json.Unmarshal(h[name], &e); err != nil {
			t.Fatal(err)
		}
		edit(&e, e.DataOffsets[0])
		h[name], _ = json.Marshal(e)
	})
}

// The headers of issue 14: a size that goes negative, one too large, one whose product
// overflows to 0.
func negativeShape(e *entry, lo int) { e.Shape, e.DataOffsets = []int{-1}, [2]int{lo + 4, lo} }
func hugeShape(e *entry, lo int)     { e.Shape, e.DataOffsets = []int{1 << 62}, [2]int{lo, lo} }
func overflowingShape(e *entry, lo int) {
	e.Shape, e.DataOffsets = []int{1 << 30, 1 << 30, 4}, [2]int{lo, lo}
}

// editHeader returns the file b with its JSON header changed by edit.
func editHeader(t testing.TB, b []byte, edit func(map[string]json.RawMessage)) []byte {
	n := binary.LittleEndian.Uint64(b)
	var h map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &h); err != nil {
		t.Fatal(err)
	}
	edit(h)
	nh, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	return append(append(binary.LittleEndian.AppendUint64(nil, uint64(len(nh))), nh...), b[8+n:]...)
}

// FuzzRead: whatever the bytes, decoding never panics and never allocates more than the
// file could hold; what it accepts encodes back to a file that decodes to the same
// checkpoint. Seeded with the files of testdata/ (checkpoints written by bin/train) and
// the headers of TestCorruptionIsRefused.
func FuzzRead(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.safetensors"))
	if len(seeds) == 0 {
		f.Fatal("no testdata/*.safetensors to seed from")
	}
	for _, name := range seeds {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	b, err := encode(sample(1))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range [][]byte{b, reindex(f, b, "conv1.bias", negativeShape), reindex(f, b, "conv1.bias", hugeShape),
		reindex(f, b, "conv1.bias", overflowingShape), nil} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decode(b)
		if err != nil {
			if c != nil {
				t.Fatalf("error %v with a checkpoint", err)
			}
			return
		}
		values := 0
		for _, tensor := range c.Tensors {
			values += len(tensor.Data)
		}
		if 4*values > len(b) {
			t.Fatalf("%d values decoded from %d bytes", values, len(b))
		}
		again, err := encode(c)
		if err != nil {
			t.Fatalf("an accepted checkpoint does not encode: %v", err)
		}
		d, err := decode(again)
		if err != nil {
			t.Fatalf("an accepted checkpoint, encoded again, does not decode: %v", err)
		}
		if string(d.Meta) != string(c.Meta) || len(d.Tensors) != len(c.Tensors) {
			t.Fatalf("round trip: meta %q, %d tensors; was %q, %d", d.Meta, len(d.Tensors), c.Meta, len(c.Tensors))
		}
		for name, want := range c.Tensors {
			got := d.Tensors[name]
			if !slices.Equal(got.Shape, want.Shape) || len(got.Data) != len(want.Data) {
				t.Fatalf("round trip: %s %v, was %v", name, got.Shape, want.Shape)
			}
			for i := range want.Data {
				if math.Float32bits(got.Data[i]) != math.Float32bits(want.Data[i]) {
					t.Fatalf("round trip: %s[%d] = %v, was %v", name, i, got.Data[i], want.Data[i])
				}
			}
		}
	})
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
	last := float32(-1) // the helper's counter in the file after the previous trial
	for trial := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$")
		cmd.Env = append(os.Environ(), "CHECKPOINT_WRITER="+path, fmt.Sprintf("CHECKPOINT_WRITER_FROM=%d", int(last)+1))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// kill it once it has replaced the file at least once, so that the kill lands
		// while it is rewriting it
		deadline := time.Now().Add(10 * time.Second)
		for {
			if c, err := Read(path); err == nil && c.Tensors["big"].Data != nil && c.Tensors["big"].Data[0] > last {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("trial %d: the helper wrote nothing in 10 s", trial)
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(20+30*trial) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		c, err := Read(path)
		if err != nil {
			t.Fatalf("trial %d: after SIGKILL: %v", trial, err)
		}
		n := c.Tensors["big"].Data[0]
		if n <= last {
			t.Fatalf("trial %d: the file holds write %v, the previous trial's was %v: the helper wrote nothing", trial, n, last)
		}
		last = n
	}
}

func TestHelperWriter(t *testing.T) {
	path := os.Getenv("CHECKPOINT_WRITER")
	if path == "" {
		t.Skip("helper process for TestKillDuringWriteLeavesPreviousLoadable")
	}
	from, _ := strconv.Atoi(os.Getenv("CHECKPOINT_WRITER_FROM"))
	big := sample(1)
	big.Tensors["big"] = Tensor{Shape: []int{1 << 20}, Data: make([]float32, 1<<20)}
	for i := from; ; i++ {
		big.Tensors["big"].Data[0] = float32(i)
		if err := Write(path, big); err != nil {
			t.Fatal(err)
		}
	}
}

// Open removes the temporary files of interrupted writes (and nothing else), and a second
// Open of a held folder fails naming the holder until the first releases it.
func TestOpenTidiesAndLocks(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "run"), Keep: 2}
	if _, err := s.Save(10, sample(1), true); err != nil {
		t.Fatal(err)
	}
	stale := []string{".tmp-step-000000020.safetensors-123456", ".tmp-best.safetensors-99"}
	kept := []string{"notes.txt", ".tmp-other-1"} // not the store's
	for _, name := range append(append([]string{}, stale...), kept...) {
		if err := os.WriteFile(filepath.Join(s.Dir, name), make([]byte, 100), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	release, removed, bytes, err := s.Open()
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 || bytes != 200 {
		t.Errorf("removed %v (%d bytes), want the 2 temporary files (200 bytes)", removed, bytes)
	}
	for _, name := range stale {
		if _, err := os.Stat(filepath.Join(s.Dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s is still there", name)
		}
	}
	for _, name := range append(kept, "step-000000010.safetensors", BestName) {
		if _, err := os.Stat(filepath.Join(s.Dir, name)); err != nil {
			t.Errorf("%s was removed: %v", name, err)
		}
	}
	if _, _, _, err := s.Open(); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Errorf("second Open: err = %v, want ErrInUse naming process %d", err, os.Getpid())
	}
	release()
	again, _, _, err := s.Open()
	if err != nil {
		t.Fatalf("Open after release: %v", err)
	}
	again()
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	if _, _, _, err := (Store{Dir: file}).Open(); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("a store on a file: err = %v, want one naming it", err)
	}
}
