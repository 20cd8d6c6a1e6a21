// Package predict classifies images with a model trained by xent. Load reads a checkpoint
// (a file that cmd/train's -checkpoint-dir holds) into a Classifier: the architecture it
// names, its weights, the normalisation of the images it was trained on and its class
// names. The Classifier runs the model's evaluation layers itself (model.Net.Infer), so a
// call allocates nothing once warm, and it is safe for concurrent use (calls take turns).
//
// Images of any size are resized to 32x32 with x/image/draw's CatmullRom filter; pixels
// already 32x32 in CIFAR-10's layout (planes R, G, B of 32 rows of 32 bytes) go in as
// they are. With the flip option, as train's -tta flip, an image's logits are the mean of
// its own and its mirror image's; with flip-translate (train's -tta flip-translate) also of
// the image moved a pixel down-right and up-left (internal/tta).
package predict

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"slices"
	"sort"
	"sync"

	"golang.org/x/image/draw"
	"gorgonia.org/tensor"

	"example.com/xent/checkpoints"
	"example.com/xent/internal/graphop"
	"example.com/xent/internal/tta"
	"example.com/xent/internal/vmath"
	"example.com/xent/model"
)

// The image layout a Classifier takes.
const (
	Side      = 32
	ImageSize = 3 * Side * Side // bytes (or floats) of one image
)

// A Classifier is a trained model, ready to classify.
type Classifier struct {
	Model     string     // the architecture, e.g. airbench-32-64-128
	Classes   []string   // the class names, in label order
	Mean, Std [3]float32 // the normalisation, per channel in pixel units: x' = (x - Mean)/Std
	Flip      bool       // the logits are the mean of each image's and its mirror's
	Translate bool       // with Flip, also of the image moved a pixel down-right and up-left (airbench94's level 2)
	Batch     int        // images per pass of the model
	Steps     int        // training steps the weights have had

	mu   sync.Mutex
	net  *model.Net
	norm [3][256]float32 // a pixel byte's normalised value, per channel
	in   []float32       // the model's input [Batch,3,32,32]
	x    []float32       // with Flip: the normalised images, which in's views overwrite
	sum  []float32       // with Flip: the views' weighted logits
}

// An Option changes what Load makes.
type Option func(*Classifier)

// WithFlip averages the logits of each image and its mirror (train's -tta flip).
func WithFlip() Option { return func(c *Classifier) { c.Flip = true } }

// WithFlipTranslate is train's -tta flip-translate, airbench94's level 2: half the flip
// mean, plus a quarter each of the flip means of the image moved a pixel down-right and
// up-left (borders reflected): six passes.
func WithFlipTranslate() Option { return func(c *Classifier) { c.Flip, c.Translate = true, true } }

// WithBatch sets the images per pass of the model (default: the evaluation batch the
// checkpoint was trained with, so that its figures are reproduced to the bit).
func WithBatch(n int) Option { return func(c *Classifier) { c.Batch = n } }

// ErrNotClassifier is a checkpoint that lacks what a Classifier needs.
var ErrNotClassifier = errors.New("not a classifier checkpoint")

// card is what Load reads of a checkpoint's metadata record (train's state).
type card struct {
	Model         string `json:"model"`
	Normalization *struct {
		Mean [3]float32 `json:"mean"`
		Std  [3]float32 `json:"std"`
	} `json:"normalization"`
	Classes []string `json:"classes"`
	Step    int      `json:"step"`
	Config  struct {
		EvalBatch int    `json:"eval_batch"`
		TTA       string `json:"tta"`
	} `json:"config"`
}

// Load reads the checkpoint at path into a Classifier.
func Load(path string, opts ...Option) (*Classifier, error) {
	ck, err := checkpoints.Read(path)
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	var m card
	if err := json.Unmarshal(ck.Meta, &m); err != nil {
		return nil, fmt.Errorf("predict: %s: metadata: %w", path, err)
	}
	switch {
	case m.Model == "":
		return nil, fmt.Errorf("predict: %s: %w: it names no model", path, ErrNotClassifier)
	case m.Normalization == nil || len(m.Classes) == 0:
		return nil, fmt.Errorf("predict: %s: %w: it holds no normalisation or class names (written before xent stored them: train it again)", path, ErrNotClassifier)
	}
	c := &Classifier{Model: m.Model, Classes: m.Classes, Mean: m.Normalization.Mean, Std: m.Normalization.Std,
		Batch: max(m.Config.EvalBatch, 1), Steps: m.Step}
	for _, o := range opts {
		o(c)
	}
	if c.Batch < 1 {
		return nil, fmt.Errorf("predict: batch of %d images, want >= 1", c.Batch)
	}
	if c.net, err = model.New(m.Model, model.Options{TrainBatch: 1, EvalBatch: c.Batch}); err != nil {
		return nil, fmt.Errorf("predict: %s: %w", path, err)
	}
	if k := c.net.Ops[len(c.net.Ops)-1].Shape[0]; k != len(c.Classes) {
		return nil, fmt.Errorf("predict: %s: the model gives %d logits for %d class names", path, k, len(c.Classes))
	}
	for _, p := range c.net.Params.List() {
		t, ok := ck.Tensors[p.Name]
		if !ok {
			return nil, fmt.Errorf("predict: %s: no tensor %s", path, p.Name)
		}
		if !slices.Equal(t.Shape, p.T.Shape()) {
			return nil, fmt.Errorf("predict: %s: tensor %s has shape %v, the model's is %v", path, p.Name, t.Shape, p.T.Shape())
		}
		copy(graphop.Slice[float32](p.T), t.Data)
	}
	c.in = graphop.Slice[float32](c.net.Eval.Input.Value().(*tensor.Dense))
	c.x = make([]float32, len(c.in))
	for ch := range 3 {
		for v := range 256 { // as cifar10's iterator normalises training and test images
			c.norm[ch][v] = (float32(v) - c.Mean[ch]) / c.Std[ch]
		}
	}
	return c, nil
}

