package model

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestSpecBuildsTheNamedModel(t *testing.T) {
	for name, spec := range map[string]string{
		"cnn-small": "conv32,relu,pool2,conv64,relu,pool2,conv128,relu,pool2,flatten,fc256,relu,fc10",
		"mlp":       "flatten,fc512,relu,fc10",
		"resnet-tiny": "conv16,relu,res(conv16,relu,conv16),relu,conv32s2,relu,res(conv32,relu,conv32),relu," +
			"conv64s2,relu,res(conv64,relu,conv64),relu,gap,fc10",
	} {
		named, err := New(name, Options{TrainBatch: 2, EvalBatch: 2})
		if err != nil {
			t.Fatal(err)
		}
		fromSpec, err := New(spec, Options{TrainBatch: 2, EvalBatch: 2})
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if fromSpec.Params.Count() != named.Params.Count() || fromSpec.MACs() != named.MACs() {
			t.Errorf("spec of %s: %d parameters, %d MACs; the named model %d, %d", name,
				fromSpec.Params.Count(), fromSpec.MACs(), named.Params.Count(), named.MACs())
		}
	}
}

func TestSpecShapes(t *testing.T) {
	n, err := New("conv8x5s2,bn,relu,drop0.1,res(conv8,bn,relu),pool2,gap,fc7,scale0.5", Options{TrainBatch: 3, EvalBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"(3, 8, 16, 16)", "(3, 8, 16, 16)", "(3, 8, 16, 16)", "(3, 8, 16, 16)"}
	for i, w := range want {
		if got := fmt.Sprint(n.Layers[i].Out); got != w {
			t.Errorf("layer %d (%s): %s, want %s", i, n.Layers[i].Kind, got, w)
		}
	}
	if s := n.Train.Logits.Shape(); s[0] != 3 || s[1] != 7 {
		t.Errorf("logits %v, want (3, 7)", s)
	}
	if n.Layers[0].Kind != "conv5x5/2" {
		t.Errorf("first layer %s", n.Layers[0].Kind)
	}
}

func TestSpecErrors(t *testing.T) {
	for _, tc := range []struct{ spec, token, want string }{
		{"conv,relu,fc10", "conv", "conv<channels>"},
		{"conv32x,relu", "conv32x", "conv<channels>"},
		{"conv16,pool0,fc10", "pool0", "pool<size>"},
		{"conv16,relu,linear10", "linear10", "one of conv<C>"},
		{"conv16,res(conv16,relu,fc10", "", "')' to close res("},
		{"conv16),fc10", ")", "no res( to close"},
		{"conv16,drop1.5,fc10", "drop1.5", "drop<probability"},
		{"fc10,,fc10", "", "a layer"},
	} {
		_, err := ParseSpec(tc.spec)
		var se *SpecError
		if !errors.As(err, &se) || se.Token != tc.token || !strings.Contains(se.Want, tc.want) {
			t.Errorf("%q: err = %v, want token %q and %q", tc.spec, err, tc.token, tc.want)
		}
	}
	// a spec that parses but does not fit shapes fails when built, naming the layer
	if _, err := New("conv8,fc10,conv8", Options{TrainBatch: 1, EvalBatch: 1}); err == nil || !strings.Contains(err.Error(), "l3") {
		t.Errorf("conv after fc: err = %v", err)
	}
}

// TestSpecFusesConvReLU: a conv followed by relu is one convolution with its ReLU fused in,
// and the layers after it keep the names they had (the relu token keeps its number).
func TestSpecFusesConvReLU(t *testing.T) {
	n, err := New("conv8,relu,conv4,bn,relu,gap,fc3", Options{TrainBatch: 2, EvalBatch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if n.Layers[0].Kind != "conv3x3/1+relu" || n.Layers[1].Name != "l3" || n.Layers[1].Kind != "conv3x3/1" {
		t.Errorf("layers %+v, %+v: want l1 conv3x3/1+relu, then l3 conv3x3/1", n.Layers[0], n.Layers[1])
	}
	if n.Layers[3].Kind != "relu" { // after bn: a ReLU of its own
		t.Errorf("layer 3 is %s, want relu", n.Layers[3].Kind)
	}
}
