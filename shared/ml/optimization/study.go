package optimization

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/store"
)

// Errors of the study bookkeeping.
var (
	// ErrInvalidStudy is wrapped by errors about a study's configuration.
	ErrInvalidStudy = fault.New(fault.Invalid, "optimization: invalid study")
	// ErrUnknownTrial is returned by Tell for a trial the study lacks.
	ErrUnknownTrial = fault.New(fault.NotFound, "optimization: unknown trial")
	// ErrTrialFinished is returned by Tell and Report for a finished trial.
	ErrTrialFinished = fault.New(fault.Conflict, "optimization: trial already finished")
	// ErrSpaceExhausted is returned when a sampler has no new point left
	// (a grid that has been fully queued).
	ErrSpaceExhausted = fault.New(fault.Conflict, "optimization: search space exhausted")
)

// Direction says whether an objective is minimised or maximised.
type Direction string

// Directions.
const (
	Minimize Direction = "minimize"
	Maximize Direction = "maximize"
)

// Intermediate is the objective values a trial reported at one step (an
// epoch).
type Intermediate struct {
	Step   int       `json:"step"`
	Values []float64 `json:"values"`
}

// Trial is one evaluation of the objective at Params.
type Trial struct {
	Number       int              `json:"number"`
	Params       Params           `json:"params"`
	State        store.TrialState `json:"state"`
	Values       []float64        `json:"values,omitempty"`
	Intermediate []Intermediate   `json:"intermediate,omitempty"`
	// Cost is what the trial consumed (epochs trained for training
	// objectives); Seconds its wall time.
	Cost     float64 `json:"cost,omitempty"`
	Seconds  float64 `json:"seconds,omitempty"`
	Attempts int     `json:"attempts,omitempty"`
	Error    string  `json:"error,omitempty"`
}

// Study is the state of a hyperparameter search: everything an ask/tell
// step needs, JSON-serialisable so that separate invocations (Step
// Functions tasks, CLI runs) can carry it between them.
type Study struct {
	ID         string      `json:"study_id"`
	Name       string      `json:"name,omitempty"`
	Space      Space       `json:"space"`
	Directions []Direction `json:"directions"`
	// Objectives names the objectives (e.g. "val_auc_pr", "latency_ms").
	Objectives []string `json:"objectives,omitempty"`
	Seed       uint64   `json:"seed"`
	Trials     []Trial  `json:"trials"`
	// GP caches the Bayesian optimizer's last fitted kernel
	// hyperparameters, the warm start of its next fit.
	GP *gpHyper `json:"gp,omitempty"`
	// posterior is the Bayesian optimizer's last GP, extended in memory by
	// the next suggestion (never serialised; a study read back from JSON
	// refactors once).
	posterior *posteriorCache
}

// Check validates the study's space and directions.
func (s *Study) Check() error {
	if err := s.Space.Validate(); err != nil {
		return err
	}
	if len(s.Directions) == 0 {
		return fmt.Errorf("%w: no objective directions", ErrInvalidStudy)
	}
	for i, d := range s.Directions {
		if d != Minimize && d != Maximize {
			return fmt.Errorf("%w: direction %d is %q, not minimize or maximize", ErrInvalidStudy, i, d)
		}
	}
	if len(s.Objectives) != 0 && len(s.Objectives) != len(s.Directions) {
		return fmt.Errorf("%w: %d objective names for %d directions", ErrInvalidStudy, len(s.Objectives), len(s.Directions))
	}
	return nil
}

// Trial returns a pointer to trial number n, or nil.
func (s *Study) Trial(n int) *Trial {
	for i := range s.Trials {
		if s.Trials[i].Number == n {
			return &s.Trials[i]
		}
	}
	return nil
}

// Completed returns the COMPLETE trials.
func (s *Study) Completed() []Trial {
	var out []Trial
	for _, t := range s.Trials {
		if t.State == store.TrialComplete && len(t.Values) == len(s.Directions) {
			out = append(out, t)
		}
	}
	return out
}

// loss turns objective i's value into one to minimise.
func (s *Study) loss(i int, v float64) float64 {
	if s.Directions[i] == Maximize {
		return -v
	}
	return v
}

// better reports whether a beats b on a single objective.
func (s *Study) better(a, b float64) bool {
	if math.IsNaN(b) {
		return !math.IsNaN(a)
	}
	return s.loss(0, a) < s.loss(0, b)
}

