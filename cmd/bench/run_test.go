package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the test binary be the measuring child that run starts.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := run(os.Args[1:], os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error())
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestRunMeasuresInChildren(t *testing.T) {
	out := filepath.Join(t.TempDir(), "b.json")
	var stdout bytes.Buffer
	err := run([]string{"-models", "mlp,cnn-small", "-batch", "4", "-runs", "1", "-target", "20ms", "-json", out}, &stdout)
	if err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(b, &rows); err != nil || len(rows) != 2 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	for _, r := range rows {
		for _, key := range []string{"framework", "model", "batch", "train_img_s", "infer_img_s", "peak_rss_mb"} {
			if _, ok := r[key]; !ok {
				t.Errorf("row lacks %q: %v", key, r)
			}
		}
		if r["train_img_s"].(float64) <= 0 || r["peak_rss_mb"].(float64) < 5 || r["framework"] != "xent" {
			t.Errorf("implausible row %v", r)
		}
	}
	if !strings.Contains(stdout.String(), "cnn-small") {
		t.Errorf("table:\n%s", stdout.String())
	}
}

func TestHelpListsFlags(t *testing.T) {
	var stdout bytes.Buffer
	if err := run([]string{"-h"}, &stdout); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"-models", "-batch", "-json", "-runs"} {
		if !strings.Contains(stdout.String(), flag) {
			t.Errorf("-h output lacks %s:\n%s", flag, stdout.String())
		}
	}
}
