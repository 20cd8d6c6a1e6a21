// Package dist is the transport of data-parallel training: R processes (ranks), each with
// a whole copy of the model, that broadcast from one rank and sum buffers over all of them.
//
// Two implementations stand behind Comm: MPI through cgo (build tag mpi, OpenMPI's
// libmpi; mpirun or srun starts the ranks), and Single, the one process of every other
// build. The training loop has one code path over either; model, optim and loss never see
// this package.
//
// Every call is collective: each rank makes the same calls, in the same order, with buffers
// of the same length, or the job hangs (MPI's rule, not ours).
package dist

import (
	"os"
	"strconv"
)

// A Comm is the group of ranks a process belongs to.
type Comm interface {
	Rank() int // this process's number, 0 .. Size()-1; rank 0 leads (prints, writes files)
	Size() int // how many ranks train together

	// Broadcast copies root's buf into buf on every other rank.
	Broadcast(buf []float32, root int) error
	// BroadcastBytes returns root's b on every rank (the others' b is ignored).
	BroadcastBytes(b []byte, root int) ([]byte, error)
	// Sum replaces buf on every rank with the elementwise sum over the ranks. Every rank
	// gets the same bits (one rank's sum is sent to the others, or the same operands are
	// added in the same order).
	Sum(buf []float32) error
	// Sum64 is Sum in float64.
	Sum64(buf []float64) error

	// Abort ends every rank of the job with the exit status code; it does not return.
	Abort(code int)
	// Close ends this rank's part in the job (MPI_Finalize) after its last collective call.
	Close() error
}

// Single is the one process of a run without MPI: rank 0 of 1, whose collective calls
// leave their buffers as they are.
var Single Comm = single{}

type single struct{}

func (single) Rank() int                                      { return 0 }
func (single) Size() int                                      { return 1 }
func (single) Broadcast([]float32, int) error                 { return nil }
func (single) BroadcastBytes(b []byte, _ int) ([]byte, error) { return b, nil }
func (single) Sum([]float32) error                            { return nil }
func (single) Sum64([]float64) error                          { return nil }
func (single) Abort(code int)                                 { os.Exit(code) }
func (single) Close() error                                   { return nil }

// HowToBuild says how to get a binary with MPI, for the errors of one without it.
const HowToBuild = "build with MPI: install OpenMPI (Debian: openmpi-bin libopenmpi-dev) and run make train, " +
	"or go build -tags mpi ./cmd/train (with OpenBLAS: -tags openblas,mpi)"

// LocalRanks returns how many ranks of the job the launcher started on this machine
// (mpirun's OMPI_COMM_WORLD_LOCAL_SIZE, srun's SLURM_STEP_TASKS_PER_NODE when it is one
// number), or 1.
func LocalRanks() int {
	n, _ := positiveEnv("OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_STEP_TASKS_PER_NODE")
	return max(n, 1)
}

// launchedRanks returns how many ranks the launcher that started this process says the
// job has (mpirun's OMPI_COMM_WORLD_SIZE, a PMI launcher's PMI_SIZE, srun's
// SLURM_STEP_NUM_TASKS), and which variable said so; 0 when no launcher did.
func launchedRanks() (int, string) {
	return positiveEnv("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS")
}

// positiveEnv returns the first of the variables that holds a number > 0, and its name.
func positiveEnv(vars ...string) (int, string) {
	for _, v := range vars {
		if n, err := strconv.Atoi(os.Getenv(v)); err == nil && n > 0 {
			return n, v
		}
	}
	return 0, ""
}
