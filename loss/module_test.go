package loss_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Another module can import the loss: a program in a module of its own, whose go.mod
// points example.com/xent at this repository with a replace directive (as a user's does
// before the module is published), builds and computes a loss.
func TestImportableFromAnotherModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds another module")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool on the PATH: %v", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.org/user\n\ngo 1.26\n\nrequire example.com/xent v0.0.0\n\nreplace example.com/xent => " + root + "\n",
		"main.go": `package main

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"example.com/xent/loss"
)

func main() {
	x, err := loss.NewSoftmaxCrossEntropyKernel[float64](3)
	if err != nil {
		panic(err)
	}
	l, _ := x.Forward([]float64{1, 2, 3}, []int{2})
	g := gorgonia.NewGraph()
	z := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(1, 3), gorgonia.WithName("z"))
	y := gorgonia.NewVector(g, tensor.Int, gorgonia.WithShape(1), gorgonia.WithName("y"))
	if _, err := loss.SoftmaxCrossEntropy(z, y); err != nil {
		panic(err)
	}
	fmt.Printf("%.6f\n", l)
}
`,
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	files["go.sum"] = string(sum)
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The outside module's graph needs the go.mod of every module xent requires, some of
	// which no package built so far has fetched (go test ./loss on a fresh machine): loading
	// xent's module graph fetches them (go.mod files only) through the environment's GOPROXY.
	graph := exec.Command(goTool, "list", "-m", "all")
	graph.Dir = root
	if out, err := graph.CombinedOutput(); err != nil {
		t.Skipf("xent's module graph is not in the module cache and go list -m all could not fetch it: %v\n%s", err, out)
	}
	cmd := exec.Command(goTool, "run", ".")
	cmd.Dir = dir
	// the modules come from this build's module cache, never from the network
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run in a module importing example.com/xent/loss: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "0.407606" { // log(e+e^2+e^3) - 3
		t.Errorf("the outside program printed %q, want 0.407606", got)
	}
}
