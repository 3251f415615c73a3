package optimization_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/optimization/testproblems"
	"github.com/orrery-ml/orrery/shared/store"
)

// hartmannStudy is a Hartmann-6 study with n completed random trials.
func hartmannStudy(n int) *optimization.Study {
	p := testproblems.Hartmann6()
	st := &optimization.Study{ID: "b", Space: p.Space(), Directions: []optimization.Direction{optimization.Minimize}, Seed: 1}
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range n {
		params := optimization.Params{}
		for j := range p.Dim() {
			params[fmt.Sprintf("x%d", j)] = rng.Float64()
		}
		st.Trials = append(st.Trials, optimization.Trial{Number: i, Params: params, State: store.TrialComplete,
			Values: []float64{p.F(p.Point(params))}})
	}
	return st
}

// BenchmarkBayesianSuggest200 times one suggestion with 200 completed
// trials on Hartmann-6, the same trials each time (the bar is
// 10 ms).
func BenchmarkBayesianSuggest200(b *testing.B) {
	st := hartmannStudy(200)
	for b.Loop() {
		if _, err := st.Ask(b.Context(), optimization.BayesianOptimizer{}, 1); err != nil {
			b.Fatal(err)
		}
		st.Trials = st.Trials[:200]
	}
}

// BenchmarkBayesianAskTell times the ask/tell loop from 200 and 1,000
// completed trials: each iteration completes the suggested trial and asks
// again, so the posterior is extended by one trial and the hyperparameters
// are refitted on their schedule (the bars are 10 ms and 100 ms).
func BenchmarkBayesianAskTell(b *testing.B) {
	p := testproblems.Hartmann6()
	for _, n := range []int{200, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			st := hartmannStudy(n)
			if _, err := st.Ask(b.Context(), optimization.BayesianOptimizer{}, 1); err != nil {
				b.Fatal(err)
			}
			c0 := processCPU()
			defer func() { b.ReportMetric((processCPU()-c0)/float64(b.N), "cpu-ns/op") }()
			for b.Loop() {
				last := &st.Trials[len(st.Trials)-1]
				last.State, last.Values = store.TrialComplete, []float64{p.F(p.Point(last.Params))}
				if _, err := st.Ask(b.Context(), optimization.BayesianOptimizer{}, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBayesianAskFromJSON times the same loop's ask on a study read
// back from JSON (a Step Functions step): the posterior is refactored from
// scratch, the hyperparameters still refitted on their schedule.
func BenchmarkBayesianAskFromJSON(b *testing.B) {
	p := testproblems.Hartmann6()
	for _, n := range []int{200, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			st := hartmannStudy(n)
			if _, err := st.Ask(b.Context(), optimization.BayesianOptimizer{}, 1); err != nil {
				b.Fatal(err)
			}
			c0 := processCPU()
			defer func() { b.ReportMetric((processCPU()-c0)/float64(b.N), "cpu-ns/op") }()
			for b.Loop() {
				last := &st.Trials[len(st.Trials)-1]
				last.State, last.Values = store.TrialComplete, []float64{p.F(p.Point(last.Params))}
				blob, err := json.Marshal(st)
				if err != nil {
					b.Fatal(err)
				}
				st = &optimization.Study{}
				if err := json.Unmarshal(blob, st); err != nil {
					b.Fatal(err)
				}
				if _, err := st.Ask(b.Context(), optimization.BayesianOptimizer{}, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// processCPU is this process's user and system CPU time in nanoseconds:
// on a shared machine it is less inflated than wall time.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano() + ru.Stime.Nano())
}
