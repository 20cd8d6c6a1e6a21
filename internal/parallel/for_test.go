package parallel

import (
	"sync/atomic"
	"testing"
)

type countRows struct {
	seen []atomic.Int32
}

func (c *countRows) Run(lo, hi int) {
	for i := lo; i < hi; i++ {
		c.seen[i].Add(1)
	}
}

func TestForVisitsEachRowOnce(t *testing.T) {
	for _, tc := range []struct{ n, minRows int }{{0, 1}, {1, 1}, {7, 1}, {1000, 10}, {1000, 600}, {5, 0}} {
		c := &countRows{seen: make([]atomic.Int32, tc.n)}
		For(tc.n, tc.minRows, c)
		for i := range c.seen {
			if got := c.seen[i].Load(); got != 1 {
				t.Fatalf("n=%d minRows=%d: row %d ran %d times", tc.n, tc.minRows, i, got)
			}
		}
	}
}

func TestForAllocatesNothing(t *testing.T) {
	c := &countRows{seen: make([]atomic.Int32, 4096)}
	For(4096, 1, c) // start the pool
	if a := testing.AllocsPerRun(100, func() { For(4096, 1, c) }); a != 0 {
		t.Errorf("For allocated %v times per call, want 0", a)
	}
}
