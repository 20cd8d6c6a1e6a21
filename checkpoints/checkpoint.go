// Package checkpoints stores named float32 tensors and a metadata record in one
// safetensors file, written atomically and verified by a checksum on load.
//
// The file is plain safetensors (an 8-byte little-endian header length, a JSON header,
// then the tensor bytes), so PyTorch's safetensors.torch.load_file reads the weights. The
// header's __metadata__ holds "format" (xent-checkpoint), "version", "meta" (the caller's
// JSON record) and "sha256", a checksum of the record, the tensor index and the data.
package checkpoints

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"

	"example.com/xent/internal/atomicfile"
)

// Format and Version identify the files this package writes.
const (
	Format  = "xent-checkpoint"
	Version = 1
)

// ErrCorrupt is a file that is not a whole, intact checkpoint.
var ErrCorrupt = errors.New("corrupt checkpoint")

// A Tensor is a float32 array and its shape.
type Tensor struct {
	Shape []int
	Data  []float32
}

// A Checkpoint is what one file holds.
type Checkpoint struct {
	Tensors map[string]Tensor
	Meta    json.RawMessage // the caller's record
}

type entry struct {
	Dtype       string `json:"dtype"`
	Shape       []int  `json:"shape"`
	DataOffsets [2]int `json:"data_offsets"`
}

// encode returns the file's bytes.
func encode(c *Checkpoint) ([]byte, error) {
	names := make([]string, 0, len(c.Tensors))
	for n := range c.Tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	index := map[string]entry{}
	var data []byte
	for _, n := range names {
		t := c.Tensors[n]
		size := 1
		for _, d := range t.Shape {
			size *= d
		}
		if size != len(t.Data) {
			return nil, fmt.Errorf("checkpoint: tensor %s: shape %v holds %d values, not %d", n, t.Shape, size, len(t.Data))
		}
		begin := len(data)
		for _, v := range t.Data {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
		}
		index[n] = entry{Dtype: "F32", Shape: append([]int{}, t.Shape...), DataOffsets: [2]int{begin, len(data)}}
	}
	meta := string(c.Meta)
	if meta == "" {
		meta = "{}"
	}
	sum, err := checksum(meta, index, data)
	if err != nil {
		return nil, err
	}
	header := map[string]any{"__metadata__": map[string]string{
		"format": Format, "version": strconv.Itoa(Version), "meta": meta, "sha256": sum}}
	for n, e := range index {
		header[n] = e
	}
	h, err := json.Marshal(header)
	if err != nil {
		return nil, err
	}
	for len(h)%8 != 0 { // safetensors pads the header with spaces
		h = append(h, ' ')
	}
	out := binary.LittleEndian.AppendUint64(make([]byte, 0, 8+len(h)+len(data)), uint64(len(h)))
	return append(append(out, h...), data...), nil
}

// checksum is the SHA-256 of the record, the tensor index (JSON, names sorted) and the data.
func checksum(meta string, index map[string]entry, data []byte) (string, error) {
	ix, err := json.Marshal(index)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte(meta))
	h.Write([]byte{0})
	h.Write(ix)
	h.Write([]byte{0})
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Write stores c at path atomically (internal/atomicfile): a crash leaves the old file or
// the new one.
func Write(path string, c *Checkpoint) error {
	b, err := encode(c)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(path, b); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// Read loads and verifies the checkpoint at path. A file that is short, malformed, of
// another format or version, or whose checksum does not match is an error wrapping
// ErrCorrupt that says which.
func Read(path string) (*Checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	c, err := decode(b)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	return c, nil
}

func corrupt(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, a...))
}

