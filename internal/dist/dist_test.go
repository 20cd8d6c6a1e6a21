package dist_test

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"example.com/xent/internal/dist"
	"example.com/xent/internal/dist/disttest"
)

// TestMain lets the test binary be a rank of the job TestCollectives starts.
func TestMain(m *testing.M) {
	if spec := os.Getenv("XENT_DIST_SUM_BENCH"); spec != "" {
		if err := timeSums(spec); err != nil {
			fmt.Fprintln(os.Stderr, "sum bench:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
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

// timeSums is one rank's side of BenchmarkSum: spec is "floats,calls"; rank 0 prints the
// median time of a Sum over 5 rounds of calls, after one round of warm-up.
func timeSums(spec string) error {
	var floats, calls int
	if _, err := fmt.Sscanf(spec, "%d,%d", &floats, &calls); err != nil {
		return fmt.Errorf("XENT_DIST_SUM_BENCH=%q: %w", spec, err)
	}
	c, err := dist.Init()
	if err != nil {
		return err
	}
	buf := make([]float32, floats)
	var rounds []time.Duration
	for round := range 6 {
		start := time.Now()
		for range calls {
			if err := c.Sum(buf); err != nil {
				return err
			}
		}
		if round > 0 {
			rounds = append(rounds, time.Since(start)/time.Duration(calls))
		}
	}
	sort.Slice(rounds, func(i, j int) bool { return rounds[i] < rounds[j] })
	if c.Rank() == 0 {
		fmt.Printf("sum ns %d min %d max %d\n", rounds[2].Nanoseconds(), rounds[0].Nanoseconds(), rounds[4].Nanoseconds())
	}
	return c.Close()
}

var sumLine = regexp.MustCompile(`sum ns (\d+) min (\d+) max (\d+)`)

// BenchmarkSum times the all-reduce of the gradients of the models (4 bytes per parameter)
// between 2 ranks on this machine (mpirun, shared memory): ns/op is the median of 5 rounds
// of calls in one job, the time one rank spends in Sum with its peer waiting for it.
func BenchmarkSum(b *testing.B) {
	for _, m := range []struct {
		name   string
		params int
	}{{"resnet-tiny", 121226}, {"airbench-32-64-128", 294370}, {"cnn-small", 620362}, {"mlp", 1578506}, {"airbench", 1971362}} {
		b.Run(m.name, func(b *testing.B) {
			calls := 20 * b.N // one launch per call of this function: mpirun takes a second to start
			cmd := disttest.Mpirun(b, 2, []string{fmt.Sprintf("XENT_DIST_SUM_BENCH=%d,%d", m.params, calls)}, os.Args[0])
			out, err := cmd.CombinedOutput()
			g := sumLine.FindSubmatch(out)
			if err != nil || g == nil {
				b.Fatalf("mpirun: %v\n%s", err, out)
			}
			ns, _ := strconv.Atoi(string(g[1]))
			lo, _ := strconv.Atoi(string(g[2]))
			hi, _ := strconv.Atoi(string(g[3]))
			b.ReportMetric(float64(ns), "ns/op")
			b.ReportMetric(float64(lo), "min-ns/op")
			b.ReportMetric(float64(hi), "max-ns/op")
			b.ReportMetric(float64(4*m.params)/float64(ns), "GB/s") // not SetBytes: its MB/s would count mpirun's start
		})
	}
}