// Best returns the best COMPLETE trial of a single-objective study (false
// when there is none). For several objectives use ParetoFront.
func (s *Study) Best() (Trial, bool) {
	var best Trial
	found := false
	for _, t := range s.Completed() {
		if math.IsNaN(t.Values[0]) {
			continue
		}
		if !found || s.better(t.Values[0], best.Values[0]) {
			best, found = t, true
		}
	}
	return best, found
}

// dominates reports whether values a Pareto-dominate b: no worse on every
// objective and better on one.
func (s *Study) dominates(a, b []float64) bool {
	strictly := false
	for i := range s.Directions {
		la, lb := s.loss(i, a[i]), s.loss(i, b[i])
		if la > lb || math.IsNaN(la) {
			return false
		}
		if la < lb {
			strictly = true
		}
	}
	return strictly
}

// ParetoFront returns the COMPLETE trials no other COMPLETE trial
// dominates, by number.
func (s *Study) ParetoFront() []Trial {
	done := s.Completed()
	var front []Trial
	for i, t := range done {
		dominated := false
		for j, o := range done {
			if i != j && s.dominates(o.Values, t.Values) {
				dominated = true
				break
			}
		}
		if !dominated {
			front = append(front, t)
		}
	}
	return front
}

// Ask appends n new WAITING trials with the sampler's suggestions and
// returns them. Their numbers follow the study's last trial.
func (s *Study) Ask(ctx context.Context, sampler Sampler, n int) ([]Trial, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	points, err := sampler.Suggest(ctx, s, n)
	if err != nil {
		return nil, fmt.Errorf("ask %d trials of study %s: %w", n, s.ID, err)
	}
	if len(points) == 0 && n > 0 {
		// A sampler that finds no new point (random, Sobol and Bayesian
		// search of a finite space every point of which the study holds,
		// such as one categorical choice) has exhausted the space: said
		// here once for every sampler, so that each driver stops.
		return nil, fmt.Errorf("ask %d trials of study %s: the sampler found no point the study does not hold: %w", n, s.ID, ErrSpaceExhausted)
	}
	next := 0
	for _, t := range s.Trials {
		next = max(next, t.Number+1)
	}
	out := make([]Trial, len(points))
	for i, p := range points {
		out[i] = Trial{Number: next + i, Params: p, State: store.TrialWaiting}
	}
	s.Trials = append(s.Trials, out...)
	return out, nil
}

// Report records a trial's intermediate values at step (replacing an
// earlier report of the same step, as a resumed trial repeats it).
func (s *Study) Report(number, step int, values []float64) error {
	t := s.Trial(number)
	if t == nil {
		return fmt.Errorf("report trial %d of study %s: %w", number, s.ID, ErrUnknownTrial)
	}
	if t.State.Finished() {
		return fmt.Errorf("report trial %d of study %s: %w", number, s.ID, ErrTrialFinished)
	}
	if len(values) != len(s.Directions) {
		return fmt.Errorf("report trial %d of study %s: %d values for %d objectives: %w", number, s.ID, len(values), len(s.Directions), ErrInvalidStudy)
	}
	t.State = store.TrialRunning
	v := slices.Clone(values)
	for i := range t.Intermediate {
		if t.Intermediate[i].Step == step {
			t.Intermediate[i].Values = v
			return nil
		}
	}
	t.Intermediate = append(t.Intermediate, Intermediate{Step: step, Values: v})
	return nil
}

// Tell finishes a trial: state COMPLETE with its values, PRUNED (values
// optional: the last intermediate values are used), or FAILED.
func (s *Study) Tell(number int, state store.TrialState, values []float64) error {
	t := s.Trial(number)
	if t == nil {
		return fmt.Errorf("tell trial %d of study %s: %w", number, s.ID, ErrUnknownTrial)
	}
	if t.State.Finished() {
		return fmt.Errorf("tell trial %d of study %s: %w", number, s.ID, ErrTrialFinished)
	}
	switch state {
	case store.TrialComplete:
		if len(values) != len(s.Directions) {
			return fmt.Errorf("tell trial %d of study %s: %d values for %d objectives: %w", number, s.ID, len(values), len(s.Directions), ErrInvalidStudy)
		}
	case store.TrialPruned:
		if values == nil && len(t.Intermediate) > 0 {
			values = t.Intermediate[len(t.Intermediate)-1].Values
		}
	case store.TrialFailed:
	default:
		return fmt.Errorf("tell trial %d of study %s: state %q is not COMPLETE, PRUNED or FAILED: %w", number, s.ID, state, ErrInvalidStudy)
	}
	t.State, t.Values = state, slices.Clone(values)
	return nil
}
