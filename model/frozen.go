package model

import (
	"slices"

	"gorgonia.org/gorgonia"
)

// dependsOn returns the trainable tensors that the layer being built depends on: those of
// the layers that made its inputs and its own (taken since the last layer was added),
// each once, and starts the next layer's.
func (b *Builder) dependsOn(in ...*gorgonia.Node) []*Param {
	var ps []*Param
	for _, x := range in {
		for _, p := range b.upstream[x] {
			if !slices.Contains(ps, p) {
				ps = append(ps, p)
			}
		}
	}
	for _, p := range b.fresh {
		if !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	b.fresh = nil
	return ps
}

// gradientNeeded returns whether the gradient of x is needed this step: nil if x depends
// on no trainable tensor (no gradient node reads it), else a test that some of them is not
// Frozen. airbench94's whitening bias is frozen after its first epochs; its path back (the
// first convolution's dx, ~3% of a training step at batch 2000) then runs for nothing.
func (b *Builder) gradientNeeded(x *gorgonia.Node) func() bool {
	ps := b.upstream[x]
	if len(ps) == 0 {
		return nil
	}
	return func() bool {
		for _, p := range ps {
			if !p.Frozen {
				return true
			}
		}
		return false
	}
}
