package main

import (
	"io"
	"time"
)

// asyncWriter passes writes to w on a goroutine of its own, dropping what does not fit in
// its queue, so that a writer never blocks on w. Under mpirun, rank 0's output is a pipe
// that mpirun stops reading when it stops the job: then SIGTERM comes, and a second later
// SIGKILL; a rank blocked in a write of its progress bar would never write the checkpoint
// that SIGTERM asks for.
type asyncWriter struct {
	w       io.Writer
	queue   chan []byte
	done    chan struct{}
	dropped int
}

func newAsyncWriter(w io.Writer) *asyncWriter {
	a := &asyncWriter{w: w, queue: make(chan []byte, 1024), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for b := range a.queue {
			a.w.Write(b)
		}
	}()
	return a
}

// Write queues a copy of p, or drops it if the queue is full. It never fails.
func (a *asyncWriter) Write(p []byte) (int, error) {
	select {
	case a.queue <- append([]byte(nil), p...):
	default:
		a.dropped++
	}
	return len(p), nil
}

// Close writes what is queued, waiting at most wait for w.
func (a *asyncWriter) Close(wait time.Duration) {
	close(a.queue)
	select {
	case <-a.done:
	case <-time.After(wait):
	}
}
