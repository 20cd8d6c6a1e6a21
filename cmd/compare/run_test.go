package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTable(t *testing.T) {
	png := filepath.Join(t.TempDir(), "c.png")
	var out bytes.Buffer
	if err := run([]string{"-png", png, "testdata/a.jsonl", "testdata/b.jsonl"}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("output:\n%s", out.String())
	}
	// cnn-small: best 58.00% (epoch 2), final 56.00%, final NLL 1.8034 bits, 450.0 s
	for _, want := range []string{"cnn-small (a)", "620362", "21697536", "58.00%", "56.00%", "1.8034", "450.0", "351"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("row %q lacks %q", lines[1], want)
		}
	}
	for _, want := range []string{"mlp (b)", "45.00%", "2.2362", "120.0"} {
		if !strings.Contains(lines[2], want) {
			t.Errorf("row %q lacks %q", lines[2], want)
		}
	}
	if st, err := os.Stat(png); err != nil || st.Size() < 1000 {
		t.Errorf("no PNG: %v", err)
	}
}

// A validation run is labelled val, never test, in the table and the curves; -x time puts
// wall seconds on the x axis.
func TestSplitsAndTimeAxis(t *testing.T) {
	png := filepath.Join(t.TempDir(), "c.png")
	var out bytes.Buffer
	if err := run([]string{"-png", png, "-x", "time", "testdata/a.jsonl", "testdata/v.jsonl"}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.Contains(lines[1], " test ") || !strings.Contains(lines[2], " val ") || !strings.Contains(lines[2], "71.00%") {
		t.Errorf("rows do not name their splits:\n%s", out.String())
	}
	if got := splitsOf([]runLog{mustRead(t, "testdata/v.jsonl")}); got != "val" {
		t.Errorf("split of a validation run: %q", got)
	}
	if got := splitsOf([]runLog{mustRead(t, "testdata/a.jsonl"), mustRead(t, "testdata/v.jsonl")}); got != "" {
		t.Errorf("split of a test and a validation run: %q, want none in common", got)
	}
	if st, err := os.Stat(png); err != nil || st.Size() < 1000 {
		t.Errorf("no PNG: %v", err)
	}
}

func mustRead(t *testing.T, path string) runLog {
	r, err := read(path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no metrics files"},
		{[]string{"testdata/missing.jsonl"}, "missing.jsonl"},
		{[]string{"testdata/bad.jsonl"}, "bad.jsonl:2"},
		{[]string{"-x", "step", "testdata/a.jsonl"}, "-x"},
	} {
		err := run(append([]string{"-png", ""}, tc.args...), new(bytes.Buffer))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestHelpListsFlags(t *testing.T) {
	var stdout bytes.Buffer
	if err := run([]string{"-h"}, &stdout); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "-png") {
		t.Errorf("-h output lacks -png:\n%s", stdout.String())
	}
}
