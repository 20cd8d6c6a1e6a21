package cifar10

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ClassNames are the official class names, in label order.
var ClassNames = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// SyntheticRecord returns record i of a synthetic dataset: label i%10; the first 4 pixel
// bytes hold i (little-endian) and pixel j >= 4 is byte(i*7 + j), so that every record is
// distinct and says which it is.
func SyntheticRecord(i int) Record {
	r := Record{Label: uint8(i % NumClasses)}
	binary.LittleEndian.PutUint32(r.Pixels[:4], uint32(i))
	for j := 4; j < ImageSize; j++ {
		r.Pixels[j] = byte(i*7 + j)
	}
	return r
}

// SyntheticIndex returns the record number that SyntheticRecord wrote into pixels.
func SyntheticIndex(pixels []byte) int { return int(binary.LittleEndian.Uint32(pixels[:4])) }

// WriteSynthetic writes a cifar-10-batches-bin folder into dir holding perTrainFile records
// in each of the five train files (numbered 0.. across them) and testN in test_batch.bin
// (numbered from 1,000,000), plus batches.meta.txt: the real layout at any size, for tests.
func WriteSynthetic(dir string, perTrainFile, testN int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cifar10: %w", err)
	}
	for f, name := range TrainFiles {
		if err := writeRecords(filepath.Join(dir, name), f*perTrainFile, perTrainFile); err != nil {
			return err
		}
	}
	if err := writeRecords(filepath.Join(dir, TestFiles[0]), 1_000_000, testN); err != nil {
		return err
	}
	meta := strings.Join(ClassNames, "\n") + "\n\n"
	if err := os.WriteFile(filepath.Join(dir, MetaFile), []byte(meta), 0o644); err != nil {
		return fmt.Errorf("cifar10: %w", err)
	}
	return nil
}

func writeRecords(path string, first, n int) error {
	b := make([]byte, 0, n*RecordSize)
	for i := range n {
		r := SyntheticRecord(first + i)
		b = append(append(b, r.Label), r.Pixels[:]...)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("cifar10: %w", err)
	}
	return nil
}
