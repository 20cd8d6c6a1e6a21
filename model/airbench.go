package model

import (
	"fmt"
	"strconv"
	"strings"

	"gorgonia.org/gorgonia"
)

// Airbench returns the network of airbench94 (Keller Jordan's CIFAR-10 speedrun) with block
// widths w [3] (64/256/256 in airbench94):
//
//	whiten 2x2 (24 fixed filters, trained bias) -> GELU -> 3 x block(w_i) -> maxpool3 ->
//	linear(w_3 -> 10) -> x 1/9
//	block(c): conv3x3(c) -> maxpool2 -> BN -> GELU -> conv3x3(c) -> BN -> GELU
//
// Convolutions have no bias and start as PyTorch's with Dirac filters on the first channels;
// BatchNorm keeps its scale at 1 (eps 1e-12, running-statistics momentum 0.4) and trains its
// shift at 64 times the learning rate. On 32x32 images the planes go 31, 15, 7, 3, 1.
func Airbench(w [3]int) Arch {
	return func(b *Builder, x *gorgonia.Node) *gorgonia.Node {
		bn := BatchNormConfig{Momentum: 0.4, Eps: 1e-12, FixedScale: true, ShiftLRScale: 64}
		h := b.GELU(b.Whiten("whiten", x, 2))
		for i, c := range w {
			name := fmt.Sprintf("block%d", i+1)
			h = b.Conv(name+".conv1", h, ConvConfig{Out: c, Kernel: 3, Pad: 1, NoBias: true, Dirac: true})
			h = b.BatchNormGELU(name+".norm1", b.MaxPool2d(h, 2), bn)
			h = b.Conv(name+".conv2", h, ConvConfig{Out: c, Kernel: 3, Pad: 1, NoBias: true, Dirac: true})
			h = b.BatchNormGELU(name+".norm2", h, bn)
		}
		h = b.Flatten(b.MaxPool2d(h, 3))
		return b.Scale(b.Linear("head", h, 10), 1.0/9)
	}
}

// parseAirbench reads "airbench-A-B-C" ("airbench" itself is in the table of Named).
func parseAirbench(name string) (Arch, bool) {
	rest, ok := strings.CutPrefix(name, "airbench-")
	if !ok {
		return nil, false
	}
	parts := strings.Split(rest, "-")
	if len(parts) != 3 {
		return nil, false
	}
	var w [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 1 {
			return nil, false
		}
		w[i] = v
	}
	return Airbench(w), true
}
