package cifar10

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The files of cifar-10-batches-bin.
var (
	TrainFiles = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}
	TestFiles  = []string{"test_batch.bin"}
	MetaFile   = "batches.meta.txt"
)

// ClassNames are the official class names, in label order.
var ClassNames = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// RecordsPerFile is the number of records in each official batch file.
const RecordsPerFile = 10000

// ErrSize is a batch file whose size is not a whole number of records.
var ErrSize = errors.New("size is not a whole number of records")

// ErrRecordCount is a batch file of whole records, but not the official files' 10,000.
var ErrRecordCount = errors.New("not the official batch files' record count")

// A Split is a set of images held in memory: Pixels [N, 3072] in the record layout, and
// Labels [N].
type Split struct {
	Pixels []byte
	Labels []uint8
}

// Len returns the number of images.
func (s *Split) Len() int { return len(s.Labels) }

// Image returns the pixels of image i, planes R, G, B of 32x32 bytes.
func (s *Split) Image(i int) []byte { return s.Pixels[i*ImageSize : (i+1)*ImageSize] }

// Slice returns images [lo, hi) as a Split sharing s's memory: for example a validation set
// held out from the end of the training data.
func (s *Split) Slice(lo, hi int) *Split {
	return &Split{Pixels: s.Pixels[lo*ImageSize : hi*ImageSize], Labels: s.Labels[lo:hi]}
}

// ChannelStats returns the mean and standard deviation of each colour channel over all
// pixels of the split, in pixel units (0..255), accumulated exactly in integers.
func (s *Split) ChannelStats() (mean, std [Channels]float64) {
	for c := range Channels {
		var sum, sumSq uint64
		for i := range s.Len() {
			for _, p := range s.Pixels[i*ImageSize+c*PlaneSize : i*ImageSize+(c+1)*PlaneSize] {
				sum += uint64(p)
				sumSq += uint64(p) * uint64(p)
			}
		}
		n := float64(s.Len() * PlaneSize)
		mean[c] = float64(sum) / n
		std[c] = math.Sqrt(float64(sumSq)/n - mean[c]*mean[c])
	}
	return mean, std
}

// A Dataset is CIFAR-10 loaded from a folder.
type Dataset struct {
	Dir     string
	Train   *Split
	Test    *Split
	Classes []string // class names, from batches.meta.txt
}

// An OpenOption changes what Open accepts.
type OpenOption func(*openConfig)

type openConfig struct{ anyCount bool }

// AnyRecordCount accepts batch files of any positive whole number of records: a dataset
// of one's own in CIFAR-10's format. Without it each must hold RecordsPerFile, as the
// official files do, so that a file cut or padded by whole records is an error.
func AnyRecordCount() OpenOption { return func(c *openConfig) { c.anyCount = true } }

// Open loads the train and test splits and the class names from dir, a
// cifar-10-batches-bin folder. Every batch file's size is checked before any is read, so a
// missing, truncated or padded file is reported before the slow part; every error names
// its file.
func Open(dir string, opts ...OpenOption) (*Dataset, error) {
	var c openConfig
	for _, o := range opts {
		o(&c)
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("cifar10: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("cifar10: %s is not a folder", dir)
	}
	for _, name := range append(append([]string{}, TrainFiles...), TestFiles...) {
		if err := checkSize(filepath.Join(dir, name), c.anyCount); err != nil {
			return nil, err
		}
	}
	d := &Dataset{Dir: dir}
	var err error
	if d.Classes, err = readClasses(filepath.Join(dir, MetaFile)); err != nil {
		return nil, err
	}
	if d.Train, err = readSplit(dir, TrainFiles); err != nil {
		return nil, err
	}
	if d.Test, err = readSplit(dir, TestFiles); err != nil {
		return nil, err
	}
	return d, nil
}

// checkSize reports a missing file, or one whose size is not a positive whole number of
// records (truncated or padded), or unless anyCount not RecordsPerFile of them.
func checkSize(path string, anyCount bool) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("cifar10: %w", err)
	}
	if st.Size() == 0 || st.Size()%RecordSize != 0 {
		return fmt.Errorf("cifar10: %s: %d bytes: %w of %d bytes", path, st.Size(), ErrSize, RecordSize)
	}
	if n := st.Size() / RecordSize; !anyCount && n != RecordsPerFile {
		return fmt.Errorf("cifar10: %s: %d records: %w (%d)", path, n, ErrRecordCount, RecordsPerFile)
	}
	return nil
}

// readSplit reads the named files of dir in order, into arrays sized once for all of
// them (growing them file by file copied and faulted in 2.3 s of CPU on the training set).
func readSplit(dir string, files []string) (*Split, error) {
	records := 0
	for _, name := range files {
		if st, err := os.Stat(filepath.Join(dir, name)); err == nil {
			records += int(st.Size() / RecordSize)
		}
	}
	s := &Split{Pixels: make([]byte, 0, records*ImageSize), Labels: make([]uint8, 0, records)}
	for _, name := range files {
		if err := s.readFile(filepath.Join(dir, name)); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Split) readFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cifar10: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("cifar10: %w", err)
	}
	n := int(st.Size() / RecordSize)
	s.Pixels = slices.Grow(s.Pixels, n*ImageSize)
	s.Labels = slices.Grow(s.Labels, n)
	r := NewReader(f)
	r.File = path
	var rec Record
	for range n {
		if err := r.ReadInto(&rec); err != nil {
			if err == io.EOF { // the file shrank since it was checked
				err = &RecordError{File: path, Index: r.Count(), Err: io.ErrUnexpectedEOF}
			}
			return err
		}
		s.Labels = append(s.Labels, rec.Label)
		s.Pixels = append(s.Pixels, rec.Pixels[:]...)
	}
	return nil
}

// readClasses reads the class names, one a line, ignoring blank lines; there must be 10.
func readClasses(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cifar10: %w", err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name := strings.TrimSpace(sc.Text()); name != "" {
			names = append(names, name)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cifar10: %s: %w", path, err)
	}
	if len(names) != NumClasses {
		return nil, fmt.Errorf("cifar10: %s: %d class names, want %d", path, len(names), NumClasses)
	}
	return names, nil
}
