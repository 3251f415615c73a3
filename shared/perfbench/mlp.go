package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/orrery-ml/orrery/shared/ml/nn"
)

// mlpCase is one architecture and batch size of the MLP comparison.
type mlpCase struct {
	inputs int
	hidden []int
	batch  int
	goal   float64
}

func (c mlpCase) name() string {
	w := []string{itoa(c.inputs)}
	for _, h := range c.hidden {
		w = append(w, itoa(h))
	}
	return strings.Join(append(w, "1"), "-")
}

var mlpCases = []mlpCase{
	{8, []int{64, 64}, 256, 1.5},
	{8, []int{64, 64}, 1024, 1.5},
	{10, []int{256, 256}, 256, 1.0},
	{10, []int{256, 256}, 1024, 1.0},
}

// benchMLP trains each case on both sides with 1 and 2 threads: the same
// float32 data, ReLU, Adam (lr 1e-3), BCE with logits, the full batches of
// shuffled epochs; 20 untimed warm-up steps, then steps for MLPSeconds
// (a time budget rather than a step count, so that a slow side cannot
// stretch the run).
func benchMLP(ctx context.Context, s settings) ([]Row, error) {
	type pending struct {
		name    string
		ours    float64
		oursCPU float64
		goal    float64
	}
	var done []pending
	var args []string
	for _, c := range mlpCases {
		x, y, xp, yp, err := mlpData(s.Dir, s.MLPRows, c.inputs)
		if err != nil {
			return nil, err
		}
		hidden := make([]string, len(c.hidden))
		for i, h := range c.hidden {
			hidden[i] = itoa(h)
		}
		for _, threads := range s.Threads {
			ours, oursCPU, err := goMLP(c, x, y, s.MLPSeconds, threads)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.name(), err)
			}
			done = append(done, pending{fmt.Sprintf("%s batch %d, %d thread(s)", c.name(), c.batch, threads), ours, oursCPU, c.goal})
			args = append(args, xp, yp, itoa(c.inputs), strings.Join(hidden, ","), itoa(c.batch),
				fmt.Sprint(s.MLPSeconds.Seconds()), itoa(threads))
		}
	}
	// All of the peer's cases in one process: torch is imported once. Its
	// thread count is set per case by torch.set_num_threads.
	ps, err := peerLines(ctx, s.PyTorch, s.Peers, nil, append([]string{"mlp"}, args...)...)
	if err != nil {
		return nil, err
	}
	if len(ps) != len(done) {
		return nil, fmt.Errorf("peer gave %d results for %d cases", len(ps), len(done))
	}
	rows := make([]Row, 0, 2*len(done))
	for i, d := range done {
		rows = append(rows, newRow("mlp", d.name, "samples/s", d.ours, num(ps[i], "samples_per_s"), d.goal, str(ps[i], "peer"), "Adam, float32 data"))
	}
	// The same runs per second of CPU time each process used: on a loaded
	// machine wall time measures the scheduler (and OpenMP's spin-waits)
	// more than the code; with 1 thread this is the figure an idle machine
	// would give, with 2 it is efficiency, not speed-up. No goal: the
	// wall-time rows above carry it.
	for i, d := range done {
		if cpu := num(ps[i], "cpu_samples_per_s"); cpu > 0 && d.oursCPU > 0 {
			rows = append(rows, newRow("mlp-cpu", d.name, "samples/s", d.oursCPU, cpu, 0, str(ps[i], "peer"), "per CPU-second"))
		}
	}
	return rows, nil
}

// goMLP returns our training throughput in samples per second of wall
// time and per second of the process's CPU time.
func goMLP(c mlpCase, x []float32, y []uint8, budget time.Duration, threads int) (float64, float64, error) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
	n := len(y)
	spec := nn.Spec{ModelType: nn.ModelMLP, Inputs: c.inputs, Hidden: c.hidden, Outputs: 1, Activation: nn.ActivationReLU}
	net, err := nn.New(spec, 1)
	if err != nil {
		return 0, 0, err
	}
	ws, err := nn.NewWorkspaceWith(net, c.batch, nn.WorkspaceOptions{Precision: nn.PrecisionFloat32, Threads: threads})
	if err != nil {
		return 0, 0, err
	}
	opt, err := nn.NewOptimizer(nn.OptimizerConfig{Name: nn.Adam}, net)
	if err != nil {
		return 0, 0, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	perm := rng.Perm(n)
	xb := make([]float64, c.batch*c.inputs)
	yb := make([]int, c.batch)
	lo := n // start with a shuffle
	step := func() error {
		if lo+c.batch > n {
			rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			lo = 0
		}
		for k, idx := range perm[lo : lo+c.batch] {
			for j := range c.inputs {
				xb[k*c.inputs+j] = float64(x[idx*c.inputs+j])
			}
			yb[k] = int(y[idx])
		}
		lo += c.batch
		if _, err := ws.Forward(xb, c.batch, 0, nil); err != nil {
			return err
		}
		if _, err := ws.Loss(nn.BinaryCrossEntropy, yb, nil); err != nil {
			return err
		}
		return opt.Step(net.Params(), ws.Backward(0), 1e-3)
	}
	for range 20 { // warm-up
		if err := step(); err != nil {
			return 0, 0, err
		}
	}
	steps, start, cpu0 := 0, time.Now(), processCPU()
	for {
		if err := step(); err != nil {
			return 0, 0, err
		}
		steps++
		if el := time.Since(start); el >= budget {
			samples := float64(steps * c.batch)
			var perCPU float64
			if cpu := processCPU() - cpu0; cpu > 0 {
				perCPU = samples / cpu
			}
			return samples / el.Seconds(), perCPU, nil
		}
	}
}

// processCPU returns the user and system CPU time of this process, in
// seconds (0 where getrusage is not available).
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
