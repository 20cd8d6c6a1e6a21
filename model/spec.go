package model

import (
	"fmt"
	"strconv"
	"strings"

	"gorgonia.org/gorgonia"
)

// A spec is a model written as a comma-separated list of layers, for trying a variant from
// the command line (-model 'conv32,bn,relu,pool2,...'). Tokens:
//
//	conv<C>[x<K>][s<S>]  convolution with C filters of K x K taps (default 3), stride S
//	                     (default 1) and padding K/2
//	bn  relu  gap  flatten
//	pool<K>              max pool K x K, stride K
//	fc<N>                linear layer with N outputs (flattens first if needed)
//	drop<P>              dropout with probability P, e.g. drop0.25
//	scale<S>             multiply by S, e.g. scale0.125
//	res(<spec>)          x + spec(x): a residual block
//
// For example cnn-small is
// conv32,relu,pool2,conv64,relu,pool2,conv128,relu,pool2,flatten,fc256,relu,fc10.

// SpecError is a spec that does not parse: the token at fault and what was expected.
type SpecError struct {
	Spec  string
	Token string
	Pos   int // byte offset of the token in Spec
	Want  string
}

func (e *SpecError) Error() string {
	return fmt.Sprintf("model spec %q: token %q at byte %d: want %s", e.Spec, e.Token, e.Pos, e.Want)
}

// IsSpec reports whether name looks like a spec rather than an architecture's name.
func IsSpec(name string) bool { return strings.ContainsAny(name, ",(") }

// layerFunc adds one parsed token's layer.
type layerFunc func(b *Builder, x *gorgonia.Node, name string) *gorgonia.Node

// ParseSpec turns a spec into an architecture, or a *SpecError.
func ParseSpec(spec string) (Arch, error) {
	p := &specParser{spec: spec}
	layers, err := p.list(0)
	if err != nil {
		return nil, err
	}
	if p.pos < len(spec) {
		return nil, &SpecError{Spec: spec, Token: spec[p.pos:], Pos: p.pos, Want: "a layer (unbalanced ')')"}
	}
	if len(layers) == 0 {
		return nil, &SpecError{Spec: spec, Pos: 0, Want: "at least one layer"}
	}
	return func(b *Builder, x *gorgonia.Node) *gorgonia.Node { return apply(b, x, layers, "") }, nil
}

func apply(b *Builder, x *gorgonia.Node, layers []layerFunc, prefix string) *gorgonia.Node {
	for i, f := range layers {
		x = f(b, x, fmt.Sprintf("%sl%d", prefix, i+1))
	}
	return x
}

type specParser struct {
	spec     string
	pos      int
	reluDone bool // the conv before fused the relu token next: that token adds nothing
}

// list parses layers up to the end of the spec or a ')' closing a res( at depth > 0.
func (p *specParser) list(depth int) ([]layerFunc, error) {
	var layers []layerFunc
	for p.pos < len(p.spec) {
		if p.spec[p.pos] == ')' {
			if depth == 0 {
				return nil, &SpecError{Spec: p.spec, Token: ")", Pos: p.pos, Want: "a layer (no res( to close)"}
			}
			return layers, nil
		}
		f, err := p.layer(depth)
		if err != nil {
			return nil, err
		}
		layers = append(layers, f)
		if p.pos < len(p.spec) && p.spec[p.pos] == ',' {
			p.pos++
		}
	}
	if depth > 0 {
		return nil, &SpecError{Spec: p.spec, Token: "", Pos: p.pos, Want: "')' to close res("}
	}
	return layers, nil
}

