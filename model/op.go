package model

// OpKind names what an Op computes.
type OpKind string

// The kinds of Op, and the fields of Op each reads.
const (
	OpConv      OpKind = "conv"      // Kernel, Stride, Pad, Bias, ReLU; Inputs x and, for ConvAdd, the residual added before the ReLU
	OpBatchNorm OpKind = "batchnorm" // Eps: (x - running_mean)/sqrt(running_var + Eps)*weight + bias; Momentum and FixedScale for training
	OpReLU      OpKind = "relu"
	OpGELU      OpKind = "gelu"    // x*Phi(x), the exact form
	OpMaxPool   OpKind = "maxpool" // K: max over K x K windows, stride K, the last partial window dropped
	OpAvgPool   OpKind = "avgpool" // the mean of each channel: [N,C,H,W] -> [N,C]
	OpFlatten   OpKind = "flatten" // [N,...] -> [N, the product of the rest]
	OpLinear    OpKind = "linear"  // x weight^T + bias
	OpAdd       OpKind = "add"     // the sum of the two Inputs
	OpScale     OpKind = "scale"   // Scale*x
)

// An Op is one layer of a model's evaluation graph as an exporter reads it: what it
// computes, from which earlier ops' outputs (index -1 is the images [N,3,32,32]), its
// parameters (Name+".weight", Name+".bias" and, for a batchnorm, Name+".running_mean" and
// Name+".running_var", in PyTorch's layouts), its settings, and its output shape for one
// image. Net.Ops lists them in the order they run; the last one's output is the logits.
type Op struct {
	Kind   OpKind
	Name   string // the parameters' prefix, "" for a layer without any
	Inputs []int
	Shape  []int // the output of one image, e.g. [64, 32, 32]

	Kernel, Stride, Pad int     // conv
	Bias, ReLU          bool    // conv: a bias parameter; the ReLU in its pass
	Eps, Momentum       float64 // batchnorm (Momentum: the new batch's weight in the running statistics, as PyTorch's)
	FixedScale          bool    // batchnorm: the weight is not trained
	K                   int     // maxpool
	Scale               float64 // scale
}
