package cifar10

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"example.com/xent/data/cifar10/cifar10test"
)

// benchSplit is the real training split when CIFAR10_DIR is set, else a synthetic one of
// 10,000 images.
func benchSplit(b *testing.B) *Split {
	b.Helper()
	if dir := os.Getenv("CIFAR10_DIR"); dir != "" {
		d, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		return d.Train
	}
	d, err := Open(synthetic(b, 2000, 1), AnyRecordCount())
	if err != nil {
		b.Fatal(err)
	}
	return d.Train
}

// BenchmarkReader decodes 1,000 records from memory: MB/s of the file format. They are
// the first of data_batch_1.bin when CIFAR10_DIR is set, else synthetic.
func BenchmarkReader(b *testing.B) {
	data := cifar10test.Records(0, 1000)
	if dir := os.Getenv("CIFAR10_DIR"); dir != "" {
		real, err := os.ReadFile(filepath.Join(dir, TrainFiles[0]))
		if err != nil {
			b.Fatal(err)
		}
		data = real[:1000*RecordSize]
	}
	br := bytes.NewReader(data)
	r := NewReader(br)
	r.ReuseRecord = true
	b.SetBytes(RecordSize)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Read(); err != nil {
			br.Reset(data)
			r = NewReader(br)
			r.ReuseRecord = true
		}
	}
}

// BenchmarkPipeline: shuffled, cropped (padding 4, reflect), flipped, normalised batches of
// 512, prepared on the caller's goroutine (Prefetch 0) or a goroutine of their own.
func BenchmarkPipeline(b *testing.B) {
	s := benchSplit(b)
	for _, prefetch := range []int{0, 2} {
		name := "sync"
		if prefetch > 0 {
			name = "prefetch"
		}
		b.Run(name, func(b *testing.B) {
			cfg := IterConfig{BatchSize: 512, Shuffle: true, Seed: 1, Crop: 4, Pad: PadReflect, Flip: RandomFlip,
				Mean: [3]float32{125.3, 123, 113.9}, Std: [3]float32{63, 62.1, 66.7}, Prefetch: prefetch}
			it, err := NewIterator(s, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer it.Close()
			it.Next()
			b.SetBytes(512 * ImageSize) // pixel bytes in
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				it.Next()
			}
			b.ReportMetric(float64(b.N*512)/b.Elapsed().Seconds(), "img/s")
		})
	}
}
