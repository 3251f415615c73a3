package optimization

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/optimization/internal/cholesky"
	"github.com/orrery-ml/orrery/shared/store"
)

// TestGPExtendMatchesFullFactor checks the rank-one extension of the
// Cholesky factor against a factorization from scratch: the posteriors
// agree at random points.
func TestGPExtendMatchesFullFactor(t *testing.T) {
	const n, d, first = 40, 3, 25
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float64, n*d)
	y := make([]float64, n)
	for i := range n {
		for j := range d {
			x[i*d+j] = rng.Float64()
		}
		y[i] = rng.NormFloat64()
	}
	h := defaultHyper(d)
	full, err := newGP(x, n, d, y, h)
	require.NoError(t, err)
	inc, err := newGPCap(append([]float64(nil), x[:first*d]...), first, d, append([]float64(nil), y[:first]...), h, first+4)
	require.NoError(t, err)
	for i := first; i < n; i++ { // outgrows the room reserved, so grow runs too
		require.NoError(t, inc.extend(x[i*d:(i+1)*d], y[i]))
	}
	require.Equal(t, n, inc.n)
	buf := make([]float64, 2*n)
	for range 20 {
		z := []float64{rng.Float64(), rng.Float64(), rng.Float64()}
		mf, vf := full.predict(z, buf, nil)
		mi, vi := inc.predict(z, buf, nil)
		assert.InDelta(t, mf, mi, 1e-8)
		assert.InDelta(t, vf, vi, 1e-8)
	}
	// A new diagonal that is not positive (here forced by a negative noise
	// for the new point: a duplicate input then leaves nothing) is refused,
	// and the model stays as it was.
	g, err := newGP(x[:first*d], first, d, y[:first], h)
	require.NoError(t, err)
	g.noise, g.jitter = -10*g.noise, 0
	require.ErrorIs(t, g.extend(x[:d], y[0]), errNotExtendable)
	require.Equal(t, first, g.n)
}

