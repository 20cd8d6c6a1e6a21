// Package export writes a trained model (a predict.Classifier) for other tools: PyTorch
// (a generated nn.Module and its state_dict as safetensors) and ONNX. The exporters read
// the model's layer list (model.Op); the model does not know them.
package export

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"example.com/xent/internal/atomicfile"
	"example.com/xent/model"
	"example.com/xent/predict"
)

// The files PyTorch writes into its folder.
const (
	PyTorchModule  = "model.py"
	PyTorchWeights = "weights.safetensors"
)

// PyTorch writes c into the folder dir (made if need be): PyTorchModule, a self-contained
// Python file defining Net, the nn.Module of c's architecture, with load() and
// normalize(); and PyTorchWeights, its state_dict in PyTorch's names and layouts (Conv2d
// weight [out,in,kh,kw], Linear [out,in], BatchNorm2d weight, bias, running_mean,
// running_var and num_batches_tracked), so that Net().load_state_dict(tensors,
// strict=True) takes it. source names the checkpoint in the module's header.
func PyTorch(c *predict.Classifier, dir, source string) error {
	py, tensors, err := pytorch(c, source)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := writeSafetensors(filepath.Join(dir, PyTorchWeights), tensors); err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, PyTorchModule), py); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// pytorch returns the module's source and the state_dict's tensors.
