package train

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"example.com/xent/data/cifar10"
)

// dataDir is -data, else $CIFAR10_DIR, else the user's cache.
func dataDir(cfg Config) string {
	if cfg.Data != "" {
		return cfg.Data
	}
	if d := os.Getenv("CIFAR10_DIR"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "cifar10", "cifar-10-batches-bin")
}

// openData loads the dataset (downloading it with -download), then splits off -val's
// held-out images and keeps -subset's first training images.
func (r *runner) openData(ctx context.Context) error {
	cfg := r.cfg
	dir := dataDir(cfg)
	if cfg.Download { // rank 0 first, then the others (a no-op for a folder they share)
		for _, turn := range []bool{r.comm.Rank() == 0, r.comm.Rank() != 0} {
			if turn {
				if err := cifar10.Download(ctx, dir, cifar10.DownloadOptions{Progress: r.out}); err != nil {
					return err
				}
			}
			if err := r.barrier(); err != nil {
				return err
			}
		}
	}
	var opts []cifar10.OpenOption
	if cfg.OwnData {
		opts = append(opts, cifar10.AnyRecordCount())
	}
	var err error
	if r.data, err = cifar10.Open(dir, opts...); err != nil {
		switch {
		case errors.Is(err, os.ErrNotExist) && !cfg.Download:
			return fmt.Errorf("%w (pass -download to fetch CIFAR-10, or -data DIR)", err)
		case errors.Is(err, cifar10.ErrRecordCount):
			return fmt.Errorf("%w: a damaged folder (fetch it again), or a dataset of your own in this format (pass -own-data)", err)
		}
		return err
	}
	if cfg.Val > 0 { // the last Val records (of data_batch_5), never seen in training
		n := r.data.Train.Len()
		if cfg.Val >= n {
			return fmt.Errorf("-val %d: want fewer than the %d training images", cfg.Val, n)
		}
		r.data.Test, r.data.Train = r.data.Train.Slice(n-cfg.Val, n), r.data.Train.Slice(0, n-cfg.Val)
	}
	if cfg.Subset > r.data.Train.Len() {
		return fmt.Errorf("-subset %d: more than the %d training images", cfg.Subset, r.data.Train.Len())
	}
	if cfg.Subset > 0 {
		r.data.Train = r.data.Train.Slice(0, cfg.Subset)
	}
	if cfg.Batch > r.data.Train.Len() {
		return fmt.Errorf("-batch %d: more than the %d training images", cfg.Batch, r.data.Train.Len())
	}
	return nil
}

// buildBatches makes the training batches (normalised by the training images' channel
// statistics, shuffled, augmented as -augment says, prepared ahead on a goroutine) and
// the evaluation split's (normalised alike, in order).
func (r *runner) buildBatches() error {
	m, s := r.data.Train.ChannelStats()
	for c := range 3 {
		r.mean[c], r.std[c] = float32(m[c]), float32(s[c])
	}
	aug := r.cfg.Augment
	train := cifar10.IterConfig{BatchSize: r.cfg.Batch, Shuffle: true, DropLast: true, Seed: r.cfg.Seed,
		Mean: r.mean, Std: r.std, Prefetch: 2, Crop: aug.Crop, Shard: r.comm.Rank(), Shards: r.ranks()}
	if aug.Reflect {
		train.Pad = cifar10.PadReflect
	}
	switch {
	case aug.Flip:
		train.Flip = cifar10.RandomFlip
	case aug.AltFlip:
		train.Flip = cifar10.AlternatingFlip
	}
	var err error
	if r.train, err = cifar10.NewIterator(r.data.Train, train); err != nil {
		return err
	}
	r.test, err = cifar10.NewIterator(r.data.Test, cifar10.IterConfig{BatchSize: r.cfg.EvalBatch, Mean: r.mean, Std: r.std})
	return err
}

// initFromData gives data-dependent layers (airbench's whitening) the first 5,000 training
// images, normalised, unaugmented. A resumed run overwrites them from its checkpoint.
func (r *runner) initFromData() error {
	if !r.net.NeedsData() {
		return nil
	}
	n := min(5000, r.data.Train.Len())
	it, err := cifar10.NewIterator(r.data.Train.Slice(0, n), cifar10.IterConfig{BatchSize: n, Mean: r.mean, Std: r.std})
	if err != nil {
		return err
	}
	defer it.Close()
	return r.net.InitFromData(it.Next().Images, n)
}
