package main

import (
	"path/filepath"
	"testing"

	"example.com/xent/internal/gencheck"
)

// The committed assembly is what the generator writes: run `go generate
// ./internal/winograd` after changing the generator, and commit both.
func TestCommittedAssemblyIsGenerated(t *testing.T) {
	gencheck.Committed(t, filepath.Join("..", "gemm_amd64.s"), generate(), "go generate ./internal/winograd")
}
