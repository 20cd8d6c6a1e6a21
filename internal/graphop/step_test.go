package graphop

import "testing"

func TestStep(t *testing.T) {
	var s Step
	// step 1: inputs 0 and 2 asked for; the first call of the step does the shared work
	s.Forward()
	if !s.Backward(2) || s.Backward(0) || s.Wanted(0) || s.Wanted(2) {
		t.Fatal("step 1: want the first call first, nothing wanted before")
	}
	// step 2 forecasts from step 1
	s.Forward()
	if !s.Backward(0) || !s.Wanted(0) || s.Wanted(1) || !s.Wanted(2) {
		t.Fatal("step 2: want step 1's inputs 0 and 2 wanted")
	}
	s.Backward(1)
	s.Forward()
	if !s.Backward(1) || !s.Wanted(0) || !s.Wanted(1) || s.Wanted(2) {
		t.Fatal("step 3: want step 2's inputs 0 and 1 wanted")
	}
	// Asked: whether the pass since the last Forward had a gradient
	if !s.Asked() {
		t.Fatal("step 3 asked for gradients: Asked false")
	}
	s.Forward()
	if s.Asked() {
		t.Fatal("a forward pass without gradients: Asked true")
	}
}
