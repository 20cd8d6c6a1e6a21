package export

import (
	"fmt"
	"math"
	"strconv"

	"google.golang.org/protobuf/proto"

	"example.com/xent/internal/atomicfile"
	"example.com/xent/internal/onnxpb"
	"example.com/xent/model"
	"example.com/xent/predict"
)

// The ONNX model's opset and IR version (those of ONNX 1.12, which Debian's python3-onnx
// checks; ONNX Runtime 1.30 runs them).
const (
	onnxOpset = 17
	onnxIR    = 8
)

// ONNX writes c to path as an ONNX model (opset 17): input "images", uint8 [N,3,32,32]
// (planes R, G, B; N any), normalised inside the model as xent trained it; output
// "logits", float32 [N,K]. GELU is written as x*0.5*(1 + Erf(x/sqrt(2))), its exact form
// (opset 17 has no Gelu).
func ONNX(c *predict.Classifier, path string) error {
	m, err := onnxModel(c)
	if err != nil {
		return err
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("export: onnx: %w", err)
	}
	if err := atomicfile.WriteBytes(path, b); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// onnxGraph is an ONNX graph being written.
type onnxGraph struct {
	c     *predict.Classifier
	nodes []*onnxpb.NodeProto
	init  []*onnxpb.TensorProto
	seen  map[string]bool // initializers added
	count int             // for fresh names
}

func onnxModel(c *predict.Classifier) (*onnxpb.ModelProto, error) {
	g := &onnxGraph{c: c, seen: map[string]bool{}}
	// normalisation: float32(images) - mean, then / std, per channel
	g.constant("mean", []int64{1, 3, 1, 1}, c.Mean[:])
	g.constant("std", []int64{1, 3, 1, 1}, c.Std[:])
	g.node("Cast", []string{"images"}, "images_f", intAttr("to", int64(onnxpb.TensorProto_FLOAT)))
	g.node("Sub", []string{"images_f", "mean"}, "centred")
	g.node("Div", []string{"centred", "std"}, "x")
	ops := c.Layers()
	name := func(i int) string {
		if i < 0 {
			return "x"
		}
		if i == len(ops)-1 {
			return "logits"
		}
		return "h" + strconv.Itoa(i)
	}
	for i, op := range ops {
		if err := g.layer(op, name(op.Inputs[0]), name(i), func(j int) string { return name(op.Inputs[j]) }); err != nil {
			return nil, fmt.Errorf("export: layer %d (%s %s): %w", i, op.Kind, op.Name, err)
		}
	}
	k := int64(ops[len(ops)-1].Shape[0])
	graph := &onnxpb.GraphProto{
		Name:        proto.String(c.Model),
		Node:        g.nodes,
		Initializer: g.init,
		Input:       []*onnxpb.ValueInfoProto{valueInfo("images", onnxpb.TensorProto_UINT8, "N", 3, predict.Side, predict.Side)},
		Output:      []*onnxpb.ValueInfoProto{valueInfo("logits", onnxpb.TensorProto_FLOAT, "N", k)},
		DocString:   proto.String(fmt.Sprintf("xent's %s; classes %v", c.Model, c.Classes)),
	}
	return &onnxpb.ModelProto{
		IrVersion:    proto.Int64(onnxIR),
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(onnxOpset)}},
		ProducerName: proto.String("xent"),
		Graph:        graph,
	}, nil
}

