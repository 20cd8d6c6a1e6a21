package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunWritesTableAndJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "loss.json")
	var stdout bytes.Buffer
	err := run([]string{"-shapes", "8x3,64x10", "-runs", "1", "-target", "1ms", "-json", out}, &stdout)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "gorgonia") {
		t.Errorf("table lacks the gorgonia row:\n%s", stdout.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 {
		t.Fatalf("%d rows, want 2 shapes x 3 impls", len(rows))
	}
	for _, r := range rows {
		for _, key := range []string{"impl", "n", "k", "dtype", "fwd_us", "fwdbwd_us", "gbps", "allocs", "max_err", "nonfinite"} {
			if _, ok := r[key]; !ok {
				t.Errorf("row %v lacks key %q", r, key)
			}
		}
		switch r["impl"] {
		case "kernel", "node":
			if r["nonfinite"].(float64) != 0 || r["max_err"].(float64) > 1e-5 {
				t.Errorf("%v: non-finite %v, max err %v", r["impl"], r["nonfinite"], r["max_err"])
			}
		case "gorgonia": // the stock composition overflows on the adversarial rows
			if r["nonfinite"].(float64) == 0 || r["max_err"] != nil {
				t.Errorf("gorgonia's composition stayed finite on adversarial rows: %v", r)
			}
		}
	}
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{{"-shapes", "10"}, {"-shapes", "0x5"}, {"-impls", "torch"}, {"-runs", "0"}} {
		if err := run(args, new(bytes.Buffer)); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
