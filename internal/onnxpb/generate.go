// Package onnxpb is ONNX's protobuf messages in Go, generated from onnx.proto (ONNX 1.12,
// Debian's python3-onnx; Apache-2.0, see its header) by protoc 3.21 (Debian's
// protobuf-compiler) and protoc-gen-go v1.36.12 (`go install
// google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12`). Regenerate with
// `go generate ./internal/onnxpb`.
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go_opt=Monnx.proto=example.com/xent/internal/onnxpb onnx.proto
