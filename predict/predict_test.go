package predict_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"math"
	"path/filepath"
	"sync"
	"testing"

	"example.com/xent/data/cifar10/cifar10test"
	"example.com/xent/internal/conv3"
	"example.com/xent/predict"
	"example.com/xent/train"
)

// checkpoint trains a small net on synthetic data and returns its newest checkpoint.
func checkpoint(t *testing.T) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "cifar-10-batches-bin")
	if err := cifar10test.WriteFolder(data, 16, 16); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ck")
	cfg := train.Presets["cnn-small"]
	cfg.Data, cfg.OwnData, cfg.Epochs, cfg.Batch, cfg.EvalBatch, cfg.CheckpointDir = data, true, 1, 16, 8, dir
	if _, err := train.Run(context.Background(), cfg, new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "step-000000005.safetensors")
}

func TestClassifier(t *testing.T) {
	c, err := predict.Load(checkpoint(t))
	if err != nil {
		t.Fatal(err)
	}
	if c.Model != "cnn-small" || len(c.Classes) != 10 || c.Classes[3] != "cat" || c.Batch != 8 || !(c.Std[0] > 0) {
		t.Fatalf("classifier %+v", c)
	}
	const n = 11 // more than a batch, and not a multiple of one
	pixels := cifar10test.Records(0, n)
	px := make([]byte, 0, n*predict.ImageSize)
	for i := range n {
		px = append(px, pixels[i*cifar10test.RecordSize+1:(i+1)*cifar10test.RecordSize]...)
	}
	probs := make([]float32, n*10)
	if err := c.Probabilities(probs, px); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		var sum float64
		for _, p := range probs[i*10 : (i+1)*10] {
			sum += float64(p)
		}
		if math.Abs(sum-1) > 1e-5 {
			t.Errorf("image %d: probabilities sum to %v", i, sum)
		}
	}
	// an image's probabilities do not depend on the others in its call
	one := make([]float32, 10)
	if err := c.Probabilities(one, px[9*predict.ImageSize:10*predict.ImageSize]); err != nil {
		t.Fatal(err)
	}
	for k := range one {
		if one[k] != probs[90+k] {
			t.Fatalf("image 9 alone: %v, in a batch: %v", one, probs[90:100])
		}
	}
	// concurrent calls give what serial ones do
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			got := make([]float32, n*10)
			if err := c.Probabilities(got, px); err != nil {
				t.Error(err)
				return
			}
			for i := range got {
				if got[i] != probs[i] {
					t.Errorf("concurrent call: probability %d = %v, serial %v", i, got[i], probs[i])
					return
				}
			}
		})
	}
	wg.Wait()
	if conv3.Fast {
		if a := testing.AllocsPerRun(3, func() { c.Probabilities(probs, px) }); a != 0 {
			t.Errorf("Probabilities allocated %v times a call once warm", a)
		}
		tc, err := predict.Load(checkpoint(t), predict.WithFlipTranslate())
		if err != nil {
			t.Fatal(err)
		}
		tc.Probabilities(probs, px)
		if a := testing.AllocsPerRun(3, func() { tc.Probabilities(probs, px) }); a != 0 {
			t.Errorf("with flip-translate, Probabilities allocated %v times a call once warm", a)
		}
	}
	top := predict.Top([]float32{0.1, 0.5, 0.1, 0.3}, 3)
	if len(top) != 3 || top[0].Class != 1 || top[1].Class != 3 || top[2].Class != 0 {
		t.Errorf("Top: %+v", top)
	}
	// an image of another size is resized
	if res, err := c.PredictImages(image.NewGray(image.Rect(0, 0, 50, 70))); err != nil || len(res) != 1 || len(res[0]) != 10 {
		t.Errorf("Images: %v, %v", res, err)
	}
	if err := c.Probabilities(make([]float32, 9), px[:predict.ImageSize]); err == nil {
		t.Error("room for 9 probabilities of a 10-class image accepted")
	}
}

// A checkpoint of an older xent, without the normalisation and class names, is refused.
func TestOldCheckpoint(t *testing.T) {
	_, err := predict.Load(filepath.Join("..", "checkpoints", "testdata", "airbench-4-8-8.safetensors"))
	if !errors.Is(err, predict.ErrNotClassifier) {
		t.Errorf("err = %v, want ErrNotClassifier", err)
	}
}
