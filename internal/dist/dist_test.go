package dist_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"example.com/xent/internal/dist"
	"example.com/xent/internal/dist/disttest"
)

// TestMain lets the test binary be a rank of the job TestCollectives starts.
func TestMain(m *testing.M) {
	if os.Getenv("XENT_DIST_RANK_TEST") != "" {
		if err := collectives(); err != nil {
			fmt.Fprintln(os.Stderr, "rank test:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// collectives is one rank's side of TestCollectives: every call checked against what the
// ranks' inputs must give.
func collectives() error {
	c, err := dist.Init()
	if err != nil {
		return err
	}
	r, n := c.Rank(), c.Size()
	// Sum: rank r holds r+1, and a value whose sum depends on the order of addition.
	x := []float32{float32(r + 1), 1e8, float32(r) * 0.1}
	if err := c.Sum(x); err != nil {
		return err
	}
	if want := float32(n * (n + 1) / 2); x[0] != want {
		return fmt.Errorf("rank %d: Sum gives %v, want %v", r, x[0], want)
	}
	all := slices.Clone(x)
	if err := c.Broadcast(all, 0); err != nil { // every rank has rank 0's bits
		return err
	}
	if !slices.Equal(all, x) {
		return fmt.Errorf("rank %d: Sum gave %v, rank 0 got %v", r, x, all)
	}
	y := []float64{float64(r), -1}
	if err := c.Sum64(y); err != nil {
		return err
	}
	if y[0] != float64(n*(n-1)/2) || y[1] != float64(-n) {
		return fmt.Errorf("rank %d: Sum64 gives %v", r, y)
	}
	b := []float32{float32(r), float32(r)}
	if err := c.Broadcast(b, n-1); err != nil {
		return err
	}
	if b[0] != float32(n-1) || b[1] != float32(n-1) {
		return fmt.Errorf("rank %d: Broadcast from %d gives %v", r, n-1, b)
	}
	msg, err := c.BroadcastBytes([]byte(strings.Repeat("rank 0 ", 1000*(1-min(r, 1)))), 0)
	if err != nil {
		return err
	}
	if string(msg) != strings.Repeat("rank 0 ", 1000) {
		return fmt.Errorf("rank %d: BroadcastBytes gives %d bytes", r, len(msg))
	}
	if r == 0 {
		fmt.Printf("ranks %d ok\n", n)
	}
	return c.Close()
}

// TestCollectives runs collectives as 3 ranks of an MPI job.
func TestCollectives(t *testing.T) {
	cmd := disttest.Mpirun(t, 3, []string{"XENT_DIST_RANK_TEST=1"}, os.Args[0])
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ranks 3 ok") {
		t.Fatalf("mpirun: %v\n%s", err, out)
	}
}

// TestSingle: one process is rank 0 of 1 and its collectives leave buffers alone.
func TestSingle(t *testing.T) {
	c := dist.Single
	x := []float32{1, 2}
	if c.Rank() != 0 || c.Size() != 1 || c.Sum(x) != nil || c.Broadcast(x, 0) != nil || x[0] != 1 || x[1] != 2 {
		t.Fatalf("Single: rank %d of %d, buffer %v", c.Rank(), c.Size(), x)
	}
	if b, err := c.BroadcastBytes([]byte("a"), 0); err != nil || string(b) != "a" {
		t.Fatalf("BroadcastBytes: %q, %v", b, err)
	}
}

// TestInitWithoutMPI: a build without MPI, started as one rank of several, refuses to run
// and says how to build with MPI.
func TestInitWithoutMPI(t *testing.T) {
	if dist.Built {
		t.Skip("this build has MPI; the refusal is the plain build's")
	}
	t.Setenv("OMPI_COMM_WORLD_SIZE", "4")
	_, err := dist.Init()
	if err == nil || !strings.Contains(err.Error(), "4 ranks") || !strings.Contains(err.Error(), "-tags mpi") {
		t.Fatalf("Init as one of 4 ranks without MPI: %v", err)
	}
	t.Setenv("OMPI_COMM_WORLD_SIZE", "1")
	if c, err := dist.Init(); err != nil || c.Size() != 1 {
		t.Fatalf("Init as the one rank: %v", err)
	}
}
