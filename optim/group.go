package optim

import "fmt"

// A Group runs several optimizers as one over disjoint sets of a model's parameters (a Muon
// run: Muon on the convolution filters, SGD on the rest, each with its own learning rate).
// Step's gradients are the model's, in its parameters' order; each member gets those of its
// parameters, and the learning rate times its factor.
type Group struct {
	members []member
	n       int // the model's parameters
	steps   int
}

type member struct {
	opt   Optimizer
	index []int                              // the model's parameter index of each of the member's parameters
	rate  func(step int, lr float64) float64 // the member's learning rate at a step, from the group's
	grads [][]float32
}

// NewGroup returns a group over a model of n parameters; Add gives it its members.
func NewGroup(n int) *Group { return &Group{n: n} }

// Add makes opt the optimizer of the model's parameters index (in opt's order), at lrFactor
// times the group's learning rate. Every parameter must belong to one member.
func (g *Group) Add(opt Optimizer, index []int, lrFactor float64) error {
	return g.add(opt, index, func(_ int, lr float64) float64 { return lr * lrFactor })
}

// AddRate makes opt the optimizer of the parameters index with a learning rate of its own:
// rate(step) at the group's step (from 0), whatever the group's rate is; e.g. airbench94's
// whitening bias, whose rate falls to 0 over the first epochs, then stays there.
func (g *Group) AddRate(opt Optimizer, index []int, rate func(step int) float64) error {
	return g.add(opt, index, func(step int, _ float64) float64 { return rate(step) })
}

func (g *Group) add(opt Optimizer, index []int, rate func(int, float64) float64) error {
	for _, i := range index {
		if i < 0 || i >= g.n {
			return fmt.Errorf("optim: group member for parameter %d of %d", i, g.n)
		}
		for _, m := range g.members {
			for _, j := range m.index {
				if i == j {
					return fmt.Errorf("optim: parameter %d in two members of a group", i)
				}
			}
		}
	}
	g.members = append(g.members, member{opt: opt, index: index, rate: rate, grads: make([][]float32, len(index))})
	return nil
}

// Step applies each member's update.
func (g *Group) Step(lr float64, grads [][]float32) error {
	if len(grads) != g.n {
		return fmt.Errorf("optim: %d gradients for a group of %d parameters", len(grads), g.n)
	}
	covered := 0
	for _, m := range g.members {
		covered += len(m.index)
	}
	if covered != g.n {
		return fmt.Errorf("optim: a group's members hold %d of its %d parameters", covered, g.n)
	}
	for _, m := range g.members {
		for k, i := range m.index {
			m.grads[k] = grads[i]
		}
		if err := m.opt.Step(m.rate(g.steps, lr), m.grads); err != nil {
			return err
		}
	}
	g.steps++
	return nil
}

// Steps returns the number of steps taken.
func (g *Group) Steps() int { return g.steps }

// State returns the union of the members' buffers (their parameters' names are distinct).
func (g *Group) State() map[string][]float32 {
	st := map[string][]float32{}
	for _, m := range g.members {
		for k, v := range m.opt.State() {
			st[k] = v
		}
	}
	return st
}

// SetState restores every member from the union and sets the step count.
func (g *Group) SetState(state map[string][]float32, steps int) error {
	for _, m := range g.members {
		if err := m.opt.SetState(state, steps); err != nil {
			return err
		}
	}
	g.steps = steps
	return nil
}
