package graphop

// A Step is what the gradient nodes of one forward node share within a training step.
// Gorgonia runs a node's gradient nodes one after another, each a Backward call of its
// kernel for one input; work that serves several of them (a pass over the output
// gradient, sums they all read) is done by the first call of the step and kept for the
// others. And since the graph asks for the same gradients every step, which inputs the
// last step asked for is this step's forecast: a kernel can compute them together.
//
// The kernel calls Forward in its Forward, and Backward at the top of its Backward.
type Step struct {
	begun  bool   // a gradient of this step was asked for
	asked  uint64 // the inputs whose gradients this step asked for, a bit each
	wanted uint64 // and the last step
}

// Forward starts a new step.
func (s *Step) Forward() { s.begun = false }

// Backward records that input wrt's gradient is asked for and reports whether it is the
// step's first gradient: the call that does the shared work.
func (s *Step) Backward(wrt int) (first bool) {
	if !s.begun {
		s.begun, s.wanted, s.asked = true, s.asked, 0
		first = true
	}
	s.asked |= 1 << wrt
	return first
}

// Asked reports whether a gradient was asked for since the last Forward: called before the
// next Forward, whether the last forward pass was a training step's.
func (s *Step) Asked() bool { return s.begun }

// Wanted reports whether the last step asked for input i's gradient (false in the first
// step).
func (s *Step) Wanted(i int) bool { return s.wanted&(1<<i) != 0 }
