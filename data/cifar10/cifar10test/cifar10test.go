// Package cifar10test makes synthetic CIFAR-10 data for tests, in the official binary
// format: folders of any size whose every record says which it is, so that a test can
// follow an image through a reader, an iterator or a training run.
//
// Record i has label i%10; its first 4 pixel bytes hold i (little-endian) and pixel byte
// j >= 4 is byte(i*7 + j). The package does not import cifar10 (whose own tests use it);
// its test checks that the layout it writes is cifar10's.
package cifar10test

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The format, as cifar10 defines it.
const (
	ImageSize  = 3 * 32 * 32
	RecordSize = 1 + ImageSize
)

var (
	trainFiles = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}
	testFile   = "test_batch.bin"
	metaFile   = "batches.meta.txt"
	classNames = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}
)

// TestFirst is the number of the first record of a folder's test_batch.bin.
const TestFirst = 1_000_000

// Record returns the bytes of record i: its label, then its pixels.
func Record(i int) []byte {
	r := make([]byte, RecordSize)
	r[0] = byte(i % 10)
	binary.LittleEndian.PutUint32(r[1:5], uint32(i))
	for j := 4; j < ImageSize; j++ {
		r[1+j] = byte(i*7 + j)
	}
	return r
}

// Records returns records first .. first+n-1, one after the other.
func Records(first, n int) []byte {
	b := make([]byte, 0, n*RecordSize)
	for i := range n {
		b = append(b, Record(first+i)...)
	}
	return b
}

// Index returns the number of the record whose pixels these are.
func Index(pixels []byte) int { return int(binary.LittleEndian.Uint32(pixels[:4])) }

// WriteFolder writes a cifar-10-batches-bin folder into dir holding perTrainFile records in
// each of the five training files (numbered from 0 across them) and testN in
// test_batch.bin (numbered from TestFirst), plus batches.meta.txt: the real layout at any
// size (cifar10.Open needs AnyRecordCount for sizes other than the official 10,000).
func WriteFolder(dir string, perTrainFile, testN int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cifar10test: %w", err)
	}
	for f, name := range trainFiles {
		if err := write(filepath.Join(dir, name), Records(f*perTrainFile, perTrainFile)); err != nil {
			return err
		}
	}
	if err := write(filepath.Join(dir, testFile), Records(TestFirst, testN)); err != nil {
		return err
	}
	return write(filepath.Join(dir, metaFile), []byte(strings.Join(classNames, "\n")+"\n\n"))
}

func write(path string, b []byte) error {
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("cifar10test: %w", err)
	}
	return nil
}
