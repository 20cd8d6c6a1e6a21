package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg" // the decoders image.Decode knows
	_ "image/png"
	"io"
	"os"
	"path/filepath"
	"strings"

	"example.com/xent/data/cifar10"
	"example.com/xent/metric"
	"example.com/xent/predict"
)

// errSome is returned when some files could not be classified (each said why).
var errSome = errors.New("some files could not be classified")

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	ck := fs.String("checkpoint", "", "checkpoint written by train (e.g. runs/checkpoints/best.safetensors)")
	top := fs.Int("top", 3, "classes shown for an image")
	asJSON := fs.Bool("json", false, "a JSON object per file instead of text")
	tta := fs.String("tta", "none", "test-time augmentation, as train's -tta: none, flip (the mean logits of each image and its mirror), or flip-translate (airbench94's level 2)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: predict -checkpoint FILE [-top 3] [-json] [-tta none|flip|flip-translate] FILE...")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil
		}
		return err
	}
	switch {
	case *ck == "":
		return errors.New("-checkpoint: none given (a file of train's -checkpoint-dir, e.g. best.safetensors)")
	case fs.NArg() == 0:
		return errors.New("no files to classify (PNG or JPEG images, or CIFAR-10 .bin files)")
	case *top < 1:
		return fmt.Errorf("-top %d: want >= 1", *top)
	case *tta != "none" && *tta != "flip" && *tta != "flip-translate":
		return fmt.Errorf("-tta %q: want none, flip or flip-translate", *tta)
	}
	var opts []predict.Option
	switch *tta {
	case "flip":
		opts = append(opts, predict.WithFlip())
	case "flip-translate":
		opts = append(opts, predict.WithFlipTranslate())
	}
	c, err := predict.Load(*ck, opts...)
	if err != nil {
		return err
	}
	failed := false
	for _, file := range fs.Args() {
		var out any
		if strings.EqualFold(filepath.Ext(file), ".bin") {
			out, err = evaluate(c, file)
		} else {
			out, err = classify(c, file, *top)
		}
		if err != nil {
			fmt.Fprintf(stderr, "predict: %s: %v\n", file, err)
			failed = true
			continue
		}
		if *asJSON {
			b, _ := json.Marshal(out)
			fmt.Fprintf(stdout, "%s\n", b)
		} else {
			fmt.Fprintln(stdout, out)
		}
	}
	if failed {
		return errSome
	}
	return nil
}

// imageResult is an image's most probable classes.
type imageResult struct {
	File string  `json:"file"`
	Top  []class `json:"top"`
}

type class struct {
	Name  string  `json:"class"`
	Label int     `json:"label"`
	Prob  float64 `json:"prob"`
}

func (r imageResult) String() string {
	parts := make([]string, len(r.Top))
	for i, c := range r.Top {
		parts[i] = fmt.Sprintf("%s %.2f%%", c.Name, 100*c.Prob)
	}
	return r.File + ": " + strings.Join(parts, ", ")
}

func classify(c *predict.Classifier, file string, top int) (imageResult, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return imageResult{}, err
	}
	img, format, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return imageResult{}, fmt.Errorf("not a PNG or JPEG image: %w", err)
	}
	if format != "png" && format != "jpeg" {
		return imageResult{}, fmt.Errorf("a %s image: want PNG or JPEG", format)
	}
	probs, err := c.PredictImages(img)
	if err != nil {
		return imageResult{}, err
	}
	r := imageResult{File: file}
	for _, p := range predict.Top(probs[0], top) {
		r.Top = append(r.Top, class{Name: c.Classes[p.Class], Label: p.Class, Prob: float64(p.Prob)})
	}
	return r, nil
}

// binResult is what a batch file's images measure.
type binResult struct {
	File     string             `json:"file"`
	Images   int                `json:"images"`
	Accuracy float64            `json:"accuracy"`
	Loss     float64            `json:"loss"` // nats
	LossBits float64            `json:"loss_bits"`
	ECE      float64            `json:"ece"`
	PerClass map[string]float64 `json:"accuracy_per_class"`
	classes  []string
}

// String is train's final line, and the per-class accuracy.
func (r binResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d images: accuracy %.2f%%, loss %.4f nats (%.4f bits), ECE %.4f\n  per class:", r.File, r.Images,
		100*r.Accuracy, r.Loss, r.LossBits, r.ECE)
	for _, name := range r.classes {
		fmt.Fprintf(&b, " %s %.1f%%", name, 100*r.PerClass[name])
	}
	return b.String()
}

func evaluate(c *predict.Classifier, file string) (binResult, error) {
	f, err := os.Open(file)
	if err != nil {
		return binResult{}, err
	}
	defer f.Close()
	rd := cifar10.NewReader(f)
	rd.File = file
	rd.ReuseRecord = true
	var pixels []byte
	var labels []int
	for {
		rec, err := rd.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return binResult{}, err
		}
		if int(rec.Label) >= len(c.Classes) {
			return binResult{}, fmt.Errorf("record %d: label %d for a model of %d classes", len(labels), rec.Label, len(c.Classes))
		}
		pixels = append(pixels, rec.Pixels[:]...)
		labels = append(labels, int(rec.Label))
	}
	if len(labels) == 0 {
		return binResult{}, errors.New("no records")
	}
	logits := make([]float32, len(labels)*len(c.Classes))
	if err := c.Logits(logits, pixels); err != nil {
		return binResult{}, err
	}
	e := metric.NewEvaluator(len(c.Classes))
	e.Add(logits, labels)
	ev := e.Result()
	r := binResult{File: file, Images: len(labels), Accuracy: ev.Accuracy, Loss: ev.Loss, LossBits: ev.LossBits, ECE: ev.ECE,
		PerClass: map[string]float64{}, classes: c.Classes}
	for i, name := range c.Classes {
		r.PerClass[name] = ev.PerClass[i]
	}
	return r, nil
}