func decode(b []byte) (*Checkpoint, error) {
	if len(b) < 8 {
		return nil, corrupt("%d bytes, too short for a header", len(b))
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n > uint64(len(b)-8) {
		return nil, corrupt("header of %d bytes in a file of %d", n, len(b))
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b[8 : 8+n]))
	if err := dec.Decode(&raw); err != nil {
		return nil, corrupt("header: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, corrupt("header has data after its JSON object")
	}
	var meta map[string]string
	if err := json.Unmarshal(raw["__metadata__"], &meta); err != nil || meta["format"] != Format {
		return nil, corrupt("not an %s file (no __metadata__.format)", Format)
	}
	if meta["version"] != strconv.Itoa(Version) {
		return nil, fmt.Errorf("checkpoint version %q, this program reads %d", meta["version"], Version)
	}
	data := b[8+n:]
	index, err := readIndex(raw, len(data))
	if err != nil {
		return nil, err
	}
	sum, err := checksum(meta["meta"], index, data)
	if err != nil {
		return nil, err
	}
	if sum != meta["sha256"] {
		return nil, corrupt("checksum %s, the file says %s", sum[:12], shortSum(meta["sha256"]))
	}
	// Only now, with every size and offset checked and the bytes verified, is memory taken.
	c := &Checkpoint{Tensors: make(map[string]Tensor, len(index)), Meta: json.RawMessage(meta["meta"])}
	for name, e := range index {
		t := Tensor{Shape: e.Shape, Data: make([]float32, (e.DataOffsets[1]-e.DataOffsets[0])/4)}
		for i, at := 0, e.DataOffsets[0]; i < len(t.Data); i, at = i+1, at+4 {
			t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[at:]))
		}
		c.Tensors[name] = t
	}
	return c, nil
}

// readIndex parses the header's tensor entries and checks them against a data section of
// size bytes: each an F32 tensor whose shape's size (computed without overflow) matches
// its offsets, and the entries tiling the data exactly, in some order, with no gap or
// overlap (as safetensors requires). It allocates nothing in proportion to the sizes the
// header claims.
func readIndex(raw map[string]json.RawMessage, size int) (map[string]entry, error) {
	index := make(map[string]entry, len(raw))
	type span struct {
		lo, hi int
		name   string
	}
	spans := make([]span, 0, len(raw))
	for name, r := range raw {
		if name == "__metadata__" {
			continue
		}
		var e entry
		if err := json.Unmarshal(r, &e); err != nil {
			return nil, corrupt("tensor %s: %v", name, err)
		}
		lo, hi := e.DataOffsets[0], e.DataOffsets[1]
		bad := func(why string) error {
			return corrupt("tensor %s: %s %v at bytes [%d, %d) of %d: %s", name, e.Dtype, e.Shape, lo, hi, size, why)
		}
		if e.Dtype != "F32" {
			return nil, bad("want dtype F32")
		}
		if slices.ContainsFunc(e.Shape, func(d int) bool { return d < 0 }) {
			return nil, bad("a negative dimension")
		}
		values, ok := shapeSize(e.Shape, size/4)
		if !ok {
			return nil, bad("more values than the data holds")
		}
		if lo < 0 || hi < lo || hi > size {
			return nil, bad("offsets outside the data")
		}
		if hi-lo != 4*values {
			return nil, bad(fmt.Sprintf("the shape holds %d bytes", 4*values))
		}
		index[name] = e
		spans = append(spans, span{lo, hi, name})
	}
	sort.Slice(spans, func(i, j int) bool {
		return spans[i].lo < spans[j].lo || spans[i].lo == spans[j].lo && spans[i].hi < spans[j].hi
	})
	at := 0
	for _, s := range spans {
		if s.lo != at {
			return nil, corrupt("tensor %s starts at byte %d of the data, the one before ends at %d", s.name, s.lo, at)
		}
		at = s.hi
	}
	if at != size {
		return nil, corrupt("%d bytes of tensor data, the index covers %d", size, at)
	}
	return index, nil
}

// shapeSize returns the number of values of shape, whose dimensions are >= 0, if it is at
// most limit; it never overflows.
func shapeSize(shape []int, limit int) (int, bool) {
	if slices.Contains(shape, 0) {
		return 0, true
	}
	size := 1
	for _, d := range shape {
		if size > limit/d {
			return 0, false
		}
		size *= d
	}
	return size, true
}

func shortSum(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
