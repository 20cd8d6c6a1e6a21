// Command predict classifies images with a checkpoint written by cmd/train:
//
//	predict -checkpoint runs/checkpoints/best.safetensors [-top 3] [-json] [-tta flip|flip-translate] FILE...
//
// A PNG or JPEG image (any size; resized to 32x32 with the CatmullRom filter) gets its most
// probable classes; a CIFAR-10 batch file (.bin) its accuracy, per-class accuracy, loss in
// nats and bits and calibration error, as train's evaluation reports them. A file that
// cannot be read is an error naming it; the others are still classified, and the exit
// status is 1.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "predict:", err)
		os.Exit(1)
	}
}
