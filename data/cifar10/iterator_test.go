package cifar10

import (
	"math"
	"runtime"
	"testing"

	"example.com/xent/data/cifar10/cifar10test"
)

// identity normalisation: batch values are the pixel bytes themselves.
var rawPixels = IterConfig{Std: [3]float32{1, 1, 1}}

func TestCropWindowByHand(t *testing.T) {
	var src [ImageSize]byte
	for i := range src {
		src[i] = byte(i*31 + i/7)
	}
	norm := newNormTable([3]float32{}, [3]float32{1, 1, 1})
	dst := make([]float32, ImageSize)
	for _, mode := range []Padding{PadZero, PadReflect} {
		for _, flip := range []bool{false, true} {
			for _, off := range [][2]int{{0, 0}, {4, 4}, {8, 3}, {1, 8}} {
				dy, dx := off[0], off[1]
				augment(dst, src[:], norm, 4, dy, dx, flip, mode)
				for c := range Channels {
					for y := range Height {
						for x := range Width {
							// the hand computation: pad, crop at (dy, dx), then mirror
							xx := x
							if flip {
								xx = Width - 1 - xx
							}
							sy, sx := y+dy-4, xx+dx-4
							want := float32(0)
							inside := sy >= 0 && sy < Height && sx >= 0 && sx < Width
							if mode == PadReflect {
								sy, sx = mirror(sy), mirror(sx)
								inside = true
							}
							if inside {
								want = float32(src[c*PlaneSize+sy*Width+sx])
							}
							if got := dst[c*PlaneSize+y*Width+x]; got != want {
								t.Fatalf("mode %v flip %v offset %v: (c%d,%d,%d) = %v, want %v", mode, flip, off, c, y, x, got, want)
							}
						}
					}
				}
			}
		}
	}
}

func mirror(i int) int {
	switch {
	case i < 0:
		return -i
	case i >= Width:
		return 2*Width - 2 - i
	}
	return i
}

func TestFlipIsInvolution(t *testing.T) {
	var src [ImageSize]byte
	for i := range src {
		src[i] = byte(i * 13)
	}
	norm := newNormTable([3]float32{}, [3]float32{1, 1, 1})
	once, twice := make([]float32, ImageSize), make([]float32, ImageSize)
	augment(once, src[:], norm, 0, 0, 0, true, PadZero)
	var flipped [ImageSize]byte
	for i, v := range once {
		flipped[i] = byte(v)
	}
	augment(twice, flipped[:], norm, 0, 0, 0, true, PadZero)
	for i := range src {
		if twice[i] != float32(src[i]) {
			t.Fatalf("flip twice: pixel %d = %v, want %v", i, twice[i], src[i])
		}
	}
	if once[0] != float32(src[Width-1]) {
		t.Errorf("flip: pixel 0 = %v, want the last of the row %v", once[0], src[Width-1])
	}
}

