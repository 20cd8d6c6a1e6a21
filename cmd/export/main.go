// Command export writes a checkpoint of cmd/train for other tools:
//
//	export -checkpoint FILE -format pytorch -o DIR    # DIR/model.py and DIR/weights.safetensors
//	export -checkpoint FILE -format onnx -o FILE.onnx
//
// See package export for what each holds.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "export:", err)
		os.Exit(1)
	}
}
