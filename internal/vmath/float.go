package vmath

// Float is the element type of float slices and tensors: the constraint of every kernel
// generic over float32 and float64 (loss.Float is this type).
type Float interface{ float32 | float64 }
