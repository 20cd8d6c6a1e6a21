// Package gencheck checks that a committed generated file is what its generator writes now.
package gencheck

import (
	"bytes"
	"os"
	"testing"
)

// Committed fails t unless the file at path holds want, naming the first line that
// differs and the command that regenerates it.
func Committed(t testing.TB, path string, want []byte, regenerate string) {
	t.Helper()
	committed, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(committed, want) {
		return
	}
	n := 0
	for n < min(len(committed), len(want)) && committed[n] == want[n] {
		n++
	}
	line := 1 + bytes.Count(committed[:n], []byte("\n"))
	t.Errorf("%s differs from the generator's output from line %d: run %s", path, line, regenerate)
}
