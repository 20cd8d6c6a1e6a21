package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The committed assembly is what the generator writes: run `go generate ./internal/conv3`
// after changing the generator, and commit both.
func TestCommittedAssemblyIsGenerated(t *testing.T) {
	path := filepath.Join("..", "tile_amd64.s")
	committed, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := generate()
	if bytes.Equal(committed, want) {
		return
	}
	line := 1 + bytes.Count(committed[:firstDiff(committed, want)], []byte("\n"))
	t.Errorf("%s differs from the generator's output from line %d: run go generate ./internal/conv3", path, line)
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
