package cifar10

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
)

// IterConfig describes a stream of batches over a Split.
type IterConfig struct {
	BatchSize int               // images per batch, e.g. 512
	Shuffle   bool              // a new order every epoch
	DropLast  bool              // skip an epoch's last, partial batch
	Seed      uint64            // seeds the order and the augmentation
	Mean, Std [Channels]float32 // per-channel normalisation in pixel units (0..255), e.g. from Train.ChannelStats
	Crop      int               // random-crop padding in pixels, e.g. 4; 0 for none
	Pad       Padding           // what a crop sees outside the image
	Flip      Flip              // left-right mirroring
	Prefetch  int               // batches prepared ahead on a goroutine of its own; 0 prepares them in Next
	// Shard of Shards, with Shards > 1: every batch holds only part Shard (from 0) of
	// Shards near-equal contiguous parts of the batch that one iterator without them would
	// make (the same images, crops and flips), for data-parallel training over Shards ranks.
	Shard, Shards int
}

// A Batch is a slice of a Split, normalised and augmented. Its slices have length N (their
// capacity is always BatchSize), so a training loop with a fixed batch shape copies
// Images into its input tensor and sees how many images are real.
type Batch struct {
	Images  []float32 // [N,3,32,32]
	Labels  []int     // [N]
	Indices []int     // [N]: each image's index in the Split
	N       int       // images: BatchSize, or fewer in an epoch's last batch without DropLast
	Epoch   int       // from 0
	Index   int       // the batch's number within its epoch, from 0
}

// A Position is where an Iterator stands: the next batch Next returns. Since every batch
// is a function of (Seed, Epoch, Index) alone (the order and the random crops and flips
// are drawn from generators seeded by them), it is the iterator's whole state: saved with a
// checkpoint and passed to Seek, it resumes the stream on exactly the next batch.
type Position struct {
	Seed  uint64 `json:"seed"`
	Epoch int    `json:"epoch"`
	Index int    `json:"index"`
}

// An Iterator produces batches from a Split, forever: epochs follow one another and each
// Batch says which it belongs to. With Prefetch > 0 a goroutine prepares the next batches
// while the caller trains. The batches are the same for the same Seed whatever Prefetch
// and GOMAXPROCS are.
type Iterator struct {
	split *Split
	cfg   IterConfig
	norm  *normTable
	next  Position // of the batch Next returns next

	// used by whoever prepares batches (Next, or the prefetch goroutine)
	made      Position
	permEpoch int
	perm      []int32
	pcg       *rand.PCG // augmentation
	rng       *rand.Rand
	shuffle   *rand.Rand
	shufPCG   *rand.PCG

	held  *Batch // the batch the caller holds, recycled on the next call of Next
	ready chan *Batch
	free  chan *Batch
	stop  chan struct{}
	done  sync.WaitGroup
}

// NewIterator returns an iterator over s starting at epoch 0, batch 0.
func NewIterator(s *Split, cfg IterConfig) (*Iterator, error) {
	switch {
	case s == nil || s.Len() == 0:
		return nil, errors.New("cifar10: iterator over an empty split")
	case cfg.BatchSize < 1:
		return nil, fmt.Errorf("cifar10: batch size %d < 1", cfg.BatchSize)
	case cfg.DropLast && cfg.BatchSize > s.Len():
		return nil, fmt.Errorf("cifar10: batch size %d > %d images with DropLast: no batch at all", cfg.BatchSize, s.Len())
	case cfg.Crop < 0 || cfg.Crop >= Width:
		return nil, fmt.Errorf("cifar10: crop padding %d outside [0, %d)", cfg.Crop, Width)
	case cfg.Prefetch < 0:
		return nil, fmt.Errorf("cifar10: prefetch %d < 0", cfg.Prefetch)
	case cfg.Shards < 0 || cfg.Shard < 0 || cfg.Shard >= max(cfg.Shards, 1):
		return nil, fmt.Errorf("cifar10: shard %d of %d", cfg.Shard, cfg.Shards)
	}
	for c, sd := range cfg.Std {
		if !(sd > 0) {
			return nil, fmt.Errorf("cifar10: std of channel %d is %v, want > 0", c, sd)
		}
	}
	pcg, shufPCG := rand.NewPCG(0, 0), rand.NewPCG(0, 0)
	it := &Iterator{split: s, cfg: cfg, norm: newNormTable(cfg.Mean, cfg.Std), permEpoch: -1,
		pcg: pcg, rng: rand.New(pcg), shufPCG: shufPCG, shuffle: rand.New(shufPCG)}
	it.next.Seed, it.made.Seed = cfg.Seed, cfg.Seed
	return it, nil
}

// BatchesPerEpoch returns the number of batches in one epoch.
func (it *Iterator) BatchesPerEpoch() int {
	n, b := it.split.Len(), it.cfg.BatchSize
	if it.cfg.DropLast {
		return n / b
	}
	return (n + b - 1) / b
}

// Position returns the position of the batch that Next returns next.
func (it *Iterator) Position() Position { return it.next }

// Seek makes Next continue from p, which must carry the iterator's Seed.
func (it *Iterator) Seek(p Position) error {
	if p.Seed != it.cfg.Seed {
		return fmt.Errorf("cifar10: position of seed %d for an iterator of seed %d", p.Seed, it.cfg.Seed)
	}
	if p.Epoch < 0 || p.Index < 0 || p.Index >= it.BatchesPerEpoch() {
		return fmt.Errorf("cifar10: position epoch %d batch %d outside [0, %d) batches per epoch",
			p.Epoch, p.Index, it.BatchesPerEpoch())
	}
	it.stopPrefetch()
	it.next, it.made = p, p
	return nil
}

