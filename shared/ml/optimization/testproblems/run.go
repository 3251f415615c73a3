package testproblems

import (
	"context"
	"fmt"
	"math"

	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/store"
)

// Space returns the problem's box as a space of float dimensions x0, x1, ...
func (p Problem) Space() optimization.Space {
	var s optimization.Space
	for i := range p.Low {
		s.Dimensions = append(s.Dimensions, optimization.Dimension{Name: fmt.Sprintf("x%d", i),
			Kind: optimization.Float, Low: p.Low[i], High: p.High[i]})
	}
	return s
}

// Point reads a problem's coordinates from params.
func (p Problem) Point(params optimization.Params) []float64 {
	x := make([]float64, p.Dim())
	for i := range x {
		x[i], _ = params.Float(fmt.Sprintf("x%d", i))
	}
	return x
}

// Minimize runs evals sequential ask/tell steps of sampler on p and returns
// the best-so-far regret (best value − known minimum) after each evaluation.
func Minimize(ctx context.Context, p Problem, sampler optimization.Sampler, evals int, seed uint64) ([]float64, error) {
	st := &optimization.Study{ID: p.Name, Space: p.Space(), Directions: []optimization.Direction{optimization.Minimize}, Seed: seed}
	regret := make([]float64, 0, evals)
	best := math.Inf(1)
	for range evals {
		ts, err := st.Ask(ctx, sampler, 1)
		if err != nil {
			return nil, err
		}
		v := p.F(p.Point(ts[0].Params))
		if err := st.Tell(ts[0].Number, store.TrialComplete, []float64{v}); err != nil {
			return nil, err
		}
		best = math.Min(best, v)
		regret = append(regret, best-p.Min)
	}
	return regret, nil
}