// TestSuggestExtendsCachedPosterior checks that the next suggestion of a
// study kept in memory extends its GP by the trial told since (the same
// model, one row more) while the hyperparameters wait for their refit, and
// that its suggestion equals that of the same study read back from JSON,
// which refactors from scratch.
func TestSuggestExtendsCachedPosterior(t *testing.T) {
	s := &Study{ID: "c", Space: Space{Dimensions: []Dimension{
		{Name: "a", Kind: Float, Low: 0, High: 1}, {Name: "b", Kind: Float, Low: 0, High: 1}}},
		Directions: []Direction{Minimize}, Seed: 7}
	f := func(p Params) float64 {
		a, b := p["a"].(float64), p["b"].(float64)
		return (a-0.3)*(a-0.3) + (b-0.6)*(b-0.6)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range maxFitPoints + 20 {
		p := Params{"a": rng.Float64(), "b": rng.Float64()}
		s.Trials = append(s.Trials, Trial{Number: i, Params: p, State: store.TrialComplete, Values: []float64{f(p)}})
	}
	opt := BayesianOptimizer{}
	_, err := s.Ask(t.Context(), opt, 1)
	require.NoError(t, err)
	require.NotNil(t, s.posterior)
	model, fitted := s.posterior.model, *s.GP
	n := len(s.posterior.numbers)
	require.Equal(t, maxFitPoints+20, n)
	require.Equal(t, n, fitted.Trials)

	last := &s.Trials[len(s.Trials)-1]
	last.State, last.Values = store.TrialComplete, []float64{f(last.Params)}
	blob, err := json.Marshal(s)
	require.NoError(t, err)
	var cold Study
	require.NoError(t, json.Unmarshal(blob, &cold))
	require.Nil(t, cold.posterior)

	warm, err := s.Ask(t.Context(), opt, 1)
	require.NoError(t, err)
	assert.Equal(t, fitted.vector(), s.GP.vector(), "hyperparameters kept until the refit")
	assert.Same(t, model, s.posterior.model, "the cached factor is extended, not rebuilt")
	assert.Len(t, s.posterior.numbers, n+1)

	fresh, err := cold.Ask(t.Context(), opt, 1)
	require.NoError(t, err)
	for _, k := range []string{"a", "b"} {
		assert.InDelta(t, fresh[0].Params[k].(float64), warm[0].Params[k].(float64), 1e-6, fmt.Sprint("param ", k))
	}
}

// TestStudyFromJSONSuggestsWhatMemoryDoes drives one study in memory (its
// factor extended trial by trial, refactored at each refit) and a copy of
// it read back from JSON before every ask (refactored from scratch each
// time, as a Step Functions step does), through refits and a batch of two,
// and requires the same suggestions bit for bit.
func TestStudyFromJSONSuggestsWhatMemoryDoes(t *testing.T) {
	space := Space{Dimensions: []Dimension{
		{Name: "a", Kind: Float, Low: 0, High: 1}, {Name: "b", Kind: Float, Low: -2, High: 2},
		{Name: "c", Kind: Int, Low: 1, High: 9}}}
	f := func(p Params) float64 {
		a, _ := p.Float("a")
		b, _ := p.Float("b")
		c, _ := p.Float("c")
		return (a-0.3)*(a-0.3) + math.Sin(3*b) + 0.1*(c-4)*(c-4)
	}
	mem := &Study{ID: "j", Space: space, Directions: []Direction{Minimize}, Seed: 11}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range maxFitPoints + 2*cholesky.Block - 3 {
		p := Params{"a": rng.Float64(), "b": 4*rng.Float64() - 2, "c": 1 + rng.IntN(9)}
		mem.Trials = append(mem.Trials, Trial{Number: i, Params: p, State: store.TrialComplete, Values: []float64{f(p)}})
	}
	opt := BayesianOptimizer{}
	refits := 0
	for step := range 16 {
		q := 1
		if step == 5 {
			q = 2
		}
		blob, err := json.Marshal(mem)
		require.NoError(t, err)
		var cold Study
		require.NoError(t, json.Unmarshal(blob, &cold))
		before := mem.GP
		warm, err := mem.Ask(t.Context(), opt, q)
		require.NoError(t, err)
		fresh, err := cold.Ask(t.Context(), opt, q)
		require.NoError(t, err)
		require.Equal(t, warm, fresh, "step %d", step)
		require.Equal(t, mem.GP, cold.GP, "step %d", step)
		if before == nil || before.Trials != mem.GP.Trials {
			refits++
		}
		for _, tr := range warm {
			require.NoError(t, mem.Tell(tr.Number, store.TrialComplete, []float64{f(tr.Params)}))
		}
	}
	assert.GreaterOrEqual(t, refits, 3, "the steps cross refits (the first ask fits)")
}

// TestSuggestionDoesNotDependOnCores asks a study large enough for the
// kernel fill, the factorisation, the screening and the refinements to be
// shared among goroutines, once on one core and once on four, and requires
// the same suggestions.
func TestSuggestionDoesNotDependOnCores(t *testing.T) {
	s := &Study{ID: "p", Space: Space{Dimensions: []Dimension{
		{Name: "a", Kind: Float, Low: 0, High: 1}, {Name: "b", Kind: Float, Low: 0, High: 1},
		{Name: "k", Kind: Categorical, Choices: []any{"x", "y", "z"}}}},
		Directions: []Direction{Minimize}, Seed: 3}
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range cholesky.Block + 2*256 {
		a, b := rng.Float64(), rng.Float64()
		k := []string{"x", "y", "z"}[rng.IntN(3)]
		v := (a-0.4)*(a-0.4) + math.Cos(5*b)
		if k == "y" {
			v -= 0.3
		}
		s.Trials = append(s.Trials, Trial{Number: i, Params: Params{"a": a, "b": b, "k": k}, State: store.TrialComplete, Values: []float64{v}})
	}
	blob, err := json.Marshal(s)
	require.NoError(t, err)
	ask := func(procs int) []Trial {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		var c Study
		require.NoError(t, json.Unmarshal(blob, &c))
		out, err := c.Ask(t.Context(), BayesianOptimizer{}, 2)
		require.NoError(t, err)
		return out
	}
	assert.Equal(t, ask(1), ask(4))
}
