package optimization

import (
	"context"
	"fmt"
	"math/rand/v2"
)

// Sampler proposes points. Suggest returns up to n Params for study,
// distinct from each other and from every trial the study holds (pending
// ones included); fewer than n, with ErrSpaceExhausted when none, only
// when the space has no new point left. Suggest is a pure function of the
// study (its seed and trials), so a study driven across separate
// invocations gets the same suggestions as one driven in a single process.
type Sampler interface {
	Suggest(ctx context.Context, s *Study, n int) ([]Params, error)
}

// seen returns the keys of the study's trials.
func seen(s *Study) map[string]bool {
	m := make(map[string]bool, len(s.Trials))
	for _, t := range s.Trials {
		m[t.Params.Key()] = true
	}
	return m
}

// GridSearchOptimizer tries the grid points of the space (Space.Grid) in an
// order shuffled by the study's seed (Shuffle) or in enumeration order,
// never queueing a point twice.
type GridSearchOptimizer struct {
	Shuffle bool
}

// Suggest returns the next n grid points not in the study.
func (g GridSearchOptimizer) Suggest(_ context.Context, s *Study, n int) ([]Params, error) {
	grid := s.Space.Grid()
	if g.Shuffle {
		rng := rand.New(rand.NewPCG(s.Seed, 0x9e1d))
		rng.Shuffle(len(grid), func(i, j int) { grid[i], grid[j] = grid[j], grid[i] })
	}
	have := seen(s)
	var out []Params
	for _, p := range grid {
		if len(out) == n {
			break
		}
		if !have[p.Key()] {
			out = append(out, p)
			have[p.Key()] = true
		}
	}
	if len(out) == 0 && n > 0 {
		return nil, fmt.Errorf("grid of %d points fully queued: %w", len(grid), ErrSpaceExhausted)
	}
	return out, nil
}

// GridKey is the store key of a grid trial: the canonical text of its
// point, so that a store refuses to queue one grid point twice.
func GridKey(p Params) string { return "grid:" + p.Key() }

// RandomSearchOptimizer samples the space uniformly (log-uniformly on log
// scales), from a pseudo-random generator or, with Sobol, from a scrambled
// Sobol sequence (a low-discrepancy design that covers the space more
// evenly; Bergstra & Bengio 2012 for random search, Sobol 1967).
type RandomSearchOptimizer struct {
	Sobol bool
}

// Suggest returns the next n points of the study's sequence: point i of the
// study is determined by the seed and i, whoever asks for it.
func (r RandomSearchOptimizer) Suggest(_ context.Context, s *Study, n int) ([]Params, error) {
	return sequencePoints(s, n, r.Sobol, len(s.Trials)), nil
}

// sequencePoints returns n points of the study's random or Sobol sequence
// from index start, skipping points the study already holds.
func sequencePoints(s *Study, n int, useSobol bool, start int) []Params {
	d := len(s.Space.Dimensions)
	u := make([]float64, d)
	var seq *sobol
	if useSobol {
		seq = newSobol(d, s.Seed)
	}
	have := seen(s)
	var out []Params
	for i := start; len(out) < n && i < start+100*n+1000; i++ {
		if seq != nil {
			seq.point(uint64(i), u)
		} else {
			rng := rand.New(rand.NewPCG(s.Seed, uint64(i)))
			for j := range u {
				u[j] = rng.Float64()
			}
		}
		p := s.Space.FromUnit(u)
		if !have[p.Key()] {
			have[p.Key()] = true
			out = append(out, p)
		}
	}
	return out
}
