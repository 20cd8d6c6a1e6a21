// Command train trains a CIFAR-10 classifier: the whole job, with progress, evaluation
// after every epoch, metrics, curves and checkpoints it can resume from.
//
//	train [-preset quick|standard|airbench] [-model airbench-32-64-128] [-epochs 2] [-val 5000] [-data DIR | -download] ...
//	train -h    lists every flag
//
// SIGINT or SIGTERM saves a checkpoint at the next step boundary and exits with status 130;
// -resume continues from it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"example.com/xent/train"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case errors.Is(err, train.ErrInterrupted):
		os.Exit(130)
	case err != nil:
		fmt.Fprintln(os.Stderr, "train:", err)
		os.Exit(1)
	}
}
