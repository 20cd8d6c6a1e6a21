package cifar10

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
)

// The official binary archive and its MD5, from the dataset's home page.
const (
	ArchiveURL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
	ArchiveMD5 = "c32a1d4ab5d03f1284b67883e8d87530"
	archiveDir = "cifar-10-batches-bin" // the folder inside the archive
)

// ErrChecksum is a downloaded archive whose MD5 is not the expected one.
var ErrChecksum = errors.New("checksum mismatch")

// DownloadOptions changes where Download fetches from; the zero value fetches the official
// archive and shows no progress.
type DownloadOptions struct {
	URL      string       // default ArchiveURL
	MD5      string       // hex; default ArchiveMD5
	Client   *http.Client // default http.DefaultClient
	Progress io.Writer    // where the progress bar is drawn; nil for none
}

// Download makes dir a verified cifar-10-batches-bin folder. If dir already holds the six
// batch files at whole-record sizes it does nothing. Otherwise dir must not exist: the
// archive is fetched into a temporary folder beside dir, its MD5 checked, its batch folder
// extracted there, each file synced, and the folder renamed to dir in one step. A failed
// transfer, a bad checksum or a bad archive leaves nothing behind and says why.
func Download(ctx context.Context, dir string, opt DownloadOptions) error {
	if present(dir) {
		return nil
	}
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("cifar10: %s exists but is not a complete cifar-10-batches-bin folder; remove it to download again", dir)
	}
	if opt.URL == "" {
		opt.URL = ArchiveURL
	}
	if opt.MD5 == "" {
		opt.MD5 = ArchiveMD5
	}
	if opt.Client == nil {
		opt.Client = http.DefaultClient
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("cifar10: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".cifar10-download-")
	if err != nil {
		return fmt.Errorf("cifar10: %w", err)
	}
	defer os.RemoveAll(tmp)
	archive := filepath.Join(tmp, "archive.tar.gz")
	if err := fetch(ctx, opt, archive); err != nil {
		return err
	}
	extracted := filepath.Join(tmp, archiveDir)
	if err := extract(archive, extracted); err != nil {
		return err
	}
	for _, name := range append(append([]string{MetaFile}, TrainFiles...), TestFiles...) {
		if err := checkFile(filepath.Join(extracted, name), name != MetaFile); err != nil {
			return fmt.Errorf("cifar10: archive %s: %w", opt.URL, err)
		}
	}
	if err := os.Rename(extracted, dir); err != nil {
		return fmt.Errorf("cifar10: %w", err)
	}
	return syncDir(parent)
}

// present reports whether dir holds every batch file at a whole number of records (Open
// checks the official count).
func present(dir string) bool {
	for _, name := range append(append([]string{}, TrainFiles...), TestFiles...) {
		if checkSize(filepath.Join(dir, name), true) != nil {
			return false
		}
	}
	return true
}

func checkFile(p string, records bool) error {
	if records {
		return checkSize(p, true)
	}
	_, err := os.Stat(p)
	return err
}

// fetch downloads opt.URL into file, checking its length and MD5.
func fetch(ctx context.Context, opt DownloadOptions, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, opt.URL, nil)
	if err != nil {
		return fmt.Errorf("cifar10: %w", err)
	}
	resp, err := opt.Client.Do(req)
	if err != nil {
		return fmt.Errorf("cifar10: download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("cifar10: download %s: %s", opt.URL, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("cifar10: %w", err)
	}
	defer f.Close()
	sum := md5.New()
	w := io.MultiWriter(f, sum)
	if opt.Progress != nil {
		bar := progressbar.NewOptions64(resp.ContentLength,
			progressbar.OptionSetWriter(opt.Progress), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription("cifar-10-binary.tar.gz"), progressbar.OptionThrottle(100*time.Millisecond))
		w = io.MultiWriter(w, bar)
		defer fmt.Fprintln(opt.Progress)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return fmt.Errorf("cifar10: download %s: after %d bytes: %w", opt.URL, n, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("cifar10: download %s: %d of %d bytes: %w", opt.URL, n, resp.ContentLength, io.ErrUnexpectedEOF)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != opt.MD5 {
		return fmt.Errorf("cifar10: download %s: md5 %s, want %s: %w", opt.URL, got, opt.MD5, ErrChecksum)
	}
	return f.Sync()
}

// extract writes the regular files of the archive's cifar-10-batches-bin folder into dir.
// Entries elsewhere are skipped; names are taken as plain file names, so an entry cannot
// write outside dir.
func extract(archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return fmt.Errorf("cifar10: %w", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("cifar10: archive: %w", err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("cifar10: %w", err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("cifar10: archive: %w", err)
		}
		if h.Typeflag != tar.TypeReg || path.Dir(path.Clean(h.Name)) != archiveDir {
			continue
		}
		if err := writeSynced(filepath.Join(dir, path.Base(h.Name)), tr); err != nil {
			return fmt.Errorf("cifar10: archive entry %s: %w", h.Name, err)
		}
	}
}

func writeSynced(name string, r io.Reader) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("cifar10: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("cifar10: sync %s: %w", dir, err)
	}
	return nil
}
