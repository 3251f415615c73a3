package optimization_test

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/optimization/testproblems"
	"github.com/orrery-ml/orrery/shared/store"
)

func mixedSpace() optimization.Space {
	return optimization.Space{Dimensions: []optimization.Dimension{
		{Name: "x", Kind: optimization.Float, Low: -2, High: 2},
		{Name: "lr", Kind: optimization.Float, Low: 1e-4, High: 1, Log: true},
		{Name: "n", Kind: optimization.Int, Low: 1, High: 4},
		{Name: "act", Kind: optimization.Categorical, Choices: []any{"relu", "tanh", "gelu"}},
	}}
}

// mixedLoss has its minimum at x=0.5, lr=0.01, n=3, act=tanh.
func mixedLoss(p optimization.Params) float64 {
	x, _ := p.Float("x")
	lr, _ := p.Float("lr")
	n, _ := p.Int("n")
	act, _ := p.String("act")
	v := (x-0.5)*(x-0.5) + math.Pow(math.Log10(lr)+2, 2) + 0.3*math.Abs(float64(n-3))
	if act != "tanh" {
		v += 0.5
	}
	return v
}

func TestSamplersAreDeterministicAndNeverRepeat(t *testing.T) {
	samplers := map[string]optimization.Sampler{
		"random":   optimization.RandomSearchOptimizer{},
		"sobol":    optimization.RandomSearchOptimizer{Sobol: true},
		"grid":     optimization.GridSearchOptimizer{Shuffle: true},
		"bayesian": optimization.BayesianOptimizer{InitialTrials: 5},
	}
	for name, s := range samplers {
		t.Run(name, func(t *testing.T) {
			run := func() []string {
				st := &optimization.Study{ID: "s", Space: mixedSpace(), Directions: []optimization.Direction{optimization.Minimize}, Seed: 7}
				var keys []string
				for range 4 {
					// Batches of 3 with the previous batch still pending.
					ts, err := st.Ask(t.Context(), s, 3)
					require.NoError(t, err)
					require.Len(t, ts, 3)
					for _, tr := range ts {
						keys = append(keys, tr.Params.Key())
						_, err := st.Space.Normalize(tr.Params)
						require.NoError(t, err)
						require.NoError(t, st.Tell(tr.Number, store.TrialComplete, []float64{mixedLoss(tr.Params)}))
					}
				}
				return keys
			}
			a, b := run(), run()
			assert.Equal(t, a, b, "same seed, same suggestions")
			seen := map[string]bool{}
			for _, k := range a {
				assert.False(t, seen[k], "suggested twice: %s", k)
				seen[k] = true
			}
		})
	}
}

func TestGridIsExhausted(t *testing.T) {
	sp := optimization.Space{Dimensions: []optimization.Dimension{
		{Name: "a", Kind: optimization.Categorical, Choices: []any{"x", "y"}},
		{Name: "b", Kind: optimization.Int, Low: 1, High: 3},
	}}
	st := &optimization.Study{ID: "g", Space: sp, Directions: []optimization.Direction{optimization.Minimize}}
	ts, err := st.Ask(t.Context(), optimization.GridSearchOptimizer{}, 4)
	require.NoError(t, err)
	require.Len(t, ts, 4)
	ts, err = st.Ask(t.Context(), optimization.GridSearchOptimizer{}, 4)
	require.NoError(t, err)
	require.Len(t, ts, 2, "only 6 grid points")
	_, err = st.Ask(t.Context(), optimization.GridSearchOptimizer{}, 1)
	require.ErrorIs(t, err, optimization.ErrSpaceExhausted)
}

func TestBayesianHandlesMixedSpaces(t *testing.T) {
	ctx := context.Background()
	best := func(s optimization.Sampler) float64 {
		st := &optimization.Study{ID: "m", Space: mixedSpace(), Directions: []optimization.Direction{optimization.Minimize}, Seed: 3}
		b := math.Inf(1)
		for range 30 {
			ts, err := st.Ask(ctx, s, 1)
			require.NoError(t, err)
			v := mixedLoss(ts[0].Params)
			require.NoError(t, st.Tell(ts[0].Number, store.TrialComplete, []float64{v}))
			b = math.Min(b, v)
		}
		return b
	}
	bo, rnd := best(optimization.BayesianOptimizer{}), best(optimization.RandomSearchOptimizer{})
	t.Logf("best after 30: bayesian %.4f, random %.4f", bo, rnd)
	assert.Less(t, bo, rnd)
	assert.Less(t, bo, 1.0, "below every value with the wrong activation and the right rest")
}

func TestBayesianBeatsRandomOnBranin(t *testing.T) {
	if testing.Short() {
		t.Skip("30 GP suggestions")
	}
	p := testproblems.Branin()
	bo, err := testproblems.Minimize(t.Context(), p, optimization.BayesianOptimizer{}, 30, 1)
	require.NoError(t, err)
	rnd, err := testproblems.Minimize(t.Context(), p, optimization.RandomSearchOptimizer{}, 30, 1)
	require.NoError(t, err)
	t.Logf("Branin regret after 30: bayesian %.4g, random %.4g", bo[29], rnd[29])
	assert.Less(t, bo[29], 0.05)
	assert.Less(t, bo[29], rnd[29]/5)
}

func TestMultiObjectiveParetoFront(t *testing.T) {
	st := &optimization.Study{ID: "mo", Space: mixedSpace(), Directions: []optimization.Direction{optimization.Maximize, optimization.Minimize}}
	vals := [][]float64{{0.9, 5}, {0.8, 1}, {0.85, 6}, {0.95, 9}, {0.7, 1}}
	for i, v := range vals {
		st.Trials = append(st.Trials, optimization.Trial{Number: i, State: store.TrialWaiting, Params: optimization.Params{"x": float64(i)}})
		require.NoError(t, st.Tell(i, store.TrialComplete, v))
	}
	var front []int
	for _, tr := range st.ParetoFront() {
		front = append(front, tr.Number)
	}
	// {0.85, 6} is dominated by {0.9, 5}; {0.7, 1} by {0.8, 1}.
	assert.Equal(t, []int{0, 1, 3}, front)
	ts, err := st.Ask(t.Context(), optimization.BayesianOptimizer{InitialTrials: 3}, 2)
	require.NoError(t, err)
	assert.Len(t, ts, 2)
}