func TestNormalisation(t *testing.T) {
	d, _ := Open(synthetic(t, 4, 1), AnyRecordCount())
	cfg := IterConfig{BatchSize: 20, Mean: [3]float32{125.3, 123, 113.9}, Std: [3]float32{63, 62.1, 66.7}}
	it, err := NewIterator(d.Train, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := it.Next()
	for i := range b.N {
		img := d.Train.Image(b.Indices[i])
		for j, p := range img {
			c := j / PlaneSize
			want := (float32(p) - cfg.Mean[c]) / cfg.Std[c]
			if got := b.Images[i*ImageSize+j]; math.Abs(float64(got-want)) > 1e-6 {
				t.Fatalf("image %d pixel %d = %v, want %v", i, j, got, want)
			}
		}
	}
}

func TestEpochIsAPermutation(t *testing.T) {
	d, _ := Open(synthetic(t, 21, 1), AnyRecordCount()) // 105 images: batches of 16, last one of 9
	cfg := rawPixels
	cfg.BatchSize, cfg.Shuffle, cfg.Seed = 16, true, 7
	it, _ := NewIterator(d.Train, cfg)
	if it.BatchesPerEpoch() != 7 {
		t.Fatalf("%d batches per epoch, want 7", it.BatchesPerEpoch())
	}
	var orders [2][]int
	for e := range 2 {
		seen := make([]int, d.Train.Len())
		for b := range 7 {
			batch := it.Next()
			if batch.Epoch != e || batch.Index != b {
				t.Fatalf("batch (%d,%d), want (%d,%d)", batch.Epoch, batch.Index, e, b)
			}
			if want := min(16, 105-16*b); batch.N != want {
				t.Errorf("batch %d has %d images, want %d", b, batch.N, want)
			}
			for i, idx := range batch.Indices[:batch.N] {
				seen[idx]++
				orders[e] = append(orders[e], idx)
				// the pixels are the image's: synthetic records say which they are
				if got := cifar10test.Index(bytesOf(batch.Images[i*ImageSize:])); got != idx || batch.Labels[i] != idx%10 {
					t.Fatalf("batch %d image %d holds record %d label %d, index says %d", b, i, got, batch.Labels[i], idx)
				}
			}
		}
		for idx, n := range seen {
			if n != 1 {
				t.Fatalf("epoch %d: image %d seen %d times", e, idx, n)
			}
		}
	}
	same := 0
	for i := range orders[0] {
		if orders[0][i] == orders[1][i] {
			same++
		}
	}
	if same > 10 {
		t.Errorf("epochs 0 and 1 share %d of 105 positions: not reshuffled", same)
	}
}

func bytesOf(img []float32) []byte {
	b := make([]byte, 4)
	for i := range b {
		b[i] = byte(img[i])
	}
	return b
}

func TestDropLast(t *testing.T) {
	d, _ := Open(synthetic(t, 21, 1), AnyRecordCount())
	cfg := rawPixels
	cfg.BatchSize, cfg.DropLast = 16, true
	it, _ := NewIterator(d.Train, cfg)
	for i := range 13 {
		b := it.Next()
		if b.N != 16 || b.Index != i%6 || b.Epoch != i/6 {
			t.Fatalf("batch %d: N %d epoch %d index %d", i, b.N, b.Epoch, b.Index)
		}
	}
}

// collect returns the first n batches of an iterator, copied.
func collect(t *testing.T, s *Split, cfg IterConfig, n int) []Batch {
	t.Helper()
	it, err := NewIterator(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []Batch
	for range n {
		b := it.Next()
		out = append(out, Batch{Images: append([]float32(nil), b.Images...), Labels: append([]int(nil), b.Labels...),
			Indices: append([]int(nil), b.Indices...), N: b.N, Epoch: b.Epoch, Index: b.Index})
	}
	return out
}

func equalBatches(a, b []Batch) bool {
	for i := range a {
		if a[i].N != b[i].N || a[i].Epoch != b[i].Epoch || a[i].Index != b[i].Index {
			return false
		}
		for j := range a[i].Images {
			if a[i].Images[j] != b[i].Images[j] {
				return false
			}
		}
		for j := range a[i].Labels {
			if a[i].Labels[j] != b[i].Labels[j] || a[i].Indices[j] != b[i].Indices[j] {
				return false
			}
		}
	}
	return true
}

func augmented(seed uint64) IterConfig {
	return IterConfig{BatchSize: 32, Shuffle: true, Seed: seed, Crop: 4, Pad: PadReflect, Flip: RandomFlip,
		Mean: [3]float32{120, 120, 120}, Std: [3]float32{60, 60, 60}}
}

func TestSameSeedSameBatches(t *testing.T) {
	d, _ := Open(synthetic(t, 20, 1), AnyRecordCount())
	want := collect(t, d.Train, augmented(3), 10) // 4 batches per epoch: 2.5 epochs
	prefetched := augmented(3)
	prefetched.Prefetch = 3
	old := runtime.GOMAXPROCS(1)
	single := collect(t, d.Train, prefetched, 10)
	runtime.GOMAXPROCS(old)
	if !equalBatches(want, single) {
		t.Error("the same seed gave other batches with Prefetch 3 on GOMAXPROCS 1")
	}
	if equalBatches(want, collect(t, d.Train, augmented(4), 10)) {
		t.Error("seeds 3 and 4 gave the same batches")
	}
}

// The shards of a batch, put together in order, are the batch of one iterator without
// shards: the same images, labels, crops and flips, also for an epoch's short last batch.
func TestShardsMakeTheWholeBatch(t *testing.T) {
	d, _ := Open(synthetic(t, 20, 1), AnyRecordCount())
	for _, flip := range []Flip{RandomFlip, AlternatingFlip} {
		cfg := augmented(5)
		cfg.Flip = flip
		want := collect(t, d.Train, cfg, 10)
		for _, shards := range []int{2, 3} {
			parts := make([][]Batch, shards)
			for s := range shards {
				c := cfg
				c.Shard, c.Shards, c.Prefetch = s, shards, s // with and without prefetching
				parts[s] = collect(t, d.Train, c, 10)
			}
			var joined []Batch
			for i := range want {
				j := Batch{Epoch: parts[0][i].Epoch, Index: parts[0][i].Index}
				for s := range shards {
					p := parts[s][i]
					if p.Epoch != j.Epoch || p.Index != j.Index {
						t.Fatalf("%d shards: batch %d of shard %d is epoch %d batch %d", shards, i, s, p.Epoch, p.Index)
					}
					j.Images, j.Labels, j.Indices = append(j.Images, p.Images...), append(j.Labels, p.Labels...), append(j.Indices, p.Indices...)
					j.N += p.N
				}
				joined = append(joined, j)
			}
			if !equalBatches(want, joined) {
				t.Errorf("flip %v, %d shards: joined shards differ from the whole batches", flip, shards)
			}
		}
	}
}

func TestSeekResumesOnTheNextBatch(t *testing.T) {
	d, _ := Open(synthetic(t, 20, 1), AnyRecordCount())
	for _, prefetch := range []int{0, 2} {
		cfg := augmented(11)
		cfg.Prefetch = prefetch
		want := collect(t, d.Train, cfg, 9)
		it, _ := NewIterator(d.Train, cfg)
		for range 6 {
			it.Next()
		}
		pos := it.Position()
		it.Close()
		if pos != (Position{Seed: 11, Epoch: 1, Index: 2}) {
			t.Fatalf("position after 6 batches of 4 per epoch: %+v", pos)
		}
		resumed, _ := NewIterator(d.Train, cfg)
		if err := resumed.Seek(pos); err != nil {
			t.Fatal(err)
		}
		for i := 6; i < 9; i++ {
			b := resumed.Next()
			got := []Batch{{Images: b.Images, Labels: b.Labels, Indices: b.Indices, N: b.N, Epoch: b.Epoch, Index: b.Index}}
			if !equalBatches(want[i:i+1], got) {
				t.Fatalf("prefetch %d: batch %d after Seek differs from the uninterrupted run", prefetch, i)
			}
		}
		resumed.Close()
		if err := resumed.Seek(Position{Seed: 12}); err == nil {
			t.Error("Seek accepted another seed's position")
		}
	}
}

func TestAlternatingFlip(t *testing.T) {
	d, _ := Open(synthetic(t, 40, 1), AnyRecordCount())
	cfg := rawPixels
	cfg.BatchSize, cfg.Flip, cfg.Seed = 200, AlternatingFlip, 5
	it, _ := NewIterator(d.Train, cfg)
	flipped := func(b *Batch, i int) bool { // record bytes 0..3 hold the index: mirrored, they sit at 28..31
		return cifar10test.Index(bytesOf(b.Images[i*ImageSize:])) != b.Indices[i]
	}
	var first [200]bool
	count := 0
	for e := range 3 {
		b := it.Next()
		for i := range b.N {
			f := flipped(b, i)
			switch e {
			case 0:
				first[i] = f
				if f {
					count++
				}
			case 1:
				if f == first[i] {
					t.Fatalf("image %d flipped %v in epochs 0 and 1", i, f)
				}
			case 2:
				if f != first[i] {
					t.Fatalf("image %d: flip differs between epochs 0 and 2", i)
				}
			}
		}
	}
	if count < 70 || count > 130 {
		t.Errorf("%d of 200 images flipped in epoch 0, want about half", count)
	}
}

func TestIteratorConfigErrors(t *testing.T) {
	d, _ := Open(synthetic(t, 2, 1), AnyRecordCount())
	for name, cfg := range map[string]IterConfig{
		"batch 0":             {Std: [3]float32{1, 1, 1}},
		"zero std":            {BatchSize: 4},
		"crop 32":             {BatchSize: 4, Crop: 32, Std: [3]float32{1, 1, 1}},
		"drop-last, no batch": {BatchSize: 11, DropLast: true, Std: [3]float32{1, 1, 1}},
		"negative prefetch":   {BatchSize: 4, Prefetch: -1, Std: [3]float32{1, 1, 1}},
		"shard 2 of 2":        {BatchSize: 4, Shard: 2, Shards: 2, Std: [3]float32{1, 1, 1}},
		"shard -1":            {BatchSize: 4, Shard: -1, Shards: 2, Std: [3]float32{1, 1, 1}},
	} {
		if _, err := NewIterator(d.Train, cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestIteratorAllocatesNothingPerBatch(t *testing.T) {
	d, _ := Open(synthetic(t, 20, 1), AnyRecordCount())
	for _, prefetch := range []int{0, 2} {
		cfg := augmented(1)
		cfg.Prefetch = prefetch
		it, _ := NewIterator(d.Train, cfg)
		for range 10 { // warm up: buffers, the permutation
			it.Next()
		}
		if a := testing.AllocsPerRun(40, func() { it.Next() }); a != 0 {
			t.Errorf("prefetch %d: Next allocated %v times per batch, want 0", prefetch, a)
		}
		it.Close()
	}
}
