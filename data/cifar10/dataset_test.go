package cifar10

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"example.com/xent/data/cifar10/cifar10test"
)

func synthetic(t testing.TB, perFile, test int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cifar-10-batches-bin")
	if err := cifar10test.WriteFolder(dir, perFile, test); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestOpenSynthetic(t *testing.T) {
	dir := synthetic(t, 30, 20)
	d, err := Open(dir, AnyRecordCount())
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.Len() != 150 || d.Test.Len() != 20 {
		t.Fatalf("train %d test %d images, want 150 and 20", d.Train.Len(), d.Test.Len())
	}
	if strings.Join(d.Classes, ",") != strings.Join(ClassNames, ",") {
		t.Errorf("classes %v", d.Classes)
	}
	for i := range d.Train.Len() {
		want := cifar10test.Record(i)
		if d.Train.Labels[i] != want[0] || string(d.Train.Image(i)) != string(want[1:]) {
			t.Fatalf("train image %d is not synthetic record %d", i, i)
		}
	}
	if got := cifar10test.Index(d.Test.Image(7)); got != 1_000_007 {
		t.Errorf("test image 7 is record %d", got)
	}
	// without AnyRecordCount, files of another record count than the official 10,000 are refused
	if _, err := Open(dir); !errors.Is(err, ErrRecordCount) || !strings.Contains(err.Error(), "data_batch_1.bin: 30 records") {
		t.Errorf("strict Open of 30-record files: err = %v, want ErrRecordCount naming data_batch_1.bin", err)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(dir string) error
		wantErr error  // checked with errors.Is when set
		wantIn  string // the error names this
	}{
		{"missing file", func(dir string) error { return os.Remove(filepath.Join(dir, "data_batch_3.bin")) },
			fs.ErrNotExist, "data_batch_3.bin"},
		{"truncated file", func(dir string) error { return os.Truncate(filepath.Join(dir, "test_batch.bin"), 5*RecordSize-7) },
			ErrSize, "test_batch.bin"},
		{"empty file", func(dir string) error { return os.Truncate(filepath.Join(dir, "data_batch_1.bin"), 0) },
			ErrSize, "data_batch_1.bin"},
		{"file one byte too long", func(dir string) error {
			f, err := os.OpenFile(filepath.Join(dir, "data_batch_5.bin"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.Write([]byte{0})
			return err
		}, ErrSize, "data_batch_5.bin"},
		{"bad label", func(dir string) error {
			p := filepath.Join(dir, "data_batch_2.bin")
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b[4*RecordSize] = 10
			return os.WriteFile(p, b, 0o644)
		}, ErrLabel, "data_batch_2.bin: record 4"},
		{"missing class names", func(dir string) error { return os.Remove(filepath.Join(dir, MetaFile)) },
			fs.ErrNotExist, MetaFile},
		{"nine class names", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, MetaFile), []byte(strings.Join(ClassNames[:9], "\n")), 0o644)
		}, nil, "9 class names"},
		{"folder is a file", func(dir string) error {
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
			return os.WriteFile(dir, []byte("x"), 0o644)
		}, nil, "is not a folder"},
		{"no folder", os.RemoveAll, fs.ErrNotExist, "cifar-10-batches-bin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := synthetic(t, 10, 5)
			if err := tc.damage(dir); err != nil {
				t.Fatal(err)
			}
			_, err := Open(dir, AnyRecordCount())
			if err == nil {
				t.Fatal("no error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantIn) {
				t.Errorf("err = %q does not name %q", err, tc.wantIn)
			}
		})
	}
}

