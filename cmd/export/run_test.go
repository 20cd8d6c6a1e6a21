package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"example.com/xent/data/cifar10"
	"example.com/xent/data/cifar10/cifar10test"
	"example.com/xent/predict"
	"example.com/xent/train"
)

// architectures are exported in tests: every named one (at small widths) and a spec with
// every kind of layer a spec has.
var architectures = []string{"mlp", "cnn-small", "resnet-tiny", "resnet9-8", "airbench-8-16-32",
	"conv8x5s2,bn,relu,drop0.1,res(conv8,bn,relu),pool2,conv16,gap,fc10,scale0.5"}

// fixture is a trained model, the images to compare on and xent's logits for them.
type fixture struct {
	name, ck, images, logits string
	n, k                     int
}

// newFixture trains name for an epoch on synthetic data (so that BatchNorm's statistics
// are not their initial values) and writes the comparison's images and xent's logits:
// those of the real test split's first 1,000 images when CIFAR10_DIR is set, else 64
// synthetic ones.
func newFixture(t *testing.T, name string) fixture {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "cifar-10-batches-bin")
	if err := cifar10test.WriteFolder(data, 16, 64); err != nil {
		t.Fatal(err)
	}
	cfg := train.Presets[train.PresetFor(name)]
	cfg.Model, cfg.Data, cfg.OwnData, cfg.Epochs, cfg.Batch, cfg.EvalBatch = name, data, true, 1, 16, 50
	cfg.CheckpointDir, cfg.LR = filepath.Join(dir, "ck"), cfg.LR/10
	if _, err := train.Run(context.Background(), cfg, new(bytes.Buffer)); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	f := fixture{name: name, ck: filepath.Join(dir, "ck", "step-000000005.safetensors"),
		images: filepath.Join(dir, "images.bin"), logits: filepath.Join(dir, "logits.bin")}
	pixels := cifar10test.Records(cifar10test.TestFirst, 64)
	if real := os.Getenv("CIFAR10_DIR"); real != "" {
		d, err := cifar10.Open(real)
		if err != nil {
			t.Fatal(err)
		}
		pixels = nil
		for i := range 1000 {
			pixels = append(append(pixels, d.Test.Labels[i]), d.Test.Image(i)...)
		}
	}
	f.n = len(pixels) / cifar10.RecordSize
	px := make([]byte, 0, f.n*cifar10.ImageSize)
	for i := range f.n {
		px = append(px, pixels[i*cifar10.RecordSize+1:(i+1)*cifar10.RecordSize]...)
	}
	c, err := predict.Load(f.ck)
	if err != nil {
		t.Fatal(err)
	}
	f.k = len(c.Classes)
	logits := make([]float32, f.n*f.k)
	if err := c.Logits(logits, px); err != nil {
		t.Fatal(err)
	}
	var b []byte
	for _, v := range logits {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	if err := os.WriteFile(f.images, px, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.logits, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// worstDiff runs a comparison script and returns the largest difference it prints.
func worstDiff(t *testing.T, cmd *exec.Cmd) float64 {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	d, err := strconv.ParseFloat(lines[len(lines)-1], 64)
	if err != nil {
		t.Fatalf("%v printed %q", cmd.Args, out)
	}
	return d
}

const tolerance = 1e-4 // largest absolute difference of a logit

// python returns a python3 that imports module: Debian's (/usr/bin/python3, where
// apt-get puts python3-torch and python3-onnx), else the one on the PATH.
func python(t *testing.T, module string) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(py); err == nil && exec.Command(path, "-c", "import "+module).Run() == nil {
			return path
		}
	}
	t.Skipf("no python3 imports %s (Debian: apt-get install python3-%s)", module, module)
	return ""
}

// The exported PyTorch module loads the exported state_dict strictly and gives xent's
// logits, for every architecture.
func TestPyTorch(t *testing.T) {
	py := python(t, "torch")
	script, _ := filepath.Abs(filepath.Join("testdata", "check_pytorch.py"))
	for _, name := range architectures {
		f := newFixture(t, name)
		out := filepath.Join(t.TempDir(), "pt")
		if err := run([]string{"-checkpoint", f.ck, "-format", "pytorch", "-o", out}, new(bytes.Buffer)); err != nil {
			t.Fatal(err)
		}
		d := worstDiff(t, exec.Command(py, script, out, f.images, f.logits, strconv.Itoa(f.n), strconv.Itoa(f.k)))
		if d > tolerance {
			t.Errorf("%s: PyTorch's logits differ from xent's by up to %g on %d images", name, d, f.n)
		}
		t.Logf("%s: largest difference %.2g on %d images", name, d, f.n)
	}
}

// The exported ONNX model passes onnx.checker and runs in ONNX Runtime to xent's logits,
// for every architecture.
func TestONNX(t *testing.T) {
	py := python(t, "onnx")
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: skipping ONNX Runtime")
	}
	ortDir := os.Getenv("ONNXRUNTIME_NODE_DIR")
	if ortDir == "" {
		home, _ := os.UserHomeDir()
		ortDir = filepath.Join(home, ".cache", "xent", "onnxruntime-node")
	}
	if _, err := os.Stat(filepath.Join(ortDir, "node_modules", "onnxruntime-node")); err != nil {
		t.Skipf("no onnxruntime-node in %s (npm install --ignore-scripts --prefix %s onnxruntime-node@1.30.0; .ci/run does)", ortDir, ortDir)
	}
	script, _ := filepath.Abs(filepath.Join("testdata", "run_onnx.js"))
	for _, name := range architectures {
		f := newFixture(t, name)
		model := filepath.Join(t.TempDir(), "model.onnx")
		if err := run([]string{"-checkpoint", f.ck, "-format", "onnx", "-o", model}, new(bytes.Buffer)); err != nil {
			t.Fatal(err)
		}
		check := exec.Command(py, "-c", "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)", model)
		if out, err := check.CombinedOutput(); err != nil {
			t.Fatalf("%s: onnx.checker: %v\n%s", name, err, out)
		}
		d := worstDiff(t, exec.Command(node, script, ortDir, model, f.images, f.logits, strconv.Itoa(f.n), strconv.Itoa(f.k)))
		if d > tolerance {
			t.Errorf("%s: ONNX Runtime's logits differ from xent's by up to %g on %d images", name, d, f.n)
		}
		t.Logf("%s: largest difference %.2g on %d images", name, d, f.n)
	}
}

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-format", "onnx", "-o", "x"}, "-checkpoint"},
		{[]string{"-checkpoint", "c", "-format", "onnx"}, "-o"},
		{[]string{"-checkpoint", "c", "-format", "tflite", "-o", "x"}, "-format"},
		{[]string{"-checkpoint", filepath.Join(t.TempDir(), "none"), "-format", "onnx", "-o", "x"}, "none"},
	} {
		if err := run(tc.args, new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want one naming %q", tc.args, err, tc.want)
		}
	}
}
