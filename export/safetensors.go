package export

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"example.com/xent/internal/atomicfile"
)

// A tensor of a safetensors file: float32 values, or int64 ones.
type tensor struct {
	shape []int
	f32   []float32
	i64   []int64
}

// writeSafetensors writes the named tensors as a plain safetensors file (names sorted,
// data 8-byte aligned), atomically.
func writeSafetensors(path string, tensors map[string]tensor) error {
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	type entry struct {
		Dtype       string `json:"dtype"`
		Shape       []int  `json:"shape"`
		DataOffsets [2]int `json:"data_offsets"`
	}
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var data []byte
	for _, n := range names {
		t, begin := tensors[n], len(data)
		dtype := "F32"
		if t.i64 != nil {
			dtype = "I64"
			for _, v := range t.i64 {
				data = binary.LittleEndian.AppendUint64(data, uint64(v))
			}
		} else {
			for _, v := range t.f32 {
				data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
			}
		}
		shape := t.shape
		if shape == nil {
			shape = []int{}
		}
		header[n] = entry{Dtype: dtype, Shape: shape, DataOffsets: [2]int{begin, len(data)}}
	}
	h, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	out := binary.LittleEndian.AppendUint64(make([]byte, 0, 8+len(h)+len(data)), uint64(len(h)))
	if err := atomicfile.WriteBytes(path, append(append(out, h...), data...)); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}
