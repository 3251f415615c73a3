package optimization

import (
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
)

// Pruner decides, after a trial reports intermediate values at a step,
// whether to stop it early. ShouldPrune looks only at the study (the trial's
// reports and those of the other trials), so it can run in any worker.
//
// Every pruner here compares a trial with its peers — the other trials that
// reported the same step — by Pareto dominance: "better" on one objective
// and "dominates" on several are the same test. A trial is pruned only when
// enough peers that reached its step dominate it, so multi-objective studies
// are pruned soundly (a trial that is best on any one objective is never
// pruned), which Optuna's and Ray Tune's pruners do not offer.
type Pruner interface {
	ShouldPrune(s *Study, number int) bool
}

// NopPruner never prunes.
type NopPruner struct{}

// ShouldPrune returns false.
func (NopPruner) ShouldPrune(*Study, int) bool { return false }

// last returns a trial's latest report.
func last(t *Trial) (Intermediate, bool) {
	if t == nil || len(t.Intermediate) == 0 {
		return Intermediate{}, false
	}
	best := t.Intermediate[0]
	for _, r := range t.Intermediate[1:] {
		if r.Step > best.Step {
			best = r
		}
	}
	return best, true
}

// valueAt returns a trial's report at step.
func valueAt(t *Trial, step int) ([]float64, bool) {
	for _, r := range t.Intermediate {
		if r.Step == step {
			return r.Values, true
		}
	}
	return nil, false
}

// peersAt returns the values the other trials reported at step, restricted
// to trials for which keep returns true (nil keeps all).
func peersAt(s *Study, number, step int, keep func(*Trial) bool) [][]float64 {
	var out [][]float64
	for i := range s.Trials {
		t := &s.Trials[i]
		if t.Number == number || (keep != nil && !keep(t)) {
			continue
		}
		if v, ok := valueAt(t, step); ok && finiteAll(v) {
			out = append(out, v)
		}
	}
	return out
}

