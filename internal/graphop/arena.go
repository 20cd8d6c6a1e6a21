package graphop

import (
	"fmt"
	"sort"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Outputs is implemented by a kernel whose outputs an Arena may hold: it returns the fields
// that hold its value (index 0) and its gradient with respect to input i (index 1+i), nil
// where the kernel keeps its own memory. The kernel must make each with Reused, so that a
// field set to a tensor of the right shape before the call is written in place.
type Outputs interface {
	Outputs() []**tensor.Dense
}

// An Arena holds the large outputs of the kernels of one or more machines in a few shared
// arrays (slots), where without it every output has an array of its own for the life of
// the graph. A value needs its memory only from the node that writes it to the last node
// that reads it: in a training step, an activation's gradient dies as soon as the layer
// below has used it, and an evaluation pass's activations die one layer later. Plan finds
// those lifetimes in the order the machine runs its nodes and gives values whose
// lifetimes do not meet the same slot. Machines planned on one arena share its slots, so
// they must not run at the same time (a training step and an evaluation never do); a value
// read after a run (the loss, the gradients of the parameters, anything named to Plan)
// keeps an array of its own.
type Arena struct {
	slots []*slot
}

// A slot is one shared array, as large as the largest value planned into it.
type slot struct {
	dtype tensor.Dtype
	n     int // elements
	data  any // []float32 or []float64, made at the first use and again if a later plan grew n
	made  int // how many times data was made: a tensor over an older array is stale
}

// backing returns the slot's first n elements.
func (s *slot) backing(n int) any {
	switch d := s.data.(type) {
	case []float32:
		if len(d) >= s.n {
			return d[:n]
		}
	case []float64:
		if len(d) >= s.n {
			return d[:n]
		}
	}
	if s.dtype == tensor.Float32 {
		s.data = make([]float32, s.n)
	} else {
		s.data = make([]float64, s.n)
	}
	s.made++
	return s.backing(n)
}

// Bytes is the memory of the arena's slots.
func (a *Arena) Bytes() int64 {
	var b int64
	for _, s := range a.slots {
		b += int64(s.n) * int64(s.dtype.Size())
	}
	return b
}

// lent is what a kernel's nodes in one plan know of its outputs: for output i, the slot
// that holds it (nil: the kernel's own memory), its shape, and the tensor over the slot
// that the kernel's field is set to.
type lent struct {
	fields []**tensor.Dense
	slots  []*slot
	shapes []tensor.Shape
	views  []*tensor.Dense
	made   []int // the slot's made when the view was taken
}

// set points the kernel's fields for outputs lo..hi-1 at their slots.
func (l *lent) set(lo, hi int) {
	for i := lo; i < hi && i < len(l.slots); i++ {
		s := l.slots[i]
		if s == nil || l.fields[i] == nil {
			continue
		}
		if l.views[i] == nil || l.made[i] != s.made {
			data := s.backing(l.shapes[i].TotalSize())
			l.views[i], l.made[i] = tensor.New(tensor.WithShape(l.shapes[i]...), tensor.WithBacking(data)), s.made
		}
		*l.fields[i] = l.views[i]
	}
}

// A plan is the order of one machine's kernel nodes. Each node checks, when it runs, that
// it comes where the plan put it: a machine that ran them in another order would let two
// live values share a slot, so it gets an error instead.
type plan struct {
	next  int // the position of the node to run next
	nodes int
}

// planned is a kernel node's part in a plan: its position among the plan's kernel nodes
// and its kernel's outputs.
type planned struct {
	plan *plan
	pos  int
	out  *lent
}

// enter checks that the node runs in its planned turn and sets its kernel's fields: the
// value for a forward node (output 0), every gradient for a gradient node (a kernel's
// first gradient node may compute them all).
func (p *planned) enter(forward bool) error {
	if p == nil || p.plan == nil {
		return nil
	}
	if p.pos != 0 && p.plan.next != p.pos {
		return fmt.Errorf("graphop: kernel node %d of a memory plan ran when node %d was due: a graph whose memory an Arena planned runs only on the machine it was planned for", p.pos, p.plan.next)
	}
	p.plan.next = (p.pos + 1) % p.plan.nodes
	if forward {
		p.out.set(0, 1)
	} else {
		p.out.set(1, len(p.out.slots))
	}
	return nil
}

// Plan plans the memory of the machine gorgonia.NewTapeMachine(sub) builds: sub is the
// subgraph the machine runs, keep the nodes whose values are read after a run besides
// sub's roots. The machine runs the nodes in the reverse of gorgonia.Sort(sub), so the
// plan takes that order. A value gets a slot when every node that reads it is a kernel
// node; it then lives from the node that writes it (for a gradient, the kernel's first
// gradient node, which may compute them all) to the last that reads it. Values whose
// lives do not meet share a slot; each goes to the smallest free slot that holds it,
// else the largest free one grows. Plan a graph once, for one machine.
func (a *Arena) Plan(sub *gorgonia.ExprGraph, keep ...*gorgonia.Node) error {
	sorted, err := gorgonia.Sort(sub)
	if err != nil {
		return fmt.Errorf("graphop: planning memory: %w", err)
	}
	order := make([]*gorgonia.Node, len(sorted))
	for i, n := range sorted {
		order[len(sorted)-1-i] = n
	}
	pos := make(map[*gorgonia.Node]int, len(order))
	for i, n := range order {
		pos[n] = i
	}
	kept := map[*gorgonia.Node]bool{}
	for _, n := range append(sub.Roots(), keep...) {
		kept[n] = true
	}
	// Who reads each value, and the kernels' first gradient nodes.
	last := map[*gorgonia.Node]int{}
	foreign := map[*gorgonia.Node]bool{} // read by a node that is not a kernel's
	firstGrad := map[Kernel]int{}
	for i, n := range order {
		k, _, isKernel := kernelNode(n)
		if isKernel {
			if _, fwd := n.Op().(fwdOp); !fwd {
				if _, seen := firstGrad[k]; !seen {
					firstGrad[k] = i
				}
			}
		}
		for it := sub.From(n.ID()); it.Next(); {
			in := it.Node().(*gorgonia.Node)
			last[in] = max(last[in], i)
			if !isKernel {
				foreign[in] = true
			}
		}
	}
	// The values to place, with their lives.
	type value struct {
		node       *gorgonia.Node
		start, end int
		out        int // the kernel's output index
		lent       *lent
	}
	var values []value
	outs := map[Kernel]*lent{}
	p := &plan{}
	for i, n := range order {
		k, out, ok := kernelNode(n)
		if !ok {
			continue
		}
		l := outs[k]
		if l == nil {
			l = &lent{}
			if o, ok := k.(Outputs); ok {
				l.fields = o.Outputs()
				l.slots = make([]*slot, len(l.fields))
				l.shapes = make([]tensor.Shape, len(l.fields))
				l.views = make([]*tensor.Dense, len(l.fields))
				l.made = make([]int, len(l.fields))
			}
			outs[k] = l
		}
		setPlanned(n, &planned{plan: p, pos: p.nodes, out: l})
		p.nodes++
		_, read := last[n]
		if out >= len(l.fields) || l.fields[out] == nil || kept[n] || foreign[n] || !read ||
			(n.Dtype() != tensor.Float32 && n.Dtype() != tensor.Float64) {
			continue
		}
		start := i
		if out > 0 {
			start = firstGrad[k]
		}
		l.shapes[out] = n.Shape()
		values = append(values, value{node: n, start: start, end: last[n], out: out, lent: l})
	}
	sort.SliceStable(values, func(i, j int) bool { return values[i].start < values[j].start })
	busy := map[*slot]int{} // the slots in use, to the position after which each is free
	for _, v := range values {
		size := v.node.Shape().TotalSize()
		var best *slot
		for _, s := range a.slots {
			if end, inUse := busy[s]; (inUse && end >= v.start) || s.dtype != v.node.Dtype() {
				continue
			}
			switch {
			case best == nil,
				s.n >= size && (best.n < size || s.n < best.n), // a smaller one that holds it
				best.n < size && s.n > best.n:                  // a larger one, where none holds it
				best = s
			}
		}
		if best == nil {
			best = &slot{dtype: v.node.Dtype()}
			a.slots = append(a.slots, best)
		}
		best.n = max(best.n, size)
		busy[best] = v.end
		v.lent.slots[v.out] = best
	}
	return nil
}

// kernelNode returns the kernel of a node made by Apply or its gradient, and which of the
// kernel's outputs the node's value is (0 the forward's, 1+i the gradient for input i).
func kernelNode(n *gorgonia.Node) (Kernel, int, bool) {
	switch op := n.Op().(type) {
	case fwdOp:
		return op.k, 0, true
	case bwdOp:
		return op.k, 1 + op.wrt, true
	}
	return nil, 0, false
}

func setPlanned(n *gorgonia.Node, p *planned) {
	switch op := n.Op().(type) {
	case fwdOp:
		*op.plan = p
	case bwdOp:
		*op.plan = p
	}
}
