package optimization_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/optimization/testproblems"
	"github.com/orrery-ml/orrery/shared/store"
)

// BenchmarkBayesianSuggest200 times one suggestion with 200 completed
// trials on Hartmann-6 (the bar is 50 ms).
func BenchmarkBayesianSuggest200(b *testing.B) {
	p := testproblems.Hartmann6()
	st := &optimization.Study{ID: "b", Space: p.Space(), Directions: []optimization.Direction{optimization.Minimize}, Seed: 1}
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range 200 {
		params := optimization.Params{}
		for j := range p.Dim() {
			params[fmt.Sprintf("x%d", j)] = rng.Float64()
		}
		st.Trials = append(st.Trials, optimization.Trial{Number: i, Params: params, State: store.TrialComplete,
			Values: []float64{p.F(p.Point(params))}})
	}
	for b.Loop() {
		if _, err := st.Ask(b.Context(), optimization.BayesianOptimizer{}, 1); err != nil {
			b.Fatal(err)
		}
		st.Trials = st.Trials[:200]
	}
}