func finiteAll(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// dominatedBy counts the peers that dominate v.
func dominatedBy(s *Study, v []float64, peers [][]float64) int {
	n := 0
	for _, p := range peers {
		if s.dominates(p, v) {
			n++
		}
	}
	return n
}

// finishedTrials counts trials that are COMPLETE or PRUNED.
func finishedTrials(s *Study) int {
	n := 0
	for _, t := range s.Trials {
		if t.State.Finished() && t.Error == "" {
			n++
		}
	}
	return n
}

// PercentilePruner prunes a trial whose latest report is dominated by more
// than Keep of its peers at that step (Keep 0.5 is the median stopping rule
// of Golovin et al. 2017, "Google Vizier"; Optuna's PercentilePruner keeps
// the top percentile likewise). Nothing is pruned before StartupTrials trials
// have finished, before WarmupSteps steps, or with fewer than MinPeers
// peers at the step.
type PercentilePruner struct {
	Keep          float64
	StartupTrials int
	WarmupSteps   int
	MinPeers      int
}

// MedianPruner returns the median stopping rule with Optuna's defaults (5
// startup trials, no warmup).
func MedianPruner() PercentilePruner {
	return PercentilePruner{Keep: 0.5, StartupTrials: 5, MinPeers: 1}
}

// ShouldPrune applies the rule to the trial's latest report.
func (p PercentilePruner) ShouldPrune(s *Study, number int) bool {
	t := s.Trial(number)
	r, ok := last(t)
	if !ok || r.Step <= p.WarmupSteps || finishedTrials(s) < p.StartupTrials {
		return false
	}
	if !finiteAll(r.Values) {
		return true
	}
	peers := peersAt(s, number, r.Step, nil)
	if len(peers) < max(1, p.MinPeers) {
		return false
	}
	return float64(dominatedBy(s, r.Values, peers)) > p.Keep*float64(len(peers))
}

// ASHAPruner is asynchronous successive halving (Li et al. 2020, "A System
// for Massively Parallel Hyperparameter Tuning", MLSys): rungs at steps
// MinResource·η^k; a trial reaching a rung continues only if it is in the
// top 1/η of the trials that have reached that rung so far, i.e. fewer than
// max(1, ⌊m/η⌋) of the m trials there dominate it. Decisions never wait for
// other trials.
type ASHAPruner struct {
	MinResource     int
	ReductionFactor int
	// bracket restricts peers to one Hyperband bracket (−1: all).
	bracket  int
	brackets int
}

// NewASHAPruner returns ASHA with min resource r and reduction factor η
// (defaults 1 and 3).
func NewASHAPruner(r, eta int) ASHAPruner {
	if r < 1 {
		r = 1
	}
	if eta < 2 {
		eta = 3
	}
	return ASHAPruner{MinResource: r, ReductionFactor: eta, bracket: -1}
}

// rung returns whether step is a rung step.
func (a ASHAPruner) rung(step int) bool {
	for r := a.MinResource; r <= step; r *= a.ReductionFactor {
		if r == step {
			return true
		}
	}
	return false
}

// ShouldPrune checks the trial at its rung steps.
func (a ASHAPruner) ShouldPrune(s *Study, number int) bool {
	if a.MinResource < 1 || a.ReductionFactor < 2 {
		a = NewASHAPruner(a.MinResource, a.ReductionFactor)
	}
	t := s.Trial(number)
	r, ok := last(t)
	if !ok {
		return false
	}
	if !finiteAll(r.Values) {
		return true
	}
	if !a.rung(r.Step) {
		return false
	}
	var keep func(*Trial) bool
	if a.bracket >= 0 {
		keep = func(o *Trial) bool { return hyperbandBracket(o.Number, a.brackets) == a.bracket }
	}
	peers := peersAt(s, number, r.Step, keep)
	m := len(peers) + 1
	allowed := max(1, m/a.ReductionFactor)
	return dominatedBy(s, r.Values, peers) >= allowed
}

// HyperbandPruner is Hyperband (Li et al. 2018, "Hyperband: A Novel
// Bandit-Based Approach to Hyperparameter Optimization", JMLR 18) run
// asynchronously as in Optuna: trials are assigned to brackets by a hash of
// their number, bracket b runs ASHA with minimum resource
// MinResource·η^b, and a trial competes only within its bracket.
type HyperbandPruner struct {
	MinResource     int
	MaxResource     int
	ReductionFactor int
}

// brackets is ⌊log_η(max/min)⌋ + 1.
func (h HyperbandPruner) norm() HyperbandPruner {
	if h.MinResource < 1 {
		h.MinResource = 1
	}
	if h.ReductionFactor < 2 {
		h.ReductionFactor = 3
	}
	if h.MaxResource < h.MinResource {
		h.MaxResource = h.MinResource
	}
	return h
}

func (h HyperbandPruner) brackets() int {
	h = h.norm()
	n := 1
	for r := h.MinResource * h.ReductionFactor; r <= h.MaxResource; r *= h.ReductionFactor {
		n++
	}
	return n
}

func hyperbandBracket(number, brackets int) int {
	f := fnv.New32a()
	f.Write([]byte(strconv.Itoa(number)))
	return int(f.Sum32() % uint32(brackets))
}

// ShouldPrune runs the trial's bracket's ASHA.
func (h HyperbandPruner) ShouldPrune(s *Study, number int) bool {
	h = h.norm()
	nb := h.brackets()
	b := hyperbandBracket(number, nb)
	minR := h.MinResource
	for range b {
		minR *= h.ReductionFactor
	}
	a := ASHAPruner{MinResource: minR, ReductionFactor: h.ReductionFactor, bracket: b, brackets: nb}
	return a.ShouldPrune(s, number)
}

// PatientPruner wraps a pruner and lets it act only once the trial has not
// improved for Patience steps (by more than MinDelta on some objective); with
// a nil Wrapped it prunes on the stall alone (Optuna's PatientPruner).
type PatientPruner struct {
	Wrapped  Pruner
	Patience int
	MinDelta float64
}

// ShouldPrune checks the stall, then the wrapped pruner.
func (p PatientPruner) ShouldPrune(s *Study, number int) bool {
	t := s.Trial(number)
	if t == nil || len(t.Intermediate) <= p.Patience {
		return false
	}
	// The best report before the last Patience steps, and whether any of
	// the last Patience steps beat it.
	n := len(t.Intermediate)
	var best []float64
	for _, r := range t.Intermediate[:n-p.Patience] {
		if best == nil || s.dominates(r.Values, best) {
			best = r.Values
		}
	}
	for _, r := range t.Intermediate[n-p.Patience:] {
		for i := range s.Directions {
			if s.loss(i, r.Values[i]) < s.loss(i, best[i])-p.MinDelta {
				return false
			}
		}
	}
	if p.Wrapped == nil {
		return true
	}
	return p.Wrapped.ShouldPrune(s, number)
}

// ParsePruner builds a pruner from its name: none, median, percentile
// (keeps the top 25 %), asha, hyperband, patience (stall of 5 steps around
// the median rule); maxSteps is the resource (epochs) of a full trial.
func ParsePruner(name string, maxSteps int) (Pruner, error) {
	switch strings.ToLower(name) {
	case "", "none":
		return NopPruner{}, nil
	case "median":
		return MedianPruner(), nil
	case "percentile":
		p := MedianPruner()
		p.Keep = 0.25
		return p, nil
	case "asha", "successive_halving":
		return NewASHAPruner(1, 3), nil
	case "hyperband":
		return HyperbandPruner{MinResource: 1, MaxResource: maxSteps, ReductionFactor: 3}, nil
	case "patience":
		return PatientPruner{Wrapped: MedianPruner(), Patience: 5}, nil
	}
	return nil, fmt.Errorf("%w: pruner %q is not none, median, percentile, asha, hyperband or patience", ErrInvalidStudy, name)
}
