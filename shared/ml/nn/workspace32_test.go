package nn

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFloat32MatchesFloat64 runs the same steps through a float32 and a
// float64 workspace, for every activation, both losses, dropout (the same
// masks: both engines draw them alike) and L2, with layers wider than one
// GEMM tile: logits, losses and gradients must agree to float32 rounding.
func TestFloat32MatchesFloat64(t *testing.T) {
	for _, act := range []string{ActivationReLU, ActivationTanh, ActivationGELU, ActivationSigmoid} {
		for _, loss := range []Loss{BinaryCrossEntropy, CrossEntropy} {
			for _, dropout := range []float64{0, 0.3} {
				t.Run(fmt.Sprintf("%s/%s/dropout=%v", act, loss, dropout), func(t *testing.T) {
					out, cw := 1, []float64{0.7, 2.5}
					if loss == CrossEntropy {
						out, cw = 3, []float64{0.5, 1.5, 2}
					}
					spec := Spec{ModelType: ModelMLP, Inputs: 10, Hidden: []int{37, 20}, Outputs: out, Activation: act, Dropout: dropout}
					net, err := New(spec, 3)
					require.NoError(t, err)
					rows := 45
					rng := rand.New(rand.NewPCG(1, 1))
					x := make([]float64, rows*spec.Inputs)
					for i := range x {
						x[i] = rng.NormFloat64()
					}
					y := make([]int, rows)
					for i := range y {
						y[i] = rng.IntN(spec.Classes())
					}
					ws64, err := NewWorkspace(net, 64)
					require.NoError(t, err)
					ws32, err := NewWorkspaceWith(net, 64, WorkspaceOptions{Precision: PrecisionFloat32, Threads: 2})
					require.NoError(t, err)
					require.Equal(t, PrecisionFloat32, ws32.Precision())
					require.Equal(t, PrecisionFloat64, ws64.Precision())

					l64, err := ws64.Forward(x, rows, dropout, rand.New(rand.NewPCG(5, 5)))
					require.NoError(t, err)
					l64 = append([]float64(nil), l64...)
					l32, err := ws32.Forward(x, rows, dropout, rand.New(rand.NewPCG(5, 5)))
					require.NoError(t, err)
					for i := range l64 {
						require.InDelta(t, l64[i], l32[i], 1e-4*(1+math.Abs(l64[i])), "logit %d", i)
					}
					loss64, err := ws64.Loss(loss, y, cw)
					require.NoError(t, err)
					loss32, err := ws32.Loss(loss, y, cw)
					require.NoError(t, err)
					assert.InDelta(t, loss64, loss32, 1e-4*(1+loss64))
					g64 := append([]float64(nil), ws64.Backward(0.2)...)
					g32 := ws32.Backward(0.2)
					var scale float64
					for _, v := range g64 {
						scale = max(scale, math.Abs(v))
					}
					for i := range g64 {
						require.InDelta(t, g64[i], g32[i], 1e-4*scale, "gradient %d", i)
					}
				})
			}
		}
	}
}

// TestFloat32ThreadsAgree checks that a float32 training run is
// bit-identical with 1 and 3 threads (each output of a product is computed
// by one goroutine in a fixed order) and that it learns.
func TestFloat32ThreadsAgree(t *testing.T) {
	run := func(threads int) ([]float64, []float64) {
		spec := Spec{ModelType: ModelMLP, Inputs: 8, Hidden: []int{64, 64}, Outputs: 1, Activation: ActivationReLU, Dropout: 0.1}
		net, err := New(spec, 1)
		require.NoError(t, err)
		ws, err := NewWorkspaceWith(net, 256, WorkspaceOptions{Precision: PrecisionFloat32, Threads: threads})
		require.NoError(t, err)
		opt, err := NewOptimizer(OptimizerConfig{Name: Adam}, net)
		require.NoError(t, err)
		x, y := synthetic(4096, 8, 7)
		rng := rand.New(rand.NewPCG(1, 2))
		var losses []float64
		for range 4 {
			var total float64
			for lo := 0; lo < len(y); lo += 256 {
				_, err := ws.Forward(x[lo*8:(lo+256)*8], 256, 0.1, rng)
				require.NoError(t, err)
				l, err := ws.Loss(BinaryCrossEntropy, y[lo:lo+256], nil)
				require.NoError(t, err)
				total += l
				require.NoError(t, opt.Step(net.Params(), ws.Backward(0), 1e-3))
			}
			losses = append(losses, total/16)
		}
		return losses, net.Params()
	}
	l1, p1 := run(1)
	l3, p3 := run(3)
	require.Equal(t, p1, p3)
	require.Equal(t, l1, l3)
	require.Less(t, l1[3], 0.8*l1[0], "losses %v", l1)
}

