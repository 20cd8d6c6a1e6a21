package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The committed assembly is what the generator writes: run `go generate
// ./internal/winograd` after changing the generator, and commit both.
func TestCommittedAssemblyIsGenerated(t *testing.T) {
	path := filepath.Join("..", "gemm_amd64.s")
	committed, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := generate()
	if bytes.Equal(committed, want) {
		return
	}
	n := 0
	for n < min(len(committed), len(want)) && committed[n] == want[n] {
		n++
	}
	line := 1 + bytes.Count(committed[:n], []byte("\n"))
	t.Errorf("%s differs from the generator's output from line %d: run go generate ./internal/winograd", path, line)
}
