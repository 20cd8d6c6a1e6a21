//go:build !(mpi && cgo)

package dist

import "fmt"

// Built reports whether this binary was built with MPI.
const Built = false

// Init returns Single. Started by a launcher as one rank of several, it is an error that
// says how to build with MPI.
func Init() (Comm, error) {
	if n, v := launchedRanks(); n > 1 {
		return nil, errNoMPI(n, v)
	}
	return Single, nil
}

// errNoMPI is Init's error in a build without MPI started as one rank of several: the
// ranks would each train alone and write over one another's files.
func errNoMPI(n int, v string) error {
	return fmt.Errorf("dist: started as one of %d ranks (%s=%d), but this binary was built without MPI, "+
		"so each rank would train alone: %s", n, v, n, HowToBuild)
}
