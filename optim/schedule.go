package optim

import (
	"fmt"
	"math"
)

// A Schedule gives the learning rate at a step (from 0) as a pure function of it, so that a
// resumed run needs only its step count.
type Schedule interface {
	LR(step int) float64
	fmt.Stringer
}

// Constant is a fixed learning rate.
type Constant struct{ Rate float64 }

func (c Constant) LR(int) float64 { return c.Rate }
func (c Constant) String() string { return fmt.Sprintf("constant(%g)", c.Rate) }

// StepDecay multiplies Rate by Gamma every Every steps: Rate*Gamma^floor(step/Every).
type StepDecay struct {
	Rate  float64
	Every int
	Gamma float64
}

func (s StepDecay) LR(step int) float64 {
	return s.Rate * math.Pow(s.Gamma, float64(step/max(s.Every, 1)))
}
func (s StepDecay) String() string {
	return fmt.Sprintf("step(%g, every %d, x%g)", s.Rate, s.Every, s.Gamma)
}

// Cosine warms up linearly from 0 to Peak over Warmup steps, then follows a half cosine
// from Peak down to Min at step Total (and stays at Min after).
type Cosine struct {
	Peak, Min     float64
	Warmup, Total int
}

func (c Cosine) LR(step int) float64 {
	if step < c.Warmup {
		return c.Peak * float64(step+1) / float64(c.Warmup)
	}
	span := max(c.Total-c.Warmup, 1)
	t := math.Min(float64(step-c.Warmup)/float64(span), 1)
	return c.Min + (c.Peak-c.Min)*(1+math.Cos(math.Pi*t))/2
}
func (c Cosine) String() string {
	return fmt.Sprintf("cosine(peak %g, min %g, warmup %d, total %d)", c.Peak, c.Min, c.Warmup, c.Total)
}

// Triangular (one-cycle, as airbench uses) rises linearly from Start*Peak at step 0 to Peak
// at step Warmup*Total, then falls linearly to End*Peak at step Total (and stays there).
type Triangular struct {
	Peak       float64
	Total      int
	Warmup     float64 // fraction of Total, e.g. 0.2
	Start, End float64 // fractions of Peak, e.g. 0.2 and 0
}

func (t Triangular) LR(step int) float64 {
	x := float64(step) / float64(max(t.Total, 1))
	switch {
	case x >= 1:
		return t.End * t.Peak
	case x < t.Warmup:
		return t.Peak * (t.Start + (1-t.Start)*x/t.Warmup)
	}
	return t.Peak * (1 + (t.End-1)*(x-t.Warmup)/(1-t.Warmup))
}
func (t Triangular) String() string {
	return fmt.Sprintf("triangular(peak %g, total %d, warmup %g, start %g, end %g)", t.Peak, t.Total, t.Warmup, t.Start, t.End)
}
