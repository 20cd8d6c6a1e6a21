package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"example.com/xent/data/cifar10/cifar10test"
	"example.com/xent/train"
)

// trained trains a small net on synthetic data and returns its data folder, the newest
// checkpoint and train's output.
func trained(t *testing.T, tta train.TTA) (data, ck string, out string) {
	t.Helper()
	data = filepath.Join(t.TempDir(), "cifar-10-batches-bin")
	if err := cifar10test.WriteFolder(data, 24, 50); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ck")
	cfg := train.Presets["quick"]
	cfg.Data, cfg.OwnData, cfg.Model, cfg.Epochs, cfg.Batch, cfg.EvalBatch = data, true, "airbench-4-8-8", 2, 24, 20
	cfg.CheckpointDir, cfg.TTA = dir, tta
	var b bytes.Buffer
	if _, err := train.Run(context.Background(), cfg, &b); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	return data, filepath.Join(dir, "step-000000010.safetensors"), b.String()
}

// On test_batch.bin predict reports train's final evaluation of the same weights to the
// last printed digit, with and without the flip.
func TestBatchFileMatchesTrain(t *testing.T) {
	final := regexp.MustCompile(`final: test accuracy ([0-9.]+%), loss ([0-9.]+) nats \(([0-9.]+) bits\), ECE ([0-9.]+)`)
	ours := regexp.MustCompile(`test_batch.bin: 50 images: accuracy ([0-9.]+%), loss ([0-9.]+) nats \(([0-9.]+) bits\), ECE ([0-9.]+)`)
	for _, tta := range []train.TTA{train.NoTTA, train.FlipTTA, train.TranslateTTA} {
		data, ck, trainOut := trained(t, tta)
		want := final.FindStringSubmatch(trainOut)
		if want == nil {
			t.Fatalf("no final line in train's output:\n%s", trainOut)
		}
		var out bytes.Buffer
		if err := run([]string{"-checkpoint", ck, "-tta", string(tta), filepath.Join(data, "test_batch.bin")}, &out, new(bytes.Buffer)); err != nil {
			t.Fatal(err)
		}
		got := ours.FindStringSubmatch(out.String())
		if got == nil || strings.Join(got[1:], " ") != strings.Join(want[1:], " ") {
			t.Errorf("tta %s: predict says %q, train said %q", tta, out.String(), want[0])
		}
		if !strings.Contains(out.String(), "per class: airplane") {
			t.Errorf("no per-class accuracy:\n%s", out.String())
		}
	}
}

// Images of any size are classified; a file that is not an image is an error naming it,
// the others still classified, and the run fails.
func TestImagesAndBadFiles(t *testing.T) {
	_, ck, _ := trained(t, train.NoTTA)
	dir := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := range 48 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{uint8(4 * x), uint8(5 * y), 128, 255})
		}
	}
	var pngBytes, jpegBytes bytes.Buffer
	png.Encode(&pngBytes, img)
	jpeg.Encode(&jpegBytes, img, nil)
	files := map[string][]byte{"a.png": pngBytes.Bytes(), "b.jpg": jpegBytes.Bytes(), "c.png": []byte("not a picture"), "d.bin": make([]byte, 100)}
	var args []string
	for _, name := range []string{"a.png", "b.jpg", "c.png", "d.bin"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, files[name], 0o644)
		args = append(args, p)
	}
	var out, errOut bytes.Buffer
	err := run(append([]string{"-checkpoint", ck, "-top", "2", "-json"}, args...), &out, &errOut)
	if !errors.Is(err, errSome) {
		t.Fatalf("err = %v, want errSome", err)
	}
	for _, name := range []string{"c.png: not a PNG or JPEG image", "d.bin: cifar10"} {
		if !strings.Contains(errOut.String(), name) {
			t.Errorf("errors lack %q:\n%s", name, errOut.String())
		}
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d results, want 2:\n%s", len(lines), out.String())
	}
	for _, line := range lines {
		var r imageResult
		if err := json.Unmarshal([]byte(line), &r); err != nil || len(r.Top) != 2 || r.Top[0].Prob < r.Top[1].Prob || r.Top[0].Name == "" {
			t.Errorf("result %s: %+v, %v", line, r, err)
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"x.png"}, "-checkpoint"},
		{[]string{"-checkpoint", "c"}, "no files"},
		{[]string{"-checkpoint", "c", "-tta", "rotate", "x.png"}, "-tta"},
		{[]string{"-checkpoint", filepath.Join(t.TempDir(), "none.safetensors"), "x.png"}, "none.safetensors"},
	} {
		if err := run(tc.args, new(bytes.Buffer), new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want one naming %q", tc.args, err, tc.want)
		}
	}
}
