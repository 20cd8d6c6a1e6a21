// Command bench times training and inference of the reference models of
// ../shared/peers/README.md (mlp, cnn-small, resnet-tiny: NCHW float32, batch 128, SGD with
// lr 0.01 and momentum 0.9, mean softmax cross-entropy) and measures each one's peak RSS in
// a process of its own, as ../shared/peers/torch_bench.py does for PyTorch.
//
//	bench [-models mlp,cnn-small,resnet-tiny] [-batch 128] [-runs 5] [-target 2s] [-threads N] [-json FILE]
//
// `make bench FLAGS='...'` builds it with OpenBLAS and the SIMD kernels where the machine has them.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
