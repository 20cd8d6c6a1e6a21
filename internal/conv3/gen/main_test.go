package main

import (
	"path/filepath"
	"testing"

	"example.com/xent/internal/gencheck"
)

// The committed assembly is what the generator writes: run `go generate ./internal/conv3`
// after changing the generator, and commit both.
func TestCommittedAssemblyIsGenerated(t *testing.T) {
	gencheck.Committed(t, filepath.Join("..", "tile_amd64.s"), generate(), "go generate ./internal/conv3")
}
