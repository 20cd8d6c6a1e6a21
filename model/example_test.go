package model_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	G "gorgonia.org/gorgonia"

	"example.com/xent/data/cifar10/cifar10test"
	"example.com/xent/model"
	"example.com/xent/train"
)

// A custom classifier in a few lines, trained through the same loop as cmd/train.
func Example() {
	// Two conv-BN-ReLU stages, a residual block of one's own, and a linear head.
	block := func(b *model.Builder, name string, x *G.Node, c int) *G.Node {
		h := b.ReLU(b.BatchNorm2d(name+".bn1", b.Conv2d(name+".conv1", x, c, 3, 1, 1)))
		return b.ReLU(b.Add(x, b.BatchNorm2d(name+".bn2", b.Conv2d(name+".conv2", h, c, 3, 1, 1))))
	}
	tiny := func(b *model.Builder, x *G.Node) *G.Node {
		h := b.ReLU(b.BatchNorm2d("stem.bn", b.Conv2d("stem", x, 8, 3, 1, 1)))
		h = block(b, "block1", b.MaxPool2d(h, 2), 8)
		h = b.ReLU(b.BatchNorm2d("down.bn", b.Conv2d("down", h, 16, 3, 2, 1)))
		return b.Linear("head", b.GlobalAvgPool(block(b, "block2", h, 16)), 10)
	}
	if err := model.Register("tiny-example", "an example", tiny, model.He); err != nil {
		panic(err)
	}

	dir, _ := os.MkdirTemp("", "xent-example-")
	defer os.RemoveAll(dir)
	data := filepath.Join(dir, "cifar-10-batches-bin")
	cifar10test.WriteFolder(data, 32, 64) // 160 training and 64 test images of synthetic data
	res, err := train.Run(context.Background(), train.Config{Data: data, OwnData: true, Model: "tiny-example", Epochs: 2,
		Batch: 32, EvalBatch: 64, LR: 0.01, Optimizer: train.AdamW, Momentum: 0.9, Schedule: train.Constant, Keep: 1}, new(bytes.Buffer))
	if err != nil {
		panic(err)
	}
	first, last := res.Metrics[0], res.Metrics[len(res.Metrics)-1]
	fmt.Printf("%s: %d parameters, %d epochs of %d steps\n", last.Model, last.Params, last.Epoch, last.Step/last.Epoch)
	fmt.Println("training loss went down:", last.TrainLoss < first.TrainLoss)
	// Output:
	// tiny-example: 7514 parameters, 2 epochs of 5 steps
	// training loss went down: true
}