func TestChannelStats(t *testing.T) {
	d, err := Open(synthetic(t, 8, 2), AnyRecordCount())
	if err != nil {
		t.Fatal(err)
	}
	mean, std := d.Train.ChannelStats()
	for c := range Channels {
		var s, ss float64
		var n int
		for i := range d.Train.Len() {
			for _, p := range d.Train.Image(i)[c*PlaneSize : (c+1)*PlaneSize] {
				s += float64(p)
				ss += float64(p) * float64(p)
				n++
			}
		}
		m := s / float64(n)
		sd := math.Sqrt(ss/float64(n) - m*m)
		if math.Abs(mean[c]-m) > 1e-9 || math.Abs(std[c]-sd) > 1e-9 {
			t.Errorf("channel %d: %v %v, want %v %v", c, mean[c], std[c], m, sd)
		}
	}
}

// TestRealData checks the real CIFAR-10 in $CIFAR10_DIR (../shared/cifar10/get makes it).
func TestRealData(t *testing.T) {
	dir := os.Getenv("CIFAR10_DIR")
	if dir == "" {
		t.Skip("CIFAR10_DIR is not set: skipping the real-data checks (export CIFAR10_DIR=$(../shared/cifar10/get | tail -n 1))")
	}
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.Len() != 50000 || d.Test.Len() != 10000 {
		t.Fatalf("train %d, test %d images; want 50000, 10000", d.Train.Len(), d.Test.Len())
	}
	for name, s := range map[string]*Split{"train": d.Train, "test": d.Test} {
		var count [NumClasses]int
		for _, y := range s.Labels {
			count[y]++
		}
		for c, n := range count {
			if n != s.Len()/NumClasses {
				t.Errorf("%s: class %d (%s) has %d images, want %d", name, c, d.Classes[c], n, s.Len()/NumClasses)
			}
		}
	}
	mean, std := d.Train.ChannelStats()
	wantMean, wantStd := [3]float64{125.3, 123.0, 113.9}, [3]float64{63.0, 62.1, 66.7}
	for c := range Channels {
		if math.Abs(mean[c]-wantMean[c]) > 0.1 || math.Abs(std[c]-wantStd[c]) > 0.1 {
			t.Errorf("channel %d: mean %.2f std %.2f, want %.1f and %.1f", c, mean[c], std[c], wantMean[c], wantStd[c])
		}
	}
	t.Logf("train channel means %.3f, stds %.3f", mean, std)
}

// TestRealDataCutOrPadded: the real folder with a file cut or padded by whole records is
// refused, naming the file, unless AnyRecordCount says the dataset is one's own.
func TestRealDataCutOrPadded(t *testing.T) {
	real := os.Getenv("CIFAR10_DIR")
	if real == "" {
		t.Skip("CIFAR10_DIR is not set: skipping the real-data checks (export CIFAR10_DIR=$(../shared/cifar10/get | tail -n 1))")
	}
	for _, tc := range []struct {
		file    string
		records int // what the damaged file holds
		train   int // training images it gives with AnyRecordCount
	}{
		{"data_batch_2.bin", RecordsPerFile + 1, 50001},
		{"data_batch_2.bin", RecordsPerFile - 1, 49999},
		{"data_batch_4.bin", 1, 40001},
	} {
		dir := t.TempDir()
		for _, name := range append(append([]string{MetaFile}, TrainFiles...), TestFiles...) {
			if name != tc.file {
				if err := os.Symlink(filepath.Join(real, name), filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
			}
		}
		b, err := os.ReadFile(filepath.Join(real, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if tc.records > RecordsPerFile { // padded with a copy of the first record
			b = append(b, b[:RecordSize]...)
		}
		if err := os.WriteFile(filepath.Join(dir, tc.file), b[:tc.records*RecordSize], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = Open(dir)
		if !errors.Is(err, ErrRecordCount) || !strings.Contains(err.Error(), fmt.Sprintf("%s: %d records", tc.file, tc.records)) {
			t.Errorf("%s with %d records: err = %v, want ErrRecordCount naming the file", tc.file, tc.records, err)
		}
		d, err := Open(dir, AnyRecordCount())
		if err != nil || d.Train.Len() != tc.train {
			t.Errorf("%s with %d records, AnyRecordCount: %v, want %d training images", tc.file, tc.records, err, tc.train)
		}
	}
}