func TestNewWorkspaceWithRejects(t *testing.T) {
	net, err := New(Spec{ModelType: ModelMLP, Inputs: 2, Hidden: []int{3}, Outputs: 1, Activation: ActivationReLU}, 1)
	require.NoError(t, err)
	_, err = NewWorkspaceWith(net, 8, WorkspaceOptions{Precision: "float16"})
	require.ErrorContains(t, err, `precision "float16"`)
	_, err = NewWorkspaceWith(net, 8, WorkspaceOptions{Precision: PrecisionFloat32, Threads: -1})
	require.ErrorContains(t, err, "-1 threads")
	_, err = NewWorkspaceWith(net, 0, WorkspaceOptions{Precision: PrecisionFloat32})
	require.Error(t, err)
	// More threads than a team takes are bounded, not refused.
	ws, err := NewWorkspaceWith(net, 32*maxThreads, WorkspaceOptions{Precision: PrecisionFloat32, Threads: 1 << 20})
	require.NoError(t, err)
	require.Equal(t, maxThreads, ws.f32.team.Size())
}

// TestFloat32StepAllocatesNothing checks the steady state of a float32
// training step, single-threaded and split in two parts.
func TestFloat32StepAllocatesNothing(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	defer func(v int) { parallelMACs = v }(parallelMACs)
	parallelMACs = 1
	for _, threads := range []int{1, 2} {
		float32StepAllocatesNothing(t, threads)
	}
}

func float32StepAllocatesNothing(t *testing.T, threads int) {
	net, err := New(Spec{ModelType: ModelMLP, Inputs: 8, Hidden: []int{64, 32}, Outputs: 1, Activation: ActivationReLU, Dropout: 0.1}, 1)
	require.NoError(t, err)
	ws, err := NewWorkspaceWith(net, 128, WorkspaceOptions{Precision: PrecisionFloat32, Threads: threads})
	require.NoError(t, err)
	opt, err := NewOptimizer(OptimizerConfig{Name: AdamW, WeightDecay: 1e-4}, net)
	require.NoError(t, err)
	x, y := synthetic(128, 8, 3)
	rng := rand.New(rand.NewPCG(1, 2))
	step := func() {
		_, err := ws.Forward(x, 128, 0.1, rng)
		require.NoError(t, err)
		_, err = ws.Loss(BinaryCrossEntropy, y, []float64{0.55, 5.4})
		require.NoError(t, err)
		require.NoError(t, opt.Step(net.Params(), ws.Backward(0), 1e-3))
	}
	step()
	require.Equal(t, threads, ws.f32.workers)
	require.Zero(t, testing.AllocsPerRun(10, step), "%d threads", threads)
}

var (
	benchSpin      = flag.Duration("nn.spin", 0, "BenchmarkTrainStepFloat32: the team's spin before parking (0: the default)")
	benchSplitMACs = flag.Int("nn.split", 0, "BenchmarkTrainStepFloat32: multiply-adds per goroutine for a split step (0: the default)")
)

// BenchmarkTrainStepFloat32 is one Adam step of the architectures `make
// bench` compares with PyTorch, with 1 and 2 threads. Besides samples/s of
// wall time it reports cpu-samples/s, the rate per second of CPU time the
// process used: on a loaded machine that one measures the code rather than
// the scheduler (with 2 threads it measures efficiency, not speed-up).
func BenchmarkTrainStepFloat32(b *testing.B) {
	defer func(s time.Duration, m int) { teamSpin, parallelMACs = s, m }(teamSpin, parallelMACs)
	teamSpin = *benchSpin
	if *benchSplitMACs > 0 {
		parallelMACs = *benchSplitMACs
	}
	for _, c := range []struct {
		in     int
		hidden []int
		batch  int
	}{{8, []int{64, 64}, 256}, {8, []int{64, 64}, 1024}, {10, []int{256, 256}, 256}, {10, []int{256, 256}, 1024},
		{8, []int{64, 32}, 128}, {8, []int{64, 64}, 64}, {8, []int{32}, 256}} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%d-%v-batch%d-t%d", c.in, c.hidden, c.batch, threads), func(b *testing.B) {
				net, err := New(Spec{ModelType: ModelMLP, Inputs: c.in, Hidden: c.hidden, Outputs: 1, Activation: ActivationReLU}, 1)
				require.NoError(b, err)
				ws, err := NewWorkspaceWith(net, c.batch, WorkspaceOptions{Precision: PrecisionFloat32, Threads: threads})
				require.NoError(b, err)
				opt, err := NewOptimizer(OptimizerConfig{Name: Adam}, net)
				require.NoError(b, err)
				x, y := synthetic(c.batch, c.in, 3)
				cpu0 := processCPU()
				for b.Loop() {
					_, _ = ws.Forward(x, c.batch, 0, nil)
					_, _ = ws.Loss(BinaryCrossEntropy, y, nil)
					_ = opt.Step(net.Params(), ws.Backward(0), 1e-3)
				}
				samples := float64(c.batch * b.N)
				b.ReportMetric(samples/b.Elapsed().Seconds(), "samples/s")
				if cpu := processCPU() - cpu0; cpu > 0 {
					b.ReportMetric(samples/cpu, "cpu-samples/s")
				}
			})
		}
	}
}
