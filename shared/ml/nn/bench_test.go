package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// synthetic returns rows rows of a two-class problem with features inputs,
// shaped like HTRU2 (about 9% positives, informative features).
func synthetic(rows, inputs int, seed uint64) ([]float64, []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([]float64, rows*inputs)
	y := make([]int, rows)
	for i := range rows {
		if rng.Float64() < 0.092 {
			y[i] = 1
		}
		for j := range inputs {
			v := rng.NormFloat64()
			if y[i] == 1 && j%2 == 0 {
				v += 1.5
			}
			x[i*inputs+j] = v
		}
	}
	return x, y
}

// epochRunner trains the benchmark MLP one epoch at a time with the default
// configuration's optimizer, dropout and class weights.
type epochRunner struct {
	net   *Network
	ws    *Workspace
	opt   *Optimizer
	x     []float64
	y     []int
	perm  []int
	xb    []float64
	yb    []int
	batch int
	cw    []float64
	rng   *rand.Rand
}

func newEpochRunner(tb testing.TB, rows, batch int) *epochRunner {
	tb.Helper()
	const inputs = 8
	net, err := New(Spec{ModelType: ModelMLP, Inputs: inputs, Hidden: []int{64, 32}, Outputs: 1, Activation: ActivationReLU, Dropout: 0.1}, 1)
	if err != nil {
		tb.Fatal(err)
	}
	ws, err := NewWorkspace(net, batch)
	if err != nil {
		tb.Fatal(err)
	}
	opt, err := NewOptimizer(OptimizerConfig{Name: AdamW, WeightDecay: 1e-4}, net)
	if err != nil {
		tb.Fatal(err)
	}
	x, y := synthetic(rows, inputs, 7)
	r := &epochRunner{net: net, ws: ws, opt: opt, x: x, y: y, perm: make([]int, rows),
		xb: make([]float64, batch*inputs), yb: make([]int, batch), batch: batch,
		cw: []float64{0.55, 5.4}, rng: rand.New(rand.NewPCG(1, 2))}
	for i := range r.perm {
		r.perm[i] = i
	}
	return r
}

func (r *epochRunner) epoch(tb testing.TB) float64 {
	in := r.net.Spec.Inputs
	r.rng.Shuffle(len(r.perm), func(i, j int) { r.perm[i], r.perm[j] = r.perm[j], r.perm[i] })
	var total float64
	for lo := 0; lo < len(r.perm); lo += r.batch {
		hi := min(lo+r.batch, len(r.perm))
		rows := hi - lo
		for k, idx := range r.perm[lo:hi] {
			copy(r.xb[k*in:(k+1)*in], r.x[idx*in:(idx+1)*in])
			r.yb[k] = r.y[idx]
		}
		if _, err := r.ws.Forward(r.xb, rows, r.net.Spec.Dropout, r.rng); err != nil {
			tb.Fatal(err)
		}
		loss, err := r.ws.Loss(BinaryCrossEntropy, r.yb[:rows], r.cw)
		if err != nil {
			tb.Fatal(err)
		}
		total += loss * float64(rows)
		if err := r.opt.Step(r.net.Params(), r.ws.Backward(0), 1e-3); err != nil {
			tb.Fatal(err)
		}
	}
	return total / float64(len(r.perm))
}

// BenchmarkTrainEpoch trains one epoch of HTRU2-sized synthetic data
// (17,898 rows, 8 inputs) through an 8-64-32-1 ReLU MLP with dropout 0.1,
// AdamW, batch 128 — the configuration compared against PyTorch.
func BenchmarkTrainEpoch(b *testing.B) {
	const rows = 17898
	r := newEpochRunner(b, rows, 128)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r.epoch(b)
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
}

// TestTrainingStepAllocatesNothing checks the steady state of the training
// loop: a mini-batch step (gather, forward with dropout, loss, backward,
// AdamW step) makes no heap allocation.
func TestTrainingStepAllocatesNothing(t *testing.T) {
	r := newEpochRunner(t, 1000, 128)
	r.epoch(t) // warm up
	allocs := testing.AllocsPerRun(5, func() { r.epoch(t) })
	require.Zero(t, allocs)
}

// TestEpochsLearnAndRepeat checks that training lowers the loss on the
// synthetic problem and that two runs from the same seeds are bit-identical.
func TestEpochsLearnAndRepeat(t *testing.T) {
	run := func() ([]float64, []float64) {
		r := newEpochRunner(t, 2000, 128)
		var losses []float64
		for range 5 {
			losses = append(losses, r.epoch(t))
		}
		return losses, r.net.Params()
	}
	l1, p1 := run()
	l2, p2 := run()
	require.Equal(t, p1, p2)
	require.Equal(t, l1, l2)
	require.Less(t, l1[4], 0.7*l1[0], "losses %v", l1)
}
