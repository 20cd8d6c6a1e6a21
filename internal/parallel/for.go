// Package parallel splits loops over rows across the processor's cores with a fixed pool
// of workers, so that a kernel called every training step allocates nothing.
package parallel

import (
	"runtime"
	"sync"
)

// A Task runs rows [lo, hi) of a loop. Implement it with a pointer receiver on a struct
// that holds the loop's arguments: passing a pointer as a Task does not allocate.
type Task interface {
	Run(lo, hi int)
}

type chunk struct {
	task   Task
	lo, hi int
	wg     *sync.WaitGroup
}

var (
	startOnce sync.Once
	work      chan chunk
	groups    = sync.Pool{New: func() any { return new(sync.WaitGroup) }}
)

func start() {
	work = make(chan chunk)
	for range runtime.NumCPU() {
		go func() {
			for c := range work {
				c.task.Run(c.lo, c.hi)
				c.wg.Done()
			}
		}()
	}
}

// For runs t over rows [0, n) in up to GOMAXPROCS contiguous chunks, each of at least
// minRows rows, and returns when all are done. The calling goroutine runs the first chunk.
// With one chunk it calls t.Run(0, n) directly.
func For(n, minRows int, t Task) {
	parts := min(runtime.GOMAXPROCS(0), n/max(minRows, 1))
	if parts <= 1 {
		t.Run(0, n)
		return
	}
	startOnce.Do(start)
	wg := groups.Get().(*sync.WaitGroup)
	wg.Add(parts - 1)
	for p := 1; p < parts; p++ {
		work <- chunk{task: t, lo: p * n / parts, hi: (p + 1) * n / parts, wg: wg}
	}
	t.Run(0, n/parts)
	wg.Wait()
	groups.Put(wg)
}