// layer writes op, reading in (its first input; input(j) names the j-th) into out.
func (g *onnxGraph) layer(op model.Op, in, out string, input func(int) string) error {
	switch op.Kind {
	case model.OpConv:
		args := []string{in, g.param(op.Name + ".weight")}
		if op.Bias {
			args = append(args, g.param(op.Name+".bias"))
		}
		k, s, p := int64(op.Kernel), int64(op.Stride), int64(op.Pad)
		attrs := []*onnxpb.AttributeProto{intsAttr("kernel_shape", k, k), intsAttr("strides", s, s), intsAttr("pads", p, p, p, p)}
		y := out
		if len(op.Inputs) == 2 || op.ReLU {
			y = g.fresh()
		}
		g.node("Conv", args, y, attrs...)
		if len(op.Inputs) == 2 {
			sum := out
			if op.ReLU {
				sum = g.fresh()
			}
			g.node("Add", []string{y, input(1)}, sum)
			y = sum
		}
		if op.ReLU {
			g.node("Relu", []string{y}, out)
		}
	case model.OpBatchNorm:
		args := []string{in}
		for _, s := range []string{".weight", ".bias", ".running_mean", ".running_var"} {
			args = append(args, g.param(op.Name+s))
		}
		g.node("BatchNormalization", args, out, floatAttr("epsilon", float32(op.Eps)))
	case model.OpLinear:
		g.node("Gemm", []string{in, g.param(op.Name + ".weight"), g.param(op.Name + ".bias")}, out, intAttr("transB", 1))
	case model.OpReLU:
		g.node("Relu", []string{in}, out)
	case model.OpGELU: // x * 0.5 * (1 + erf(x / sqrt(2)))
		g.constant("sqrt2", nil, []float32{float32(math.Sqrt2)})
		g.constant("half", nil, []float32{0.5})
		g.constant("one", nil, []float32{1})
		t1, t2, t3, t4 := g.fresh(), g.fresh(), g.fresh(), g.fresh()
		g.node("Div", []string{in, "sqrt2"}, t1)
		g.node("Erf", []string{t1}, t2)
		g.node("Add", []string{t2, "one"}, t3)
		g.node("Mul", []string{in, t3}, t4)
		g.node("Mul", []string{t4, "half"}, out)
	case model.OpMaxPool:
		k := int64(op.K)
		g.node("MaxPool", []string{in}, out, intsAttr("kernel_shape", k, k), intsAttr("strides", k, k))
	case model.OpAvgPool:
		t := g.fresh()
		g.node("GlobalAveragePool", []string{in}, t)
		g.node("Flatten", []string{t}, out, intAttr("axis", 1))
	case model.OpFlatten:
		g.node("Flatten", []string{in}, out, intAttr("axis", 1))
	case model.OpAdd:
		g.node("Add", []string{in, input(1)}, out)
	case model.OpScale:
		s := "scale" + strconv.Itoa(g.count)
		g.count++
		g.constant(s, nil, []float32{float32(op.Scale)})
		g.node("Mul", []string{in, s}, out)
	default:
		return fmt.Errorf("ONNX has no export of %s layers here", op.Kind)
	}
	return nil
}

// param adds the model's tensor name as an initializer, once, and returns its name.
func (g *onnxGraph) param(name string) string {
	if !g.seen[name] {
		shape, data, _ := g.c.Tensor(name)
		dims := make([]int64, len(shape))
		for i, d := range shape {
			dims[i] = int64(d)
		}
		g.constant(name, dims, data)
	}
	return name
}

// constant adds a float32 initializer of shape dims (nil: a scalar), once.
func (g *onnxGraph) constant(name string, dims []int64, data []float32) {
	if g.seen[name] {
		return
	}
	g.seen[name] = true
	g.init = append(g.init, &onnxpb.TensorProto{Name: proto.String(name), Dims: dims,
		DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: append([]float32(nil), data...)})
}

func (g *onnxGraph) node(op string, in []string, out string, attrs ...*onnxpb.AttributeProto) {
	g.nodes = append(g.nodes, &onnxpb.NodeProto{OpType: proto.String(op), Input: in, Output: []string{out},
		Name: proto.String(out), Attribute: attrs})
}

// fresh returns a new intermediate value's name.
func (g *onnxGraph) fresh() string {
	g.count++
	return "t" + strconv.Itoa(g.count)
}

func intAttr(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func intsAttr(name string, vs ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: vs}
}

func floatAttr(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

// valueInfo is a graph input or output: a tensor of elem whose first dimension is the
// symbol batch and the others dims.
func valueInfo(name string, elem onnxpb.TensorProto_DataType, batch string, dims ...int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: batch}}}}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(elem)), Shape: shape}}}}
}