// Logits writes the logits [N,K] of N images, pixels [N,3,32,32], into dst.
func (c *Classifier) Logits(dst []float32, pixels []byte) error {
	k := len(c.Classes)
	if len(pixels)%ImageSize != 0 || len(dst) != len(pixels)/ImageSize*k {
		return fmt.Errorf("predict: %d bytes of pixels and room for %d logits: want N*%d and N*%d", len(pixels), len(dst), ImageSize, k)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for lo := 0; lo < len(pixels); lo += c.Batch * ImageSize {
		chunk := pixels[lo:min(len(pixels), lo+c.Batch*ImageSize)]
		n := len(chunk) / ImageSize
		out := dst[lo/ImageSize*k:][:n*k]
		if err := c.pass(out, chunk, n); err != nil {
			return err
		}
	}
	return nil
}

// pass writes the logits of n <= Batch images into out [n,K].
func (c *Classifier) pass(out []float32, pixels []byte, n int) error {
	c.normalise(pixels, n)
	k := len(c.Classes)
	level := tta.None
	switch {
	case c.Flip && c.Translate:
		level = tta.FlipTranslate
	case c.Flip:
		level = tta.Flip
	}
	x := c.x[:n*ImageSize]
	copy(x, c.in)
	logits, err := tta.Logits(level, c.in[:n*ImageSize], x, k, c.net.Infer, &c.sum) // as train's evaluation weighs them
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	copy(out, logits[:n*k])
	return nil
}

// normalise writes n images of pixels into the model's input, (x - Mean)/Std, and zeroes
// the rest of its batch.
func (c *Classifier) normalise(pixels []byte, n int) {
	for i := range n * 3 {
		plane, lut := c.in[i*Side*Side:(i+1)*Side*Side], &c.norm[i%3]
		for j, p := range pixels[i*Side*Side : (i+1)*Side*Side] {
			plane[j] = lut[p]
		}
	}
	clear(c.in[n*ImageSize:])
}

// Probabilities writes the class probabilities [N,K] of N images, pixels [N,3,32,32],
// into dst: the softmax of their logits.
func (c *Classifier) Probabilities(dst []float32, pixels []byte) error {
	if err := c.Logits(dst, pixels); err != nil {
		return err
	}
	softmaxRows(dst, len(c.Classes))
	return nil
}

// softmaxRows turns each row of z [N,K] into its softmax, max-shifted: exp(z - m)/s with
// the loss kernels' row statistics (vmath: AVX-512 where the build has it).
func softmaxRows(z []float32, k int) {
	for row := 0; row < len(z); row += k {
		r := z[row : row+k]
		m, s, _ := vmath.MaxSumExp32(r)
		vmath.ExpAffine32(r, r, m, float32(1/s), 0)
	}
}

// Predict returns the class probabilities [N,K] of N images, pixels [N,3,32,32]
// (Probabilities writes them into a slice of the caller's, without an allocation).
func (c *Classifier) Predict(pixels []byte) ([]float32, error) {
	probs := make([]float32, len(pixels)/ImageSize*len(c.Classes))
	if err := c.Probabilities(probs, pixels); err != nil {
		return nil, err
	}
	return probs, nil
}

// PredictImages returns the class probabilities of each image, [len(images)][K], each
// resized to 32x32 with the CatmullRom filter (transparent pixels count as over black).
func (c *Classifier) PredictImages(images ...image.Image) ([][]float32, error) {
	px := make([]byte, len(images)*ImageSize)
	for i, img := range images {
		Resize(px[i*ImageSize:(i+1)*ImageSize], img)
	}
	probs, err := c.Predict(px)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(images))
	for i := range out {
		out[i] = probs[i*len(c.Classes) : (i+1)*len(c.Classes)]
	}
	return out, nil
}

// Resize writes img into dst [3,32,32] in CIFAR-10's layout, scaled to 32x32 with
// x/image/draw's CatmullRom filter; transparent pixels count as over black.
func Resize(dst []byte, img image.Image) {
	rgba := image.NewRGBA(image.Rect(0, 0, Side, Side))
	draw.CatmullRom.Scale(rgba, rgba.Bounds(), img, img.Bounds(), draw.Src, nil)
	for y := range Side {
		for x := range Side {
			o := rgba.PixOffset(x, y)
			for ch := range 3 {
				dst[ch*Side*Side+y*Side+x] = rgba.Pix[o+ch]
			}
		}
	}
}

// Layers returns the model's layers as an exporter reads them (model.Net.Ops).
func (c *Classifier) Layers() []model.Op { return c.net.Ops }

// Tensor returns the shape and values of the model's tensor called name (a parameter or
// a BatchNorm statistic, e.g. "block1.conv1.weight"), or false if it has none. The values
// are the model's own: do not change them.
func (c *Classifier) Tensor(name string) (shape []int, data []float32, ok bool) {
	p := c.net.Params.Get(name)
	if p == nil {
		return nil, nil, false
	}
	return p.T.Shape().Clone(), graphop.Slice[float32](p.T), true
}

// A Prediction is a class and its probability.
type Prediction struct {
	Class int     // the label
	Prob  float32 // its probability
}

// Top returns the k most probable classes of probs [K], most probable first (the lower
// label first among equals).
func Top(probs []float32, k int) []Prediction {
	out := make([]Prediction, len(probs))
	for i, p := range probs {
		out[i] = Prediction{i, p}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Prob > out[b].Prob })
	return out[:min(k, len(out))]
}
