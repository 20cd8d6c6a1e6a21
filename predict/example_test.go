package predict_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"

	"example.com/xent/data/cifar10/cifar10test"
	"example.com/xent/predict"
	"example.com/xent/train"
)

// Load a checkpoint that train wrote, then classify an image of any size.
func Example() {
	dir, _ := os.MkdirTemp("", "xent-predict-example-")
	defer os.RemoveAll(dir)
	// a checkpoint to load: one epoch of the mlp on a small synthetic dataset
	data := filepath.Join(dir, "cifar-10-batches-bin")
	cifar10test.WriteFolder(data, 16, 16)
	cfg := train.Presets["mlp"]
	cfg.Data, cfg.OwnData, cfg.Epochs, cfg.Batch, cfg.CheckpointDir = data, true, 1, 16, filepath.Join(dir, "ck")
	if _, err := train.Run(context.Background(), cfg, new(bytes.Buffer)); err != nil {
		panic(err)
	}

	c, err := predict.Load(filepath.Join(dir, "ck", "best.safetensors"))
	if err != nil {
		panic(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 100, 60))
	for x := range 100 {
		img.Set(x, 30, color.RGBA{200, 40, 40, 255})
	}
	probs, err := c.PredictImages(img)
	if err != nil {
		panic(err)
	}
	best := predict.Top(probs[0], 1)[0]
	fmt.Printf("%s over %d classes; the most probable is one of them: %v\n", c.Model, len(c.Classes), best.Class < len(c.Classes))
	// Output: mlp over 10 classes; the most probable is one of them: true
}
