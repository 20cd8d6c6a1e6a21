package model

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// bnRun is one BatchNorm training step over x [n,3,2,3] with cost = sum(y * r): it returns
// y, dx, dg, db and the running statistics after it.
func bnRun(t *testing.T, x, r []float64, n int, sum func([]float64) error) (y, dx, dg, db, runMean, runVar []float64) {
	g := G.NewGraph()
	shape := []int{n, 3, 2, 3}
	xn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(shape...), G.WithName("x"), G.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(slices.Clone(x)))))
	gn := G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("g"), G.WithValue(tensor.New(tensor.WithBacking([]float64{1.5, 0.5, -1}))))
	bn := G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("b"), G.WithValue(tensor.New(tensor.WithBacking([]float64{0.1, 0.2, 0.3}))))
	rn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(shape...), G.WithName("r"), G.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(slices.Clone(r)))))
	mean, variance := tensor.New(tensor.WithBacking([]float64{0, 1, 2})), tensor.New(tensor.WithBacking([]float64{1, 2, 3}))
	out := G.Must(batchNorm(xn, gn, bn, mean, variance, true, false, false, 0.1, 1e-5, sum))
	cost := G.Must(G.Sum(G.Must(G.HadamardProd(out, rn))))
	grads, err := G.Grad(cost, xn, gn, bn)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	data := func(n *G.Node) []float64 { return slices.Clone(n.Value().Data().([]float64)) }
	return data(out), data(grads[0]), data(grads[1]), data(grads[2]), mean.Data().([]float64), variance.Data().([]float64)
}

// replicas is a sync BN's sum over two replicas in goroutines: each sends its buffer to
// the other and adds the other's.
type replicas struct{ to [2]chan []float64 }

func (p *replicas) sum(me int) func([]float64) error {
	return func(buf []float64) error {
		p.to[1-me] <- slices.Clone(buf)
		other := <-p.to[me]
		for i := range buf {
			buf[i] += other[i]
		}
		return nil
	}
}

// Sync BN over two replicas of half a batch each is BatchNorm over the whole batch: the
// outputs, dx, the summed dg and db (each replica's share of them is half), and the running
// statistics; and a sync over one replica is the plain op, bit for bit.
func TestSyncBatchNormIsTheWholeBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, half = 4, 4 * 3 * 2 * 3 / 2
	x, r := make([]float64, 2*half), make([]float64, 2*half)
	for i := range x {
		x[i], r[i] = 3*rng.NormFloat64()+1, rng.NormFloat64()
	}
	y, dx, dg, db, rm, rv := bnRun(t, x, r, n, nil)

	alone := func([]float64) error { return nil }
	y1, dx1, dg1, db1, rm1, rv1 := bnRun(t, x, r, n, alone)
	for name, pair := range map[string][2][]float64{"y": {y, y1}, "dx": {dx, dx1}, "dg": {dg, dg1}, "db": {db, db1}, "running mean": {rm, rm1}, "running var": {rv, rv1}} {
		if !slices.Equal(pair[0], pair[1]) {
			t.Errorf("sync over one replica: %s differs from the plain op's", name)
		}
	}

	p := &replicas{to: [2]chan []float64{make(chan []float64, 1), make(chan []float64, 1)}}
	type result struct{ y, dx, dg, db, rm, rv []float64 }
	var res [2]result
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lo, hi := i*half, (i+1)*half
			a, b, c, d, e, f := bnRun(t, x[lo:hi], r[lo:hi], n/2, p.sum(i))
			res[i] = result{a, b, c, d, e, f}
		}()
	}
	wg.Wait()
	near := func(name string, got, want []float64) {
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-12*math.Max(1, math.Abs(want[i])) {
				t.Errorf("%s[%d] = %v, the whole batch's %v", name, i, got[i], want[i])
				return
			}
		}
	}
	near("y", append(res[0].y, res[1].y...), y)
	near("dx", append(res[0].dx, res[1].dx...), dx)
	for c := range 3 {
		near("dg", []float64{res[0].dg[c] + res[1].dg[c]}, dg[c:c+1])
		near("db", []float64{res[0].db[c] + res[1].db[c]}, db[c:c+1])
		if res[0].dg[c] != res[1].dg[c] || res[0].db[c] != res[1].db[c] {
			t.Errorf("channel %d: the replicas' shares of dg and db differ", c)
		}
	}
	for i := range 2 {
		near("running mean", res[i].rm, rm)
		near("running var", res[i].rv, rv)
	}
}
