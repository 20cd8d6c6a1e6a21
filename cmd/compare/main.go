// Command compare sets runs of cmd/train side by side: given their metrics files (JSON
// lines), it prints a table (model, parameters, FLOPs, best and final test accuracy, final
// test NLL in bits, wall time, img/s) and draws their test-accuracy and test-loss curves in
// one PNG.
//
//	compare [-png runs.png] run1.jsonl run2.jsonl ...
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}
