package optimization

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/orrery-ml/orrery/shared/store"
)

// Importance is one parameter's share of the objective's variance.
type Importance struct {
	Name       string  `json:"name"`
	Importance float64 `json:"importance"`
}

// Analysis summarises a study.
type Analysis struct {
	Trials   int       `json:"trials"`
	Complete int       `json:"complete"`
	Pruned   int       `json:"pruned"`
	Failed   int       `json:"failed"`
	Best     []Trial   `json:"best"`
	History  []float64 `json:"best_so_far,omitempty"`
	Cost     float64   `json:"total_cost"`
	// Importance ranks parameters by functional ANOVA main effects, largest
	// first (single-objective studies with enough completed trials).
	Importance []Importance `json:"importance,omitempty"`
	// Omitted says, one line per plot or analysis left out, why
	// ("parameter importance: needs ≥ 4 complete trials (2 so far)").
	Omitted []string `json:"omitted,omitempty"`
}

// MinSurrogateTrials is how many complete trials with finite values the GP
// surrogate behind parameter importance and the contour plot needs.
const MinSurrogateTrials = 4

// Analyze returns the study's best trial (the Pareto front for several
// objectives), its best-so-far history and parameter importances.
//
// Importance is functional ANOVA (Hutter, Hoos & Leyton-Brown 2014, "An
// Efficient Approach for Assessing Hyperparameter Importance", ICML) computed
// on the GP surrogate's posterior mean instead of a random forest: for each
// dimension the variance, over its values, of the mean prediction averaged
// over the other dimensions (its first-order main effect), estimated by
// Monte Carlo on 16 levels × 64 random points and normalised to sum to 1.
func Analyze(s *Study) *Analysis {
	a := &Analysis{Trials: len(s.Trials)}
	for _, t := range s.Trials {
		a.Cost += t.Cost
		switch t.State {
		case store.TrialComplete:
			a.Complete++
		case store.TrialPruned:
			a.Pruned++
		case store.TrialFailed:
			a.Failed++
		}
	}
	if len(s.Directions) > 1 {
		a.Best = s.ParetoFront()
		a.Omitted = []string{"parameter importance: computed for single-objective studies only",
			"contour: drawn for single-objective studies only"}
		return a
	}
	if b, ok := s.Best(); ok {
		a.Best = []Trial{b}
	}
	best := math.NaN()
	for _, t := range s.Trials {
		if t.State == store.TrialComplete && len(t.Values) == 1 && s.better(t.Values[0], best) {
			best = t.Values[0]
		}
		if t.State.Finished() {
			a.History = append(a.History, best)
		}
	}
	a.Importance = importance(s)
	a.Omitted = omitted(s, a)
	return a
}

// omitted says why Analyze and Plots leave importance, the contour and the
// intermediate values out of a single-objective study.
func omitted(s *Study, a *Analysis) []string {
	var out []string
	if n := len(usable(s)); n < MinSurrogateTrials {
		why := fmt.Sprintf("needs ≥ %d complete trials (%d so far)", MinSurrogateTrials, n)
		out = append(out, "parameter importance: "+why, "contour: "+why)
	} else if len(a.Importance) == 0 {
		out = append(out, "parameter importance: the GP surrogate could not be fitted to the trials",
			"contour: the GP surrogate could not be fitted to the trials")
	} else if len(contourPair(s, a)) < 2 {
		out = append(out, "contour: needs two numeric dimensions without a condition")
	}
	reported := slices.ContainsFunc(s.Trials, func(t Trial) bool { return len(t.Intermediate) > 0 })
	if !reported && len(s.Trials) > 0 {
		out = append(out, "intermediate values: no trial reported any")
	}
	return out
}

// importance estimates main-effect variances on a GP fitted to the
// completed trials.
func importance(s *Study) []Importance {
	g, done := surrogate(s)
	if g == nil {
		return nil
	}
	rng := rand.New(rand.NewPCG(s.Seed, 0xa71))
	row := make([]float64, s.Space.features())
	const levels, samples = 16, 64
	d := len(s.Space.Dimensions)
	base := make([][]float64, samples)
	for i := range base {
		base[i] = make([]float64, d)
		for j := range base[i] {
			base[i][j] = rng.Float64()
		}
	}
	buf := make([]float64, 2*len(done))
	u := make([]float64, d)
	var out []Importance
	var total float64
	for j, dim := range s.Space.Dimensions {
		means := make([]float64, levels)
		for l := range levels {
			var sum float64
			for _, b := range base {
				copy(u, b)
				u[j] = (float64(l) + 0.5) / levels
				s.Space.encode(s.Space.FromUnit(u), row)
				mu, _ := g.predict(row, buf, nil)
				sum += mu
			}
			means[l] = sum / samples
		}
		var m, v float64
		for _, x := range means {
			m += x
		}
		m /= levels
		for _, x := range means {
			v += (x - m) * (x - m)
		}
		v /= levels
		out = append(out, Importance{Name: dim.Name, Importance: v})
		total += v
	}
	if total > 0 {
		for i := range out {
			out[i].Importance /= total
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Importance > out[b].Importance })
	return slices.Clip(out)
}

// surrogate fits a GP to the study's completed trials (the same targets as
// the Bayesian optimizer's) and returns it with those trials; nil with fewer
// than four of them or when the kernel matrix cannot be factorised.
func surrogate(s *Study) (*gp, []Trial) {
	done := usable(s)
	if len(done) < MinSurrogateTrials {
		return nil, nil
	}
	D := s.Space.features()
	x := make([]float64, 0, len(done)*D)
	row := make([]float64, D)
	for _, t := range done {
		s.Space.encode(t.Params, row)
		x = append(x, row...)
	}
	rng := rand.New(rand.NewPCG(s.Seed, 0xa70))
	y := targets(s, done, rng)
	h := fitGP(x, len(done), D, y, []gpHyper{defaultHyper(D)}, 60)
	g, err := newGP(x, len(done), D, y, h)
	if err != nil {
		return nil, nil
	}
	return g, done
}
