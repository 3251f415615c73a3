package nn

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/nn/internal/sgemm"
	"github.com/orrery-ml/orrery/shared/ml/nn/internal/team"
)

// threadCase is one training run of the float32 engine whose parameters
// must not depend on the thread count.
type threadCase struct {
	name    string
	spec    Spec
	loss    Loss
	batch   int
	last    int // rows of the run's last, short batch
	steps   int
	l2      float64
	weights bool // sample weights
}

var threadCases = []threadCase{
	// The benchmark's small network and batch.
	{name: "8-64-64-1/relu", spec: Spec{ModelType: ModelMLP, Inputs: 8, Hidden: []int{64, 64}, Outputs: 1,
		Activation: ActivationReLU}, loss: BinaryCrossEntropy, batch: 256, last: 256, steps: 4},
	// Wide layers (K blocks of the input products), dropout, L2 and a short
	// last batch that is not a multiple of any tile.
	{name: "10-256-256-1/relu/dropout", spec: Spec{ModelType: ModelMLP, Inputs: 10, Hidden: []int{256, 256}, Outputs: 1,
		Activation: ActivationReLU, Dropout: 0.1}, loss: BinaryCrossEntropy, batch: 300, last: 77, steps: 3, l2: 1e-3},
	// Odd widths, another activation, softmax outputs, sample weights.
	{name: "11-37-19-3/tanh/softmax", spec: Spec{ModelType: ModelMLP, Inputs: 11, Hidden: []int{37, 19}, Outputs: 3,
		Activation: ActivationTanh, Dropout: 0.2}, loss: CrossEntropy, batch: 200, last: 45, steps: 3, weights: true},
	// The HTRU2 default model.
	{name: "8-64-32-1/relu/dropout", spec: Spec{ModelType: ModelMLP, Inputs: 8, Hidden: []int{64, 32}, Outputs: 1,
		Activation: ActivationReLU, Dropout: 0.1}, loss: BinaryCrossEntropy, batch: 128, last: 128, steps: 3},
}

// goldenThreads holds, per float32 micro-kernel, the SHA-256 of every
// case's parameters and losses as the single-threaded engine computed them
// before the worker pool existed: the pool must not change a bit of them.
// The key is GOARCH and the kernel: the Go kernel's rounding depends on
// whether the compiler fuses multiply-adds, which it does on arm64 and not
// on amd64. AVX2 and AVX-512 sum in the same order with FMA, so their
// records agree.
var goldenThreads = map[string]map[string]string{
	"amd64 avx512 8x32": goldenFMA,
	"amd64 avx2 6x16":   goldenFMA,
	"amd64 go 6x16": {
		"8-64-64-1/relu":            "cc358401f34a34fa948497f378a6452bd670059c508b61a826ae357a11bcfdfa",
		"10-256-256-1/relu/dropout": "aa845543f1dd4cb99d6ee6efed2680f189f1492dcc9971420096849f58498f0d",
		"11-37-19-3/tanh/softmax":   "aca8768df82d28daab5fa20a6881c108d0c0beb5b4711bb2368bbfe6e56a53ab",
		"8-64-32-1/relu/dropout":    "7dbe670c9441a6a23c374f531d5e126b92d451c0ca418d06aefb7a51ccbe906f",
	},
}

var goldenFMA = map[string]string{
	"8-64-64-1/relu":            "8ec949c8f82832b65c1a53f2b9de30278997349afc4e09fa214caa2024535c3d",
	"10-256-256-1/relu/dropout": "0e62e3203bf82ba8081d1a0e667f906853d819fa5e4621e0211a4e320e305dec",
	"11-37-19-3/tanh/softmax":   "b93bacabaef300ead3b92b9806d3933c241476815aaa8d470101b30fdfb87217",
	"8-64-32-1/relu/dropout":    "76efb769a727d3496c6efe143cb9cfcd213a2474065cb48d3d41e7e6462d6f9f",
}

