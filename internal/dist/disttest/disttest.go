// Package disttest starts a test binary as the ranks of an MPI job, for the tests of
// data-parallel code.
package disttest

import (
	"os"
	"os/exec"
	"strconv"
	"testing"

	"example.com/xent/internal/dist"
)

// Mpirun returns the command that runs prog with args as np ranks on this machine
// (mpirun --oversubscribe, and --allow-run-as-root for root, as in CI), with env added to
// every rank's environment. It skips the test where the build has no MPI or mpirun is absent.
func Mpirun(t testing.TB, np int, env []string, prog string, args ...string) *exec.Cmd {
	t.Helper()
	mpirun := Need(t)
	a := []string{"--oversubscribe", "-np", strconv.Itoa(np)}
	if os.Geteuid() == 0 {
		a = append(a, "--allow-run-as-root")
	}
	for _, e := range env {
		a = append(a, "-x", e)
	}
	cmd := exec.Command(mpirun, append(append(a, prog), args...)...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// Need skips the test where the build has no MPI or mpirun is absent, and returns mpirun's
// path: for a test that does other work before it starts ranks.
func Need(t testing.TB) string {
	t.Helper()
	if !dist.Built {
		t.Skip("built without MPI (the mpi tag): make test adds it where OpenMPI is installed (Debian: openmpi-bin libopenmpi-dev)")
	}
	mpirun, err := exec.LookPath("mpirun")
	if err != nil {
		t.Skip("mpirun not found (Debian: openmpi-bin); .ci/run installs it")
	}
	return mpirun
}
