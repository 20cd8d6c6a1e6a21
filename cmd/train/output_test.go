package main

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// asyncWriter never blocks its writer: not on an output nobody reads (a pipe mpirun stopped
// reading), where it drops what does not fit; and it passes everything on to one that reads.
func TestAsyncWriterNeverBlocks(t *testing.T) {
	r, w := io.Pipe() // nobody reads r: every write to w blocks
	defer r.Close()
	a := newAsyncWriter(w)
	done := make(chan struct{})
	go func() {
		for range 10000 {
			a.Write([]byte("progress\r"))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("writes blocked on an output nobody reads")
	}
	start := time.Now()
	a.Close(50 * time.Millisecond)
	if time.Since(start) > 5*time.Second || a.dropped == 0 {
		t.Errorf("Close took %v, %d writes dropped", time.Since(start), a.dropped)
	}
	var out bytes.Buffer
	b := newAsyncWriter(&out)
	for range 100 {
		b.Write([]byte("line\n"))
	}
	b.Close(5 * time.Second)
	if out.Len() != 500 || b.dropped != 0 {
		t.Errorf("to a reader: %d bytes, %d writes dropped; want 500, 0", out.Len(), b.dropped)
	}
}