// run trains c for its steps with threads threads and returns the SHA-256
// of the final parameters and every step's loss.
func (c threadCase) run(t *testing.T, threads int) string {
	t.Helper()
	net, err := New(c.spec, 5)
	require.NoError(t, err)
	ws, err := NewWorkspaceWith(net, c.batch, WorkspaceOptions{Precision: PrecisionFloat32, Threads: threads})
	require.NoError(t, err)
	opt, err := NewOptimizer(OptimizerConfig{Name: Adam}, net)
	require.NoError(t, err)
	x, y := synthetic(c.batch, c.spec.Inputs, 11)
	for i := range y {
		y[i] = (y[i] + i) % c.spec.Classes()
	}
	var sw []float64
	if c.weights {
		sw = make([]float64, c.batch)
		for i := range sw {
			sw[i] = 0.5 + float64(i%7)/4
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	h := sha256.New()
	var b [8]byte
	for s := range c.steps {
		rows := c.batch
		if s == c.steps-1 {
			rows = c.last
		}
		_, err := ws.Forward(x, rows, c.spec.Dropout, rng)
		require.NoError(t, err)
		_, nr := sgemm.Tile()
		require.Equal(t, min(threads, (rows+nr-1)/nr), ws.f32.workers, "goroutines for %d rows", rows)
		var w []float64
		if sw != nil {
			w = sw[:rows]
		}
		loss, err := ws.WeightedLoss(c.loss, y[:rows], nil, w)
		require.NoError(t, err)
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(loss))
		h.Write(b[:])
		require.NoError(t, opt.Step(net.Params(), ws.Backward(c.l2), 1e-2))
	}
	for _, p := range net.Params() {
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(p))
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestFloat32ThreadsBitIdentical trains each case with 1 to 4 threads,
// twice each, every step split into as many parts as it has threads
// (GOMAXPROCS 4, no work threshold): every run must give the same
// parameters and losses, and those of 1 thread must be the ones recorded
// before the worker pool (goldenThreads, where this CPU's kernel has a
// record).
func TestFloat32ThreadsBitIdentical(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	defer func(v int) { parallelMACs = v }(parallelMACs)
	parallelMACs = 1
	kernel := runtime.GOARCH + " " + Float32Kernel()
	golden := goldenThreads[kernel]
	for _, c := range threadCases {
		t.Run(c.name, func(t *testing.T) {
			want := c.run(t, 1)
			t.Logf("%s %s: %s", kernel, c.name, want)
			if g, ok := golden[c.name]; ok {
				require.Equal(t, g, want, "1 thread differs from the engine before the worker pool")
			}
			for _, threads := range []int{1, 2, 3, 4} {
				for run := range 2 {
					require.Equal(t, want, c.run(t, threads), fmt.Sprintf("%d threads, run %d", threads, run))
				}
			}
		})
	}
}

// TestWorkspaceReleasesItsTeam checks that the team's goroutines end once
// a split workspace is unreachable (there is no Close to forget).
func TestWorkspaceReleasesItsTeam(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	defer func(v int) { parallelMACs = v }(parallelMACs)
	parallelMACs = 1
	tm := func() *team.Team {
		c := threadCases[0]
		net, err := New(c.spec, 1)
		require.NoError(t, err)
		ws, err := NewWorkspaceWith(net, c.batch, WorkspaceOptions{Precision: PrecisionFloat32, Threads: 2})
		require.NoError(t, err)
		x, _ := synthetic(c.batch, c.spec.Inputs, 1)
		_, err = ws.Forward(x, c.batch, 0, nil)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return ws.f32.team.Running() == 1 }, time.Minute, time.Millisecond)
		return ws.f32.team
	}()
	require.Eventually(t, func() bool { runtime.GC(); return tm.Running() == 0 }, time.Minute, 10*time.Millisecond)
}

// TestStepSplitsOnlyWhenItPays checks the threshold: the HTRU2 default
// model at batch 128 stays on one goroutine, the benchmark's networks at
// batch 256 split, and GOMAXPROCS 1 never splits.
func TestStepSplitsOnlyWhenItPays(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for _, c := range []struct {
		hidden      []int
		batch, rows int
		procs, want int
		inputs      int
	}{
		{hidden: []int{64, 32}, batch: 128, rows: 128, procs: 2, want: 1, inputs: 8},
		{hidden: []int{64, 64}, batch: 256, rows: 256, procs: 2, want: 2, inputs: 8},
		{hidden: []int{64, 64}, batch: 256, rows: 64, procs: 2, want: 1, inputs: 8},
		{hidden: []int{256, 256}, batch: 256, rows: 256, procs: 2, want: 2, inputs: 10},
		{hidden: []int{256, 256}, batch: 256, rows: 256, procs: 1, want: 1, inputs: 10},
	} {
		runtime.GOMAXPROCS(c.procs)
		net, err := New(Spec{ModelType: ModelMLP, Inputs: c.inputs, Hidden: c.hidden, Outputs: 1, Activation: ActivationReLU}, 1)
		require.NoError(t, err)
		ws, err := NewWorkspaceWith(net, c.batch, WorkspaceOptions{Precision: PrecisionFloat32, Threads: 2})
		require.NoError(t, err)
		x, _ := synthetic(c.rows, c.inputs, 1)
		_, err = ws.Forward(x, c.rows, 0, nil)
		require.NoError(t, err)
		require.Equal(t, c.want, ws.f32.workers, "%v batch %d rows %d GOMAXPROCS %d", c.hidden, c.batch, c.rows, c.procs)
	}
}
