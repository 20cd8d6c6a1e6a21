//go:build mpi && cgo

package dist

/*
#cgo pkg-config: ompi-c
#include <mpi.h>

// OpenMPI's datatypes and MPI_IN_PLACE are addresses, not constants cgo can name: the
// wrappers take a code instead (0 float, 1 double, 2 byte).
static MPI_Datatype xent_type(int t) { return t == 0 ? MPI_FLOAT : t == 1 ? MPI_DOUBLE : MPI_BYTE; }

static int xent_init(int *provided) {
	int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, provided);
	if (rc != MPI_SUCCESS) return rc;
	return MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}
static int xent_rank(int *r) { return MPI_Comm_rank(MPI_COMM_WORLD, r); }
static int xent_size(int *s) { return MPI_Comm_size(MPI_COMM_WORLD, s); }
static int xent_bcast(void *buf, int n, int t, int root) { return MPI_Bcast(buf, n, xent_type(t), root, MPI_COMM_WORLD); }
static int xent_sum(void *buf, int n, int t) { return MPI_Allreduce(MPI_IN_PLACE, buf, n, xent_type(t), MPI_SUM, MPI_COMM_WORLD); }
static int xent_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }
static int xent_finalize(void) { return MPI_Finalize(); }
static void xent_error(int rc, char *s, int *n) { MPI_Error_string(rc, s, n); }
*/
import "C"

import (
	"fmt"
	"os"
	"sync"
	"unsafe"
)

// Built reports whether this binary was built with MPI.
const Built = true

// mpiComm is MPI_COMM_WORLD. Its calls take turns (MPI_THREAD_SERIALIZED): a goroutine
// may move between threads, but two never call MPI at once.
type mpiComm struct {
	mu         sync.Mutex
	rank, size int
}

// Init starts MPI (MPI_Init_thread) and returns the world's Comm, when a launcher (mpirun,
// srun) started this process as one of several ranks; otherwise it returns Single and
// leaves MPI alone (a process of its own needs no MPI, and may call Init more than once).
func Init() (Comm, error) {
	if n, _ := launchedRanks(); n <= 1 {
		return Single, nil
	}
	// OpenMPI would take SIGSEGV, SIGBUS and SIGFPE from the Go runtime (to print its own
	// backtrace), turning a Go panic into an abort; leave them to Go unless told otherwise.
	if _, set := os.LookupEnv("OMPI_MCA_opal_signal"); !set {
		os.Setenv("OMPI_MCA_opal_signal", "")
	}
	var provided C.int
	if rc := C.xent_init(&provided); rc != C.MPI_SUCCESS {
		return nil, mpiError("MPI_Init_thread", rc)
	}
	if provided < C.MPI_THREAD_SERIALIZED {
		return nil, fmt.Errorf("dist: this MPI gives thread level %d, xent needs MPI_THREAD_SERIALIZED (%d)", provided, C.MPI_THREAD_SERIALIZED)
	}
	var r, s C.int
	if rc := C.xent_rank(&r); rc != C.MPI_SUCCESS {
		return nil, mpiError("MPI_Comm_rank", rc)
	}
	if rc := C.xent_size(&s); rc != C.MPI_SUCCESS {
		return nil, mpiError("MPI_Comm_size", rc)
	}
	return &mpiComm{rank: int(r), size: int(s)}, nil
}

func (c *mpiComm) Rank() int { return c.rank }
func (c *mpiComm) Size() int { return c.size }

// maxCount is the most elements one MPI call takes (its count is a C int); longer
// buffers go in pieces.
const maxCount = 1 << 30

// each calls f on pieces of n elements of size bytes from p, under the lock.
func (c *mpiComm) each(name string, p unsafe.Pointer, n, size int, f func(unsafe.Pointer, C.int) C.int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for off := 0; off < n; off += maxCount {
		k := min(maxCount, n-off)
		if rc := f(unsafe.Add(p, off*size), C.int(k)); rc != C.MPI_SUCCESS {
			return fmt.Errorf("rank %d of %d: %w", c.rank, c.size, mpiError(name, rc))
		}
	}
	return nil
}

func (c *mpiComm) Broadcast(buf []float32, root int) error {
	if len(buf) == 0 {
		return nil
	}
	return c.each("MPI_Bcast", unsafe.Pointer(&buf[0]), len(buf), 4, func(p unsafe.Pointer, n C.int) C.int {
		return C.xent_bcast(p, n, 0, C.int(root))
	})
}

func (c *mpiComm) BroadcastBytes(b []byte, root int) ([]byte, error) {
	n := []float64{float64(len(b))} // a length below 2^53 is exact
	if err := c.each("MPI_Bcast", unsafe.Pointer(&n[0]), 1, 8, func(p unsafe.Pointer, k C.int) C.int { return C.xent_bcast(p, k, 1, C.int(root)) }); err != nil {
		return nil, err
	}
	if c.rank != root {
		b = make([]byte, int(n[0]))
	}
	if len(b) == 0 {
		return b, nil
	}
	err := c.each("MPI_Bcast", unsafe.Pointer(&b[0]), len(b), 1, func(p unsafe.Pointer, k C.int) C.int { return C.xent_bcast(p, k, 2, C.int(root)) })
	return b, err
}

func (c *mpiComm) Sum(buf []float32) error {
	if len(buf) == 0 {
		return nil
	}
	return c.each("MPI_Allreduce", unsafe.Pointer(&buf[0]), len(buf), 4, func(p unsafe.Pointer, n C.int) C.int { return C.xent_sum(p, n, 0) })
}

func (c *mpiComm) Sum64(buf []float64) error {
	if len(buf) == 0 {
		return nil
	}
	return c.each("MPI_Allreduce", unsafe.Pointer(&buf[0]), len(buf), 8, func(p unsafe.Pointer, n C.int) C.int { return C.xent_sum(p, n, 1) })
}

func (c *mpiComm) Abort(code int) {
	C.xent_abort(C.int(code))
	os.Exit(code) // MPI_Abort does not return; in case it did
}

func (c *mpiComm) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rc := C.xent_finalize(); rc != C.MPI_SUCCESS {
		return mpiError("MPI_Finalize", rc)
	}
	return nil
}

// mpiError is MPI's own text for the code rc of the call name.
func mpiError(name string, rc C.int) error {
	var buf [C.MPI_MAX_ERROR_STRING]C.char
	var n C.int
	C.xent_error(rc, &buf[0], &n)
	return fmt.Errorf("dist: %s: %s (MPI error %d)", name, C.GoStringN(&buf[0], n), int(rc))
}
