// Package cifar10 reads CIFAR-10 in its official binary format (cifar-10-batches-bin) and
// turns it into normalised, augmented, shuffled batches for training.
//
// Each file is a sequence of records of RecordSize bytes: one label byte in [0, 10), then
// 3072 pixel bytes, the red, green and blue planes of a 32x32 image, each row-major. The
// train split is data_batch_1.bin to data_batch_5.bin (10,000 records each), the test split
// test_batch.bin, and batches.meta.txt names the classes, one a line.
package cifar10

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// Sizes of the format.
const (
	Width      = 32
	Height     = 32
	Channels   = 3
	PlaneSize  = Width * Height       // bytes of one colour plane
	ImageSize  = Channels * PlaneSize // 3072 pixel bytes
	RecordSize = 1 + ImageSize        // 3073 bytes: label, then pixels
	NumClasses = 10
)

// A Record is one image: its label and its pixels, planes R, G, B of 32x32 row-major bytes.
type Record struct {
	Label  uint8
	Pixels [ImageSize]byte
}

// ErrLabel is a label byte outside [0, 10).
var ErrLabel = errors.New("label out of range")

// A RecordError reports a bad record: its file (empty for a plain io.Reader) and index from
// 0. It wraps ErrLabel, io.ErrUnexpectedEOF (a file that ends inside the record) or the
// underlying read error.
type RecordError struct {
	File  string
	Index int
	Err   error
}

func (e *RecordError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("cifar10: record %d: %v", e.Index, e.Err)
	}
	return fmt.Sprintf("cifar10: %s: record %d: %v", e.File, e.Index, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// A Reader decodes records from an io.Reader, in the manner of encoding/csv.
type Reader struct {
	// File names the source in errors.
	File string
	// ReuseRecord makes Read return the same *Record every call, overwritten, so that
	// reading allocates nothing; by default each call returns a new Record.
	ReuseRecord bool

	r    *bufio.Reader
	buf  [RecordSize]byte
	n    int // records read
	last *Record
}

// NewReader returns a Reader that reads records from r, buffered.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64*RecordSize)}
}

// Read returns the next record. At the end of the input it returns io.EOF, and only there:
// input that stops inside a record gives a *RecordError wrapping io.ErrUnexpectedEOF, and a
// label >= 10 one wrapping ErrLabel (the record is returned too, for callers that want it).
func (r *Reader) Read() (*Record, error) {
	rec := r.last
	if rec == nil || !r.ReuseRecord {
		rec = new(Record)
		r.last = rec
	}
	return rec, r.ReadInto(rec)
}

// ReadInto reads the next record into rec, as Read does.
func (r *Reader) ReadInto(rec *Record) error {
	n, err := io.ReadFull(r.r, r.buf[:])
	switch {
	case err == io.EOF:
		return io.EOF
	case err != nil:
		if err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("%w (%d of %d bytes)", io.ErrUnexpectedEOF, n, RecordSize)
		}
		return &RecordError{File: r.File, Index: r.n, Err: err}
	}
	rec.Label = r.buf[0]
	copy(rec.Pixels[:], r.buf[1:])
	r.n++
	if rec.Label >= NumClasses {
		return &RecordError{File: r.File, Index: r.n - 1, Err: fmt.Errorf("%w: %d", ErrLabel, rec.Label)}
	}
	return nil
}

// Count returns the number of records read so far.
func (r *Reader) Count() int { return r.n }