func (p *specParser) layer(depth int) (layerFunc, error) {
	start := p.pos
	if strings.HasPrefix(p.spec[p.pos:], "res(") {
		p.pos += len("res(")
		inner, err := p.list(depth + 1)
		if err != nil {
			return nil, err
		}
		p.pos++ // the ')'
		return func(b *Builder, x *gorgonia.Node, name string) *gorgonia.Node {
			return b.Add(x, apply(b, x, inner, name+"."))
		}, nil
	}
	end := p.pos
	for end < len(p.spec) && p.spec[end] != ',' && p.spec[end] != ')' {
		end++
	}
	tok := p.spec[start:end]
	p.pos = end
	bad := func(want string) (layerFunc, error) {
		return nil, &SpecError{Spec: p.spec, Token: tok, Pos: start, Want: want}
	}
	switch tok {
	case "bn":
		return func(b *Builder, x *gorgonia.Node, name string) *gorgonia.Node { return b.BatchNorm2d(name, x) }, nil
	case "relu":
		if p.reluDone {
			p.reluDone = false
			return func(_ *Builder, x *gorgonia.Node, _ string) *gorgonia.Node { return x }, nil
		}
		return func(b *Builder, x *gorgonia.Node, _ string) *gorgonia.Node { return b.ReLU(x) }, nil
	case "gap":
		return func(b *Builder, x *gorgonia.Node, _ string) *gorgonia.Node { return b.GlobalAvgPool(x) }, nil
	case "flatten":
		return func(b *Builder, x *gorgonia.Node, _ string) *gorgonia.Node { return b.Flatten(x) }, nil
	}
	switch {
	case strings.HasPrefix(tok, "conv"):
		c, k, s, ok := parseConv(tok[len("conv"):])
		if !ok {
			return bad("conv<channels>[x<kernel>][s<stride>], e.g. conv64 or conv32x5s2")
		}
		// conv then relu: the ReLU in the convolution's pass (the relu token keeps its place
		// in the layers' numbering, so that the names of later layers stay the same)
		rest := p.spec[p.pos:]
		relu := strings.HasPrefix(rest, ",relu") && (len(rest) == 5 || rest[5] == ',' || rest[5] == ')')
		p.reluDone = relu
		return func(b *Builder, x *gorgonia.Node, name string) *gorgonia.Node {
			return b.Conv(name, x, ConvConfig{Out: c, Kernel: k, Stride: s, Pad: k / 2, ReLU: relu})
		}, nil
	case strings.HasPrefix(tok, "pool"):
		k, err := strconv.Atoi(tok[len("pool"):])
		if err != nil || k < 1 {
			return bad("pool<size>, e.g. pool2")
		}
		return func(b *Builder, x *gorgonia.Node, _ string) *gorgonia.Node { return b.MaxPool2d(x, k) }, nil
	case strings.HasPrefix(tok, "fc"):
		n, err := strconv.Atoi(tok[len("fc"):])
		if err != nil || n < 1 {
			return bad("fc<outputs>, e.g. fc10")
		}
		return func(b *Builder, x *gorgonia.Node, name string) *gorgonia.Node {
			if x != nil && x.Shape().Dims() != 2 {
				x = b.Flatten(x)
			}
			return b.Linear(name, x, n)
		}, nil
	case strings.HasPrefix(tok, "drop"):
		q, err := strconv.ParseFloat(tok[len("drop"):], 64)
		if err != nil || q < 0 || q >= 1 {
			return bad("drop<probability in [0,1)>, e.g. drop0.25")
		}
		return func(b *Builder, x *gorgonia.Node, _ string) *gorgonia.Node { return b.Dropout(x, q) }, nil
	case strings.HasPrefix(tok, "scale"):
		s, err := strconv.ParseFloat(tok[len("scale"):], 64)
		if err != nil {
			return bad("scale<factor>, e.g. scale0.125")
		}
		return func(b *Builder, x *gorgonia.Node, _ string) *gorgonia.Node { return b.Scale(x, s) }, nil
	}
	if depth == 0 && tok == "" {
		return bad("a layer")
	}
	return bad("one of conv<C>, bn, relu, pool<K>, gap, flatten, fc<N>, drop<P>, scale<S>, res(...)")
}

// parseConv reads "<C>[x<K>][s<S>]".
func parseConv(s string) (c, k, stride int, ok bool) {
	k, stride = 3, 1
	rest := s
	if i := strings.IndexAny(rest, "xs"); i >= 0 {
		rest, s = rest[:i], rest[i:]
	} else {
		s = ""
	}
	c, err := strconv.Atoi(rest)
	if err != nil || c < 1 {
		return 0, 0, 0, false
	}
	if v, ok2 := strings.CutPrefix(s, "x"); ok2 {
		i := strings.IndexByte(v, 's')
		if i < 0 {
			i = len(v)
		}
		if k, err = strconv.Atoi(v[:i]); err != nil || k < 1 {
			return 0, 0, 0, false
		}
		s = v[i:]
	}
	if v, ok2 := strings.CutPrefix(s, "s"); ok2 {
		if stride, err = strconv.Atoi(v); err != nil || stride < 1 {
			return 0, 0, 0, false
		}
		s = ""
	}
	return c, k, stride, s == ""
}