// Next returns the next batch. It stays valid until the following call of Next or Close.
func (it *Iterator) Next() *Batch {
	if it.cfg.Prefetch == 0 {
		if it.held == nil {
			it.held = it.newBatch()
		}
		it.fill(it.held)
	} else {
		if it.ready == nil {
			it.startPrefetch()
		}
		if it.held != nil {
			it.free <- it.held
		}
		it.held = <-it.ready
	}
	it.next = it.after(Position{Seed: it.cfg.Seed, Epoch: it.held.Epoch, Index: it.held.Index})
	return it.held
}

// Close stops the prefetch goroutine, if any.
func (it *Iterator) Close() { it.stopPrefetch() }

func (it *Iterator) newBatch() *Batch {
	s := max(it.cfg.Shards, 1)
	b := (it.cfg.BatchSize + s - 1) / s // the largest shard
	return &Batch{Images: make([]float32, b*ImageSize), Labels: make([]int, b), Indices: make([]int, b)}
}

func (it *Iterator) after(p Position) Position {
	if p.Index++; p.Index == it.BatchesPerEpoch() {
		p.Epoch, p.Index = p.Epoch+1, 0
	}
	return p
}

// startPrefetch starts a goroutine that fills batches from it.made on. Prefetch+1 batches
// circulate: up to Prefetch ready or being filled, and one held by the caller.
func (it *Iterator) startPrefetch() {
	n := it.cfg.Prefetch
	it.ready, it.free, it.stop = make(chan *Batch, n), make(chan *Batch, n+1), make(chan struct{})
	for range n + 1 {
		it.free <- it.newBatch()
	}
	it.done.Add(1)
	go func() {
		defer it.done.Done()
		for {
			var b *Batch
			select {
			case b = <-it.free:
			case <-it.stop:
				return
			}
			it.fill(b)
			select {
			case it.ready <- b:
			case <-it.stop:
				return
			}
		}
	}()
}

// stopPrefetch ends the goroutine and drops the batches it prepared, so that the next
// call of Next starts again from it.next.
func (it *Iterator) stopPrefetch() {
	if it.ready == nil {
		return
	}
	close(it.stop)
	it.done.Wait()
	it.ready, it.free, it.stop, it.held = nil, nil, nil, nil
	it.made = it.next
}

// fill prepares the batch at it.made into b and advances it.made.
func (it *Iterator) fill(b *Batch) {
	p := it.made
	it.made = it.after(p)
	n := it.split.Len()
	lo := p.Index * it.cfg.BatchSize
	whole := min(it.cfg.BatchSize, n-lo) // images in the batch of all shards
	first, end := 0, whole               // this shard's part of it
	if s := it.cfg.Shards; s > 1 {
		first, end = whole*it.cfg.Shard/s, whole*(it.cfg.Shard+1)/s
	}
	b.N, b.Epoch, b.Index = end-first, p.Epoch, p.Index
	b.Images, b.Labels, b.Indices = b.Images[:b.N*ImageSize], b.Labels[:b.N], b.Indices[:b.N]
	perm := it.order(p.Epoch)
	// The augmentation of a batch draws from a generator seeded by (seed, epoch, batch),
	// image by image: a shard draws the earlier shards' crops and flips too.
	it.pcg.Seed(it.cfg.Seed^0x9e3779b97f4a7c15, uint64(p.Epoch)<<32|uint64(p.Index))
	span := 2*it.cfg.Crop + 1
	for j := range end {
		idx, i := lo+j, j-first
		if perm != nil {
			idx = int(perm[idx])
		}
		dy, dx := it.cfg.Crop, it.cfg.Crop
		if it.cfg.Crop > 0 {
			dy, dx = it.rng.IntN(span), it.rng.IntN(span)
		}
		var flip bool
		switch it.cfg.Flip {
		case RandomFlip:
			flip = it.rng.Uint32()&1 == 1
		case AlternatingFlip:
			flip = (flipBit(it.cfg.Seed, idx)+uint64(p.Epoch))&1 == 1
		}
		if i < 0 {
			continue
		}
		b.Indices[i], b.Labels[i] = idx, int(it.split.Labels[idx])
		augment(b.Images[i*ImageSize:(i+1)*ImageSize], it.split.Image(idx), it.norm, it.cfg.Crop, dy, dx, flip, it.cfg.Pad)
	}
}

// order returns the permutation of epoch e (nil without Shuffle): a Fisher-Yates shuffle
// from a generator seeded by (seed, e), made once per epoch.
func (it *Iterator) order(e int) []int32 {
	if !it.cfg.Shuffle {
		return nil
	}
	if it.permEpoch != e {
		n := it.split.Len()
		if it.perm == nil {
			it.perm = make([]int32, n)
		}
		for i := range it.perm {
			it.perm[i] = int32(i)
		}
		it.shufPCG.Seed(it.cfg.Seed, uint64(e))
		for i := n - 1; i > 0; i-- { // Fisher-Yates
			j := it.shuffle.IntN(i + 1)
			it.perm[i], it.perm[j] = it.perm[j], it.perm[i]
		}
		it.permEpoch = e
	}
	return it.perm
}

// flipBit is image idx's flip in epoch 0 under AlternatingFlip: a bit of splitmix64 of
// (seed, idx).
func flipBit(seed uint64, idx int) uint64 {
	z := seed + uint64(idx)*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return (z ^ z>>31) & 1
}
