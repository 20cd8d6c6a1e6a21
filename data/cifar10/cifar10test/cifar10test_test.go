package cifar10test_test

import (
	"path/filepath"
	"slices"
	"testing"

	"example.com/xent/data/cifar10"
	"example.com/xent/data/cifar10/cifar10test"
)

// The folder it writes is cifar10's layout: the same files, sizes and class names, and
// every record is the one it says.
func TestFolderIsCIFAR10s(t *testing.T) {
	if cifar10test.RecordSize != cifar10.RecordSize || cifar10test.ImageSize != cifar10.ImageSize {
		t.Fatalf("record size %d, image %d; cifar10's %d, %d", cifar10test.RecordSize, cifar10test.ImageSize, cifar10.RecordSize, cifar10.ImageSize)
	}
	dir := filepath.Join(t.TempDir(), "cifar-10-batches-bin")
	if err := cifar10test.WriteFolder(dir, 3, 2); err != nil {
		t.Fatal(err)
	}
	d, err := cifar10.Open(dir, cifar10.AnyRecordCount())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Classes, cifar10.ClassNames) || d.Train.Len() != 15 || d.Test.Len() != 2 {
		t.Fatalf("classes %v, %d training and %d test images", d.Classes, d.Train.Len(), d.Test.Len())
	}
	for i := range d.Train.Len() {
		want := cifar10test.Record(i)
		if d.Train.Labels[i] != want[0] || string(d.Train.Image(i)) != string(want[1:]) || cifar10test.Index(d.Train.Image(i)) != i {
			t.Fatalf("training image %d is not record %d", i, i)
		}
	}
	if got := cifar10test.Index(d.Test.Image(1)); got != cifar10test.TestFirst+1 {
		t.Errorf("test image 1 is record %d", got)
	}
}
