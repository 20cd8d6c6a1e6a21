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
	rows := readRows(t, out)
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

func TestLinearWritesTableAndJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "linear.json")
	var stdout bytes.Buffer
	if err := run([]string{"-linear", "64x8x300,40x5x77", "-runs", "3", "-chunk", "16", "-peak", "100", "-json", out}, &stdout); err != nil {
		t.Fatal(err)
	}
	rows := readRows(t, out)
	if len(rows) != 6 {
		t.Fatalf("%d rows, want 2 shapes x 3 impls:\n%s", len(rows), stdout.String())
	}
	for _, r := range rows {
		for _, key := range []string{"framework", "impl", "n", "d", "v", "dtype", "fwdbwd_us", "gflops", "extra_bytes", "max_err", "peak_fraction"} {
			if _, ok := r[key]; !ok {
				t.Errorf("row %v lacks key %q", r, key)
			}
		}
		if e, ok := r["max_err"].(float64); !ok || e > 1e-5 {
			t.Errorf("%v at %vx%vx%v: max err %v", r["impl"], r["n"], r["d"], r["v"], r["max_err"])
		}
	}
	if rows[0]["impl"] != "fused" || rows[0]["n"].(float64) != 64 || rows[5]["impl"] != "unfused" || rows[5]["v"].(float64) != 77 {
		t.Errorf("rows out of order: %v ... %v", rows[0], rows[5])
	}
	// the fused kernel holds a chunk of 16 rows of logits; the unfused one all 64, twice
	fused, unfused := rows[0]["extra_bytes"].(float64), rows[2]["extra_bytes"].(float64)
	if fused >= unfused {
		t.Errorf("fused kernel's extra memory %v, not below the unfused %v", fused, unfused)
	}
}

func TestLinearFlags(t *testing.T) {
	c, err := parseFlags([]string{"-linear"})
	if err != nil || len(c.linear) != 3 || c.linear[2] != [3]int{2048, 2048, 128256} || c.runs != 3 {
		t.Errorf("-linear alone: %v, %v; want the 3 default shapes, 3 runs", c.linear, err)
	}
	if c, err = parseFlags([]string{"-linear", "-runs", "2"}); err != nil || len(c.linear) != 3 || c.runs != 2 {
		t.Errorf("-linear -runs 2: %v, runs %d, %v", c.linear, c.runs, err)
	}
	for _, args := range [][]string{{"-linear", "10x5"}, {"-linear", "0x5x5"}, {"-peer", "x.py"}, {"-linear", "-chunk", "-1"}, {"-chunk", "4"}, {"-linear", "-peak", "-3"}} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// readRows reads the -json file's array of rows.
func readRows(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatal(err)
	}
	return rows
}
