// Command lossbench times softmax cross-entropy implementations over a set of shapes and
// checks their numbers: the fused xent node run through a Gorgonia graph, the plain xent
// kernel, and Gorgonia's stock composition -Mean(Sum(onehot*Log(SoftMax(z)), 1)).
//
//	lossbench [-shapes 128x10,4096x10,4096x1000,512x32000] [-impls kernel,node,gorgonia]
//	          [-runs 5] [-target 200ms] [-threads N] [-json FILE]
//	lossbench -linear [NxDxV,...] [-peer linear_xent_bench.py] [-peak GFLOPS] [-chunk ROWS]
//	          [-runs 3] [-json FILE]
//
// -linear times the cross-entropy of a linear layer, h [N,D] w [V,D] b [V], forward and
// backward: xent's fused kernel (loss.LinearCrossEntropyKernel, which never holds the
// logits) forming the gradients with the loss ("fused") or recomputing them in a second pass
// ("recompute"), xent unfused (a GEMM to the logits [N,V], the fused softmax cross-entropy, two
// GEMMs back) and, with -peer, PyTorch's script on each shape right after. Columns: the
// median forward+backward, GFLOP/s at 6NDV flops a step, the heap beyond the inputs and
// their gradients (what the implementation keeps plus what a step allocates; PyTorch's is
// its peak RSS over its RSS with the inputs made), and the largest error against the float64
// fused kernel (the loss's relative error, each gradient element's absolute one).
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
