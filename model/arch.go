package model

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"gorgonia.org/gorgonia"
)

// An Arch builds a classifier's logits [N,K] from images x [N,3,32,32] with b's layers.
type Arch func(b *Builder, x *gorgonia.Node) *gorgonia.Node

// The architectures of ../shared/peers/README.md, layer for layer, so that speed
// comparisons with PyTorch are like for like, and a residual network for accuracy.
var archs = map[string]struct {
	arch Arch
	init Init
	doc  string
}{
	"mlp":         {MLP, PyTorchDefault, "flatten -> linear 3072-512 -> ReLU -> linear 512-10"},
	"cnn-small":   {CNNSmall, PyTorchDefault, "3 x (conv3x3 -> ReLU -> maxpool2) with 32/64/128 channels -> linear 2048-256 -> ReLU -> linear 256-10"},
	"resnet-tiny": {ResNetTiny, PyTorchDefault, "conv3x3 16 and 3 residual stages 16/32/64 (no BatchNorm) -> global avg pool -> linear 64-10"},
	"resnet9":     {ResNet9(64), He, "ResNet-9 (Myrtle/airbench style, conv-BN-ReLU, residual stages), width 64; resnet9-W for width W"},
	"airbench":    {Airbench([3]int{64, 256, 256}), PyTorchDefault, "airbench94's net: fixed 2x2 whitening, 3 x (conv-pool-BN-GELU-conv-BN-GELU) of 64/256/256, maxpool3, linear/9; airbench-A-B-C for other widths"},
}

// Names lists the named architectures with a line about each.
func Names() []string {
	var out []string
	for n, a := range archs {
		out = append(out, fmt.Sprintf("%-12s %s", n, a.doc))
	}
	sort.Strings(out)
	return out
}

// Register adds an architecture under a name, so that -model and train.Config.Model can
// use it. Call it before building (it is not safe to call concurrently with Named).
func Register(name, doc string, arch Arch, init Init) error {
	if _, ok := archs[name]; ok || name == "" || IsSpec(name) {
		return fmt.Errorf("model: cannot register %q: taken or not a plain name", name)
	}
	archs[name] = struct {
		arch Arch
		init Init
		doc  string
	}{arch, init, doc}
	return nil
}

// Named returns the architecture called name and its initialisation: mlp, cnn-small,
// resnet-tiny, resnet9, resnet9-W for a ResNet-9 of base width W, a registered one, or a
// spec such as "conv32,relu,pool2,flatten,fc10" (see ParseSpec; PyTorch's initialisation).
func Named(name string) (Arch, Init, error) {
	if a, ok := archs[name]; ok {
		return a.arch, a.init, nil
	}
	if IsSpec(name) {
		arch, err := ParseSpec(name)
		return arch, PyTorchDefault, err
	}
	if arch, ok := parseAirbench(name); ok {
		return arch, PyTorchDefault, nil
	}
	if w, ok := strings.CutPrefix(name, "resnet9-"); ok {
		if width, err := strconv.Atoi(w); err == nil && width > 0 {
			return ResNet9(width), He, nil
		}
	}
	var known []string
	for n := range archs {
		known = append(known, n)
	}
	sort.Strings(known)
	return nil, 0, fmt.Errorf("model: unknown architecture %q (have %s, resnet9-W, airbench-A-B-C, or a spec like conv32,relu,pool2,flatten,fc10)", name, strings.Join(known, ", "))
}

// MLP is flatten(3072) -> linear(3072->512) -> ReLU -> linear(512->10).
func MLP(b *Builder, x *gorgonia.Node) *gorgonia.Node {
	h := b.ReLU(b.Linear("fc1", b.Flatten(x), 512))
	return b.Linear("fc2", h, 10)
}

// CNNSmall is conv3x3(3->32)-ReLU-maxpool2 -> conv3x3(32->64)-ReLU-maxpool2 ->
// conv3x3(64->128)-ReLU-maxpool2 -> flatten(2048) -> linear(2048->256)-ReLU -> linear(256->10).
func CNNSmall(b *Builder, x *gorgonia.Node) *gorgonia.Node {
	h := x
	for i, c := range []int{32, 64, 128} {
		h = b.MaxPool2d(b.Conv(fmt.Sprintf("conv%d", i+1), h, ConvConfig{Out: c, Kernel: 3, Pad: 1, ReLU: true}), 2)
	}
	h = b.ReLU(b.Linear("fc1", b.Flatten(h), 256))
	return b.Linear("fc2", h, 10)
}

// ResNetTiny is conv3x3(3->16)-ReLU; block(16); conv3x3(16->32, stride 2)-ReLU; block(32);
// conv3x3(32->64, stride 2)-ReLU; block(64); global average pool -> linear(64->10), with
// block(c): y = ReLU(x + conv3x3(ReLU(conv3x3(x)))) and no BatchNorm.
func ResNetTiny(b *Builder, x *gorgonia.Node) *gorgonia.Node {
	h := x
	for i, c := range []int{16, 32, 64} {
		stride := 2
		if i == 0 {
			stride = 1
		}
		// each ReLU, and the residual sum, in the pass of the convolution before it
		h = b.Conv(fmt.Sprintf("stem%d", i+1), h, ConvConfig{Out: c, Kernel: 3, Stride: stride, Pad: 1, ReLU: true})
		r := b.Conv(fmt.Sprintf("block%d.conv1", i+1), h, ConvConfig{Out: c, Kernel: 3, Pad: 1, ReLU: true})
		h = b.ConvAdd(fmt.Sprintf("block%d.conv2", i+1), r, h, ConvConfig{Out: c, Kernel: 3, Pad: 1, ReLU: true})
	}
	return b.Linear("fc", b.GlobalAvgPool(h), 10)
}

// ResNet9 returns the ResNet-9 of the DAWNBench/airbench line with base width w (64 in the
// original): prep conv(w)-BN-ReLU; layer1 conv(2w)-BN-ReLU-maxpool2 plus a residual of two
// conv-BN-ReLU; layer2 conv(4w)-BN-ReLU-maxpool2; layer3 conv(8w)-BN-ReLU-maxpool2 plus a
// residual; maxpool4 -> linear(8w->10) -> x 1/8.
func ResNet9(w int) Arch {
	return func(b *Builder, x *gorgonia.Node) *gorgonia.Node {
		cbr := func(name string, h *gorgonia.Node, c int) *gorgonia.Node {
			return b.ReLU(b.BatchNorm2d(name+".bn", b.Conv2d(name+".conv", h, c, 3, 1, 1)))
		}
		res := func(name string, h *gorgonia.Node, c int) *gorgonia.Node {
			return b.Add(h, cbr(name+".res2", cbr(name+".res1", h, c), c))
		}
		h := cbr("prep", x, w)
		h = res("layer1", b.MaxPool2d(cbr("layer1", h, 2*w), 2), 2*w)
		h = b.MaxPool2d(cbr("layer2", h, 4*w), 2)
		h = res("layer3", b.MaxPool2d(cbr("layer3", h, 8*w), 2), 8*w)
		h = b.Flatten(b.MaxPool2d(h, 4))
		return b.Scale(b.Linear("fc", h, 10), 0.125)
	}
}
