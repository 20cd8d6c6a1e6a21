// Command train trains a CIFAR-10 classifier: the whole job, with progress, evaluation
// after every epoch, metrics, curves and checkpoints it can resume from.
//
//	train [-preset quick|standard|airbench|airbench94] [-model airbench-32-64-128] [-epochs 2] [-val 5000] [-data DIR | -download] ...
//	train -h    lists every flag
//
// SIGINT or SIGTERM saves a checkpoint at the next step boundary and exits with status 130;
// -resume continues from it.
//
// Built with the mpi tag (make train does where OpenMPI is installed), mpirun -np R train
// ... (or srun) trains data-parallel over R ranks: see train.RunParallel and the README.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"example.com/xent/internal/dist"
	"example.com/xent/train"
)

func main() {
	var err error
	if world, err = dist.Init(); err != nil {
		fmt.Fprintln(os.Stderr, "train:", err)
		os.Exit(1)
	}
	var stdout io.Writer = os.Stdout
	flush := func() {}
	if world.Size() > 1 {
		// mpirun, stopping a job (on SIGINT, or a rank's death), stops reading the ranks'
		// output and closes it around the SIGTERM it sends them: a write must neither block
		// nor kill rank 0 before the checkpoint it then writes.
		signal.Ignore(syscall.SIGPIPE)
		w := newAsyncWriter(os.Stdout)
		stdout, flush = w, func() { w.Close(5 * time.Second) }
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, os.Args[1:], stdout)
	stop()
	flush()
	status := 0
	switch {
	case errors.Is(err, train.ErrInterrupted):
		status = 130
	case errors.Is(err, train.ErrDiverged) && world.Size() > 1: // every rank saw the same loss and stopped at the same step
		if world.Rank() == 0 {
			fmt.Fprintln(os.Stderr, "train:", err)
		}
		status = 1
	case err != nil && world.Size() > 1: // the other ranks wait for this one: end them all
		fmt.Fprintf(os.Stderr, "train: rank %d of %d: %v\n", world.Rank(), world.Size(), err)
		world.Abort(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "train:", err)
		os.Exit(1)
	}
	if err := world.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "train:", err)
		status = max(status, 1)
	}
	os.Exit(status)
}

// world is the job's ranks: MPI's when mpirun or srun started this process as one of
// several (a build with the mpi tag), else the one process.
var world = dist.Single