func pytorch(c *predict.Classifier, source string) ([]byte, map[string]tensor, error) {
	ops := c.Layers()
	tensors := map[string]tensor{}
	param := func(name string) error {
		shape, data, ok := c.Tensor(name)
		if !ok {
			return fmt.Errorf("export: no tensor %s", name)
		}
		tensors[name] = tensor{shape: shape, f32: data}
		return nil
	}
	var init, fwd, fixed strings.Builder
	v := func(i int) string { // the Python variable of op i's output
		if i < 0 {
			return "x"
		}
		return "h" + strconv.Itoa(i)
	}
	for i, op := range ops {
		in := v(op.Inputs[0])
		var expr string
		switch op.Kind {
		case model.OpConv:
			shape, _, _ := c.Tensor(op.Name + ".weight")
			fmt.Fprintf(&init, "        _put(self, %q, nn.Conv2d(%d, %d, %d, stride=%d, padding=%d, bias=%s))\n",
				op.Name, shape[1], shape[0], op.Kernel, op.Stride, op.Pad, pyBool(op.Bias))
			expr = fmt.Sprintf("_get(self, %q)(%s)", op.Name, in)
			if len(op.Inputs) == 2 {
				expr += " + " + v(op.Inputs[1])
			}
			if op.ReLU {
				expr = "F.relu(" + expr + ")"
			}
			if err := param(op.Name + ".weight"); err != nil {
				return nil, nil, err
			}
			if op.Bias {
				if err := param(op.Name + ".bias"); err != nil {
					return nil, nil, err
				}
			}
		case model.OpBatchNorm:
			fmt.Fprintf(&init, "        _put(self, %q, nn.BatchNorm2d(%d, eps=%s, momentum=%s))\n", op.Name, op.Shape[0], pyFloat(op.Eps), pyFloat(op.Momentum))
			if op.FixedScale {
				fmt.Fprintf(&fixed, "        _get(self, %q).weight.requires_grad_(False)  # its scale is not trained\n", op.Name)
			}
			expr = fmt.Sprintf("_get(self, %q)(%s)", op.Name, in)
			for _, s := range []string{".weight", ".bias", ".running_mean", ".running_var"} {
				if err := param(op.Name + s); err != nil {
					return nil, nil, err
				}
			}
			tensors[op.Name+".num_batches_tracked"] = tensor{shape: []int{}, i64: []int64{int64(c.Steps)}}
		case model.OpLinear:
			shape, _, _ := c.Tensor(op.Name + ".weight")
			fmt.Fprintf(&init, "        _put(self, %q, nn.Linear(%d, %d))\n", op.Name, shape[1], shape[0])
			expr = fmt.Sprintf("_get(self, %q)(%s)", op.Name, in)
			if err := param(op.Name + ".weight"); err != nil {
				return nil, nil, err
			}
			if err := param(op.Name + ".bias"); err != nil {
				return nil, nil, err
			}
		case model.OpReLU:
			expr = "F.relu(" + in + ")"
		case model.OpGELU:
			expr = "F.gelu(" + in + ")"
		case model.OpMaxPool:
			expr = fmt.Sprintf("F.max_pool2d(%s, %d)", in, op.K)
		case model.OpAvgPool:
			expr = in + ".mean((2, 3))"
		case model.OpFlatten:
			expr = "torch.flatten(" + in + ", 1)"
		case model.OpAdd:
			expr = in + " + " + v(op.Inputs[1])
		case model.OpScale:
			expr = in + " * " + pyFloat(float64(float32(op.Scale)))
		default:
			return nil, nil, fmt.Errorf("export: layer %d (%s %s) cannot be exported to PyTorch", i, op.Kind, op.Name)
		}
		fmt.Fprintf(&fwd, "        %s = %s\n", v(i), expr)
	}
	var py bytes.Buffer
	fmt.Fprintf(&py, pytorchModule, source, c.Model, floats(c.Mean[:]), floats(c.Std[:]), quoted(c.Classes),
		init.String()+fixed.String(), fwd.String(), v(len(ops)-1))
	return py.Bytes(), tensors, nil
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// pyFloat prints v exactly (a float32 widened to float64 prints as that float32).
func pyFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func floats(vs []float32) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = pyFloat(float64(v))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func quoted(ss []string) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// pytorchModule is the generated file: source, model, MEAN, STD, CLASSES, the modules,
// the forward's lines and the logits' variable.
const pytorchModule = `# Generated by xent (cmd/export -format pytorch) from %s: the model %s as a torch.nn.Module.
# Self-contained: it needs torch alone. Its state_dict is the tensors of weights.safetensors:
#
#     import model
#     net = model.load("weights.safetensors")  # load_state_dict(strict=True), in eval mode
#     logits = net(model.normalize(images))    # images: uint8 [N,3,32,32], planes R, G, B
#
# normalize is (pixel - MEAN) / STD per channel, as xent trained the model.

import json
import struct

import torch
from torch import nn
import torch.nn.functional as F

MEAN = %s
STD = %s
CLASSES = %s


def read_safetensors(path):
    """The tensors of a safetensors file, by name (with safetensors.torch where installed)."""
    try:
        from safetensors.torch import load_file
    except ImportError:
        load_file = None
    if load_file is not None:
        return load_file(path)
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    dtypes = {"F32": torch.float32, "I64": torch.int64}
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        lo, hi = e["data_offsets"]
        buf = bytearray(data[8 + n + lo:8 + n + hi])
        dtype = dtypes[e["dtype"]]
        out[name] = torch.frombuffer(buf, dtype=dtype).reshape(e["shape"]) if buf else torch.zeros(e["shape"], dtype=dtype)
    return out


def normalize(images):
    """uint8 images [N,3,32,32] as Net's float32 input."""
    mean = torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1)
    return (images.to(torch.float32) - mean) / std


def _put(root, name, module):
    *path, last = name.split(".")
    for p in path:
        if not hasattr(root, p):
            root.add_module(p, nn.Module())
        root = getattr(root, p)
    root.add_module(last, module)


def _get(root, name):
    for p in name.split("."):
        root = getattr(root, p)
    return root


class Net(nn.Module):
    def __init__(self):
        super().__init__()
%s
    def forward(self, x):
%s        return %s


def load(path="weights.safetensors"):
    net = Net()
    net.load_state_dict(read_safetensors(path), strict=True)
    return net.eval()
`
