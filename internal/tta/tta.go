// Package tta is test-time augmentation: a classifier's logits as a weighted mean of its
// logits on views of the images. train's evaluations and predict's Classifier use it, so
// that they agree to the bit.
package tta

import (
	"fmt"

	"example.com/xent/data/cifar10"
)

// A Level is which views, with z(v) the logits of view v of the images x:
//
//	None:          z(x)
//	Flip:          m(x) = (z(x) + z(mirror x)) / 2
//	FlipTranslate: m(x)/2 + m(shift_1 x)/4 + m(shift_-1 x)/4 (airbench94's level 2: mirrored
//	               half the time, moved a pixel down-right or up-left half the time, the
//	               borders reflected; six passes)
type Level int

const (
	None Level = iota
	Flip
	FlipTranslate
)

// Logits returns the logits [n,k] of the normalised images x [n,3,32,32] at level: infer
// runs the network on in (the network's bound input, holding x) and returns its logits
// (their first n*k are the images'). The result lives in *sum, which Logits grows as
// needed. At levels above None, in is left holding a view.
func Logits(level Level, in, x []float32, k int, infer func() ([]float32, error), sum *[]float32) ([]float32, error) {
	if level == None {
		return infer()
	}
	if level != Flip && level != FlipTranslate {
		return nil, fmt.Errorf("tta: level %d", level)
	}
	n := len(x) / cifar10.ImageSize
	*sum = append((*sum)[:0], make([]float32, n*k)...)
	mirrored := func(w float32) error { // *sum += w * m(in)
		for view := range 2 {
			if view == 1 {
				cifar10.Mirror(in)
			}
			z, err := infer()
			if err != nil {
				return err
			}
			for i, s := range *sum {
				(*sum)[i] = s + w/2*z[i]
			}
		}
		return nil
	}
	w := float32(1)
	if level == FlipTranslate {
		w = 0.5
	}
	if err := mirrored(w); err != nil {
		return nil, err
	}
	if level == FlipTranslate {
		for _, d := range []int{1, -1} {
			cifar10.Shift(in, x, d)
			if err := mirrored(0.25); err != nil {
				return nil, err
			}
		}
	}
	return *sum, nil
}
