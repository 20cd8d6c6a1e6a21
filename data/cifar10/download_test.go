package cifar10

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// archiveOf returns a cifar-10-binary.tar.gz holding a small synthetic dataset (leaving out
// the named file) and its MD5.
func archiveOf(t *testing.T, leaveOut string) ([]byte, string) {
	t.Helper()
	src := synthetic(t, 3, 2)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	entries, _ := os.ReadDir(src)
	tw.WriteHeader(&tar.Header{Name: archiveDir + "/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "../evil.bin", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1})
	tw.Write([]byte{1})
	for _, e := range entries {
		if e.Name() == leaveOut {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(src, e.Name()))
		tw.WriteHeader(&tar.Header{Name: archiveDir + "/" + e.Name(), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(b))})
		tw.Write(b)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes(), md5hex(buf.Bytes())
}

func md5hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// serve serves body at /cifar-10-binary.tar.gz; with cut > 0 it declares the full length
// but sends only cut bytes, as a broken transfer does.
func serve(t *testing.T, body []byte, cut int) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cifar-10-binary.tar.gz" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		if cut > 0 {
			w.Write(body[:cut])
			panic(http.ErrAbortHandler) // drop the connection mid-body
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/cifar-10-binary.tar.gz"
}

// leftovers lists what a failed download left in dir's parent.
func leftovers(t *testing.T, parent string) []string {
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestDownload(t *testing.T) {
	body, sum := archiveOf(t, "")
	url := serve(t, body, 0)
	parent := t.TempDir()
	dir := filepath.Join(parent, "data", "cifar-10-batches-bin")
	var progress bytes.Buffer
	if err := Download(context.Background(), dir, DownloadOptions{URL: url, MD5: sum, Progress: &progress}); err != nil {
		t.Fatal(err)
	}
	d, err := Open(dir, AnyRecordCount())
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.Len() != 15 || d.Test.Len() != 2 {
		t.Errorf("downloaded %d train and %d test images, want 15 and 2", d.Train.Len(), d.Test.Len())
	}
	if _, err := os.Stat(filepath.Join(parent, "data", "evil.bin")); err == nil {
		t.Error("an archive entry ../evil.bin was written outside the folder")
	}
	if !strings.Contains(progress.String(), "cifar-10-binary.tar.gz") {
		t.Errorf("no progress bar drawn: %q", progress.String())
	}
	if got := leftovers(t, filepath.Dir(dir)); len(got) != 1 {
		t.Errorf("left beside the folder: %v", got)
	}
	// Present already: nothing is fetched (the URL is now wrong).
	if err := Download(context.Background(), dir, DownloadOptions{URL: url + "x", MD5: sum}); err != nil {
		t.Errorf("second download: %v", err)
	}
}

func TestDownloadFailuresLeaveNothing(t *testing.T) {
	body, sum := archiveOf(t, "")
	incomplete, incompleteSum := archiveOf(t, "data_batch_4.bin")
	tests := []struct {
		name    string
		url     string
		md5     string
		wantErr error
		wantIn  string
	}{
		{"bad checksum", serve(t, body, 0), strings.Repeat("0", 32), ErrChecksum, "md5"},
		{"broken transfer", serve(t, body, len(body)/2), sum, nil, "download"},
		{"not found", strings.TrimSuffix(serve(t, body, 0), ".tar.gz"), sum, nil, "404"},
		{"archive lacks a file", serve(t, incomplete, 0), incompleteSum, os.ErrNotExist, "data_batch_4.bin"},
		{"not an archive", serve(t, []byte("hello"), 0), md5hex([]byte("hello")), nil, "archive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "cifar-10-batches-bin")
			err := Download(context.Background(), dir, DownloadOptions{URL: tc.url, MD5: tc.md5})
			if err == nil {
				t.Fatal("no error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantIn) {
				t.Errorf("err = %q does not say %q", err, tc.wantIn)
			}
			if got := leftovers(t, parent); len(got) != 0 {
				t.Errorf("a failed download left %v", got)
			}
		})
	}
}

func TestDownloadRefusesAPartialFolder(t *testing.T) {
	dir := synthetic(t, 2, 1)
	os.Remove(filepath.Join(dir, "test_batch.bin"))
	err := Download(context.Background(), dir, DownloadOptions{URL: "http://127.0.0.1:1/none"})
	if err == nil || !strings.Contains(err.Error(), "remove it") {
		t.Errorf("err = %v, want a refusal naming the folder", err)
	}
}
