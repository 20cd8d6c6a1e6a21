// Command lossbench times softmax cross-entropy implementations over a set of shapes and
// checks their numbers: the fused xent node run through a Gorgonia graph, the plain xent
// kernel, and Gorgonia's stock composition -Mean(Sum(onehot*Log(SoftMax(z)), 1)).
//
//	lossbench [-shapes 128x10,4096x10,4096x1000,512x32000] [-impls kernel,node,gorgonia]
//	          [-runs 5] [-target 200ms] [-threads N] [-json FILE]
//
// `make lossbench FLAGS='...'` builds it with the SIMD kernels where the machine has them.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "lossbench:", err)
		os.Exit(1)
	}
}
