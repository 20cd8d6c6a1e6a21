package cifar10

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"example.com/xent/data/cifar10/cifar10test"
)

func TestReaderRoundTrip(t *testing.T) {
	for _, reuse := range []bool{false, true} {
		r := NewReader(bytes.NewReader(cifar10test.Records(0, 25)))
		r.ReuseRecord = reuse
		var prev *Record
		for i := range 25 {
			rec, err := r.Read()
			if err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			if want := cifar10test.Record(i); rec.Label != want[0] || string(rec.Pixels[:]) != string(want[1:]) {
				t.Fatalf("record %d differs from what was written", i)
			}
			if i > 0 && (rec == prev) != reuse {
				t.Errorf("ReuseRecord=%v: same *Record as before: %v", reuse, rec == prev)
			}
			prev = rec
		}
		if _, err := r.Read(); err != io.EOF {
			t.Errorf("after the last record: %v, want io.EOF", err)
		}
		if r.Count() != 25 {
			t.Errorf("Count = %d, want 25", r.Count())
		}
	}
}

func TestReaderAllocatesNothingWithReuse(t *testing.T) {
	data := cifar10test.Records(0, 200)
	br := bytes.NewReader(data)
	r := NewReader(br)
	r.ReuseRecord = true
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := r.Read(); err != nil {
			br.Reset(data)
		}
	})
	if allocs != 0 {
		t.Errorf("Read with ReuseRecord allocated %v times per record, want 0", allocs)
	}
}

func TestReaderErrors(t *testing.T) {
	badLabel := cifar10test.Records(0, 3)
	badLabel[2*RecordSize] = 10
	tests := []struct {
		name      string
		input     []byte
		wantErr   error
		wantIndex int // of the *RecordError; -1 for none
		good      int // records read before the error
	}{
		{"empty", nil, io.EOF, -1, 0},
		{"one byte", []byte{3}, io.ErrUnexpectedEOF, 0, 0},
		{"truncated second record", cifar10test.Records(0, 2)[:RecordSize+100], io.ErrUnexpectedEOF, 1, 1},
		{"label 10", badLabel, ErrLabel, 2, 2},
		{"label 255", append([]byte{255}, make([]byte, ImageSize)...), ErrLabel, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(tc.input))
			r.File = "x.bin"
			var err error
			good := 0
			for {
				if _, err = r.Read(); err != nil {
					break
				}
				good++
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if good != tc.good {
				t.Errorf("%d good records before the error, want %d", good, tc.good)
			}
			var re *RecordError
			if got := errors.As(err, &re); got != (tc.wantIndex >= 0) {
				t.Fatalf("err %v: *RecordError %v, want %v", err, got, tc.wantIndex >= 0)
			}
			if re != nil && (re.Index != tc.wantIndex || re.File != "x.bin") {
				t.Errorf("error at %s record %d, want x.bin record %d", re.File, re.Index, tc.wantIndex)
			}
		})
	}
}

// FuzzReader: whatever the input, Read never panics, returns io.EOF only at a record
// boundary, and every record it returns without error is exactly the bytes at its offset.
func FuzzReader(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.bin"))
	for _, name := range seeds {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		for i := 0; ; i++ {
			rec, err := r.Read()
			off := i * RecordSize
			if err == io.EOF {
				if off != len(data) {
					t.Fatalf("io.EOF at byte %d of %d", off, len(data))
				}
				return
			}
			var re *RecordError
			if err != nil && !errors.As(err, &re) {
				t.Fatalf("record %d: error %v is not a *RecordError", i, err)
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				if len(data)-off >= RecordSize || len(data) <= off {
					t.Fatalf("unexpected EOF with %d bytes left", len(data)-off)
				}
				return
			}
			if rec.Label != data[off] || !bytes.Equal(rec.Pixels[:], data[off+1:off+RecordSize]) {
				t.Fatalf("record %d is not the bytes at offset %d", i, off)
			}
			if (err != nil) != (data[off] >= NumClasses) {
				t.Fatalf("record %d with label %d: err %v", i, data[off], err)
			}
		}
	})
}
