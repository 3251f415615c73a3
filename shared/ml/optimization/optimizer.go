package optimization

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// ErrPruned is returned by a ReportFunc when the pruner stops the trial; an
// Objective returns it (wrapped or not) to end the trial as PRUNED.
var ErrPruned = fault.New(fault.Cancelled, "optimization: trial pruned")

// ReportFunc records a trial's intermediate values at step (an epoch) and
// returns ErrPruned when the trial should stop.
type ReportFunc func(ctx context.Context, step int, values []float64) error

// Outcome is what an objective returns for one trial.
type Outcome struct {
	Values []float64
	// Cost is the resource consumed (epochs trained), summed into the
	// study's totals.
	Cost float64
	// Attrs carries extra per-trial results (model id, metrics) for reports.
	Attrs map[string]any
}

// Objective evaluates trials. Evaluate must call report after every step
// and stop, returning the error, when it returns ErrPruned. The trial's
// Intermediate holds what an earlier, interrupted attempt reported.
type Objective interface {
	Evaluate(ctx context.Context, t Trial, report ReportFunc) (Outcome, error)
}

// ObjectiveFunc adapts a function to an Objective.
type ObjectiveFunc func(ctx context.Context, t Trial, report ReportFunc) (Outcome, error)

// Evaluate calls f.
func (f ObjectiveFunc) Evaluate(ctx context.Context, t Trial, report ReportFunc) (Outcome, error) {
	return f(ctx, t, report)
}

// Budget bounds a study. Zero fields are unlimited; a study stops at the
// first bound reached.
type Budget struct {
	// Trials is the number of finished (complete, pruned or failed) trials.
	Trials int `json:"trials,omitempty"`
	// WallTime bounds this run's elapsed time.
	WallTime time.Duration `json:"wall_time,omitempty"`
	// Dollars bounds the estimated compute cost: elapsed trial seconds ×
	// DollarsPerHour / 3600.
	Dollars        float64 `json:"dollars,omitempty"`
	DollarsPerHour float64 `json:"dollars_per_hour,omitempty"`
	// Target stops the study once the best value reaches it (single
	// objective).
	Target *float64 `json:"target,omitempty"`
	// Patience stops the study after this many finished trials without
	// improving the best value.
	Patience int `json:"patience,omitempty"`
}

// Stop reasons.
const (
	StopTrials    = "trial_budget"
	StopWallTime  = "wall_time"
	StopDollars   = "dollar_budget"
	StopTarget    = "target_reached"
	StopPatience  = "no_improvement"
	StopExhausted = "space_exhausted"
)

// HyperparameterOptimizer runs a study: rounds of Workers trials asked from
// the Sampler, evaluated in parallel with the Pruner consulted at every
// report, told back, until a Budget bound. With Studies and Trials set it
// persists everything as it goes (trials are claimed by conditional
// writes, so several optimizers may share a study, and a study whose
// process died resumes: trials it left RUNNING are claimed again once their
// lease expires, with their intermediate values) — otherwise it works in
// memory.
type HyperparameterOptimizer struct {
	Sampler  Sampler
	Pruner   Pruner
	Budget   Budget
	Workers  int
	Studies  store.StudyStore
	Trials   store.TrialStore
	Recorder tracking.Recorder
	// Worker names this process in trial claims (default "local").
	Worker string
	// Lease is how long a claim lasts without a report (default 10 min).
	Lease time.Duration
	// Strategy names the sampler in the stored configuration.
	Strategy string
}

// Result is the outcome of Optimize.
type Result struct {
	Study      *Study  `json:"-"`
	StopReason string  `json:"stop_reason"`
	Seconds    float64 `json:"seconds"`
	Dollars    float64 `json:"dollars"`
	TotalCost  float64 `json:"total_cost"`
}

// studyConfig is what the study record's Config holds.
type studyConfig struct {
	Space      Space       `json:"space"`
	Directions []Direction `json:"directions"`
	Objectives []string    `json:"objectives,omitempty"`
	Seed       uint64      `json:"seed"`
	Strategy   string      `json:"strategy,omitempty"`
	Budget     Budget      `json:"budget"`
}

// trialAttrs are per-trial extras kept in memory.
type run struct {
	o       *HyperparameterOptimizer
	s       *Study
	mu      sync.Mutex
	rec     tracking.Recorder
	start   time.Time
	seconds float64
	cost    float64
	attrs   map[int]map[string]any
}

// Optimize runs s until the budget is spent and returns the study's state,
// in this process, over an objective given in Go (the test problems of the
// regret benchmarks, library use). Orrery's tuning flow — orrery tune,
// orrery serve and AWS — does not call it: it runs the optimization state
// machine, whose steps (Suggest, RunTrial, Tell) share this code's
// sampling, pruning and bookkeeping.
// A study already in the store (same ID) is loaded and extended: its
// finished trials count towards the budget.
func (o *HyperparameterOptimizer) Optimize(ctx context.Context, s *Study, obj Objective) (*Result, error) {
	if err := s.Check(); err != nil {
		return nil, fmt.Errorf("optimize study %s: %w", s.ID, err)
	}
	if o.Sampler == nil {
		return nil, fmt.Errorf("optimize study %s: %w: no sampler", s.ID, ErrInvalidStudy)
	}
	r := &run{o: o, s: s, rec: o.Recorder, start: time.Now(), attrs: map[int]map[string]any{}}
	if r.rec == nil {
		r.rec = tracking.Discard
	}
	if err := r.load(ctx); err != nil {
		return nil, err
	}
	workers := max(1, o.Workers)
	r.event(ctx, tracking.Event{Kind: tracking.StageStarted, Total: o.Budget.Trials, Unit: "trial"})
	var reason string
	for {
		if reason = r.stopReason(); reason != "" {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("optimize study %s: %w", s.ID, err)
		}
		q := workers
		if o.Budget.Trials > 0 {
			q = min(q, o.Budget.Trials-r.finished()-r.pendingCount())
		}
		claimed, err := r.next(ctx, max(q, 0))
		if errors.Is(err, ErrSpaceExhausted) && len(claimed) == 0 {
			reason = StopExhausted
			break
		}
		if err != nil {
			return nil, err
		}
		if len(claimed) == 0 {
			reason = StopExhausted
			break
		}
		var wg sync.WaitGroup
		errs := make([]error, len(claimed))
		for i, t := range claimed {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = r.evaluate(ctx, t, obj)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
	}
	res := &Result{Study: s, StopReason: reason, Seconds: time.Since(r.start).Seconds(), TotalCost: r.cost,
		Dollars: r.seconds * o.Budget.DollarsPerHour / 3600}
	r.event(ctx, tracking.Event{Kind: tracking.StageFinished, Step: r.finished(), Total: o.Budget.Trials, Unit: "trial", Message: reason})
	if o.Studies != nil {
		if err := r.saveStudy(ctx, store.Succeeded); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// Attrs returns the extras the objective returned for trial number.
func (r *run) attr(number int) map[string]any { return r.attrs[number] }

func (r *run) event(ctx context.Context, e tracking.Event) {
	e.JobID, e.Stage, e.Time = r.s.ID, "tune", time.Now().UTC()
	_ = r.rec.Record(ctx, e)
}

func (r *run) finished() int {
	n := 0
	for _, t := range r.s.Trials {
		if t.State.Finished() {
			n++
		}
	}
	return n
}

func (r *run) pendingCount() int {
	n := 0
	for _, t := range r.s.Trials {
		if !t.State.Finished() {
			n++
		}
	}
	return n
}

// stopReason checks the budget.
func (r *run) stopReason() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return budgetStop(r.s, r.o.Budget, time.Since(r.start), r.seconds)
}

// budgetStop returns the first bound of b that s has reached after elapsed
// wall time and seconds of trial time, or "".
func budgetStop(s *Study, b Budget, elapsed time.Duration, seconds float64) string {
	finished := 0
	for _, t := range s.Trials {
		if t.State.Finished() {
			finished++
		}
	}
	if b.Trials > 0 && finished >= b.Trials {
		return StopTrials
	}
	if b.WallTime > 0 && elapsed >= b.WallTime {
		return StopWallTime
	}
	if b.Dollars > 0 && seconds*b.DollarsPerHour/3600 >= b.Dollars {
		return StopDollars
	}
	if len(s.Directions) == 1 {
		best, ok := s.Best()
		if ok && b.Target != nil && !s.better(*b.Target, best.Values[0]) {
			return StopTarget
		}
		if ok && b.Patience > 0 {
			since := 0
			for _, t := range s.Trials {
				if t.State.Finished() && t.Number > best.Number {
					since++
				}
			}
			if since >= b.Patience {
				return StopPatience
			}
		}
	}
	return ""
}

// load reads the study and its trials from the store, or creates the
// record.
func (r *run) load(ctx context.Context) error {
	o, s := r.o, r.s
	if o.Studies == nil || o.Trials == nil {
		return nil
	}
	rec, err := o.Studies.GetStudy(ctx, s.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		cfg, err := json.Marshal(r.config())
		if err != nil {
			return fmt.Errorf("encode study %s: %w", s.ID, err)
		}
		if err := o.Studies.CreateStudy(ctx, store.Study{ID: s.ID, Name: s.Name, Status: store.Running, Config: cfg}); err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("create study %s: %w", s.ID, err)
		}
	case err != nil:
		return fmt.Errorf("load study %s: %w", s.ID, err)
	default:
		var st struct {
			GP *gpHyper `json:"gp"`
		}
		if len(rec.State) > 0 && json.Unmarshal(rec.State, &st) == nil && st.GP != nil {
			s.GP = st.GP
		}
	}
	return r.refresh(ctx)
}

func (r *run) config() studyConfig {
	return studyConfig{Space: r.s.Space, Directions: r.s.Directions, Objectives: r.s.Objectives, Seed: r.s.Seed,
		Strategy: r.o.Strategy, Budget: r.o.Budget}
}

// refresh replaces the in-memory trials with the stored ones.
func (r *run) refresh(ctx context.Context) error {
	stored, err := r.o.Trials.ListTrials(ctx, r.s.ID)
	if err != nil {
		return fmt.Errorf("load trials of study %s: %w", r.s.ID, err)
	}
	trials := make([]Trial, 0, len(stored))
	for _, st := range stored {
		t, err := FromStore(r.s.Space, st)
		if err != nil {
			return err
		}
		trials = append(trials, t)
	}
	r.mu.Lock()
	r.s.Trials = trials
	r.mu.Unlock()
	return nil
}

// FromStore decodes a stored trial.
func FromStore(sp Space, st store.Trial) (Trial, error) {
	t := Trial{Number: st.Number, State: st.State, Attempts: st.Attempts, Error: st.Error}
	var p Params
	if err := json.Unmarshal(st.Params, &p); err != nil {
		return Trial{}, fmt.Errorf("decode trial %s/%d params: %w", st.StudyID, st.Number, err)
	}
	np, err := sp.Normalize(p)
	if err != nil {
		return Trial{}, fmt.Errorf("decode trial %s/%d params: %w", st.StudyID, st.Number, err)
	}
	t.Params = np
	if len(st.Values) > 0 {
		if err := json.Unmarshal(st.Values, &t.Values); err != nil {
			return Trial{}, fmt.Errorf("decode trial %s/%d values: %w", st.StudyID, st.Number, err)
		}
	}
	if len(st.Intermediate) > 0 {
		var rec trialRecord
		if err := json.Unmarshal(st.Intermediate, &rec); err != nil {
			return Trial{}, fmt.Errorf("decode trial %s/%d intermediate: %w", st.StudyID, st.Number, err)
		}
		t.Intermediate, t.Cost, t.Seconds = rec.Steps, rec.Cost, rec.Seconds
	}
	return t, nil
}

// trialRecord is what the stored Intermediate column holds.
type trialRecord struct {
	Steps   []Intermediate `json:"steps"`
	Cost    float64        `json:"cost,omitempty"`
	Seconds float64        `json:"seconds,omitempty"`
}

// next returns up to q trials claimed by this optimizer: re-queued ones
// first, then new suggestions.
func (r *run) next(ctx context.Context, q int) ([]Trial, error) {
	o, s := r.o, r.s
	if q == 0 {
		return nil, nil
	}
	if o.Trials == nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		ts, err := s.Ask(ctx, o.Sampler, q)
		for i := range ts {
			s.Trial(ts[i].Number).State = store.TrialRunning
			ts[i].State = store.TrialRunning
		}
		return ts, err
	}
	var out []Trial
	for attempt := 0; len(out) < q && attempt < 5; attempt++ {
		// Claim what is claimable (waiting or abandoned) first.
		for len(out) < q {
			st, err := o.Trials.ClaimTrial(ctx, s.ID, r.worker(), time.Now(), r.lease())
			if errors.Is(err, store.ErrNotFound) {
				break
			}
			if err != nil {
				return out, fmt.Errorf("study %s: %w", s.ID, err)
			}
			t, err := FromStore(s.Space, st)
			if err != nil {
				return out, err
			}
			out = append(out, t)
		}
		if len(out) == q {
			break
		}
		if err := r.refresh(ctx); err != nil {
			return out, err
		}
		r.mu.Lock()
		ts, err := s.Ask(ctx, o.Sampler, q-len(out))
		r.mu.Unlock()
		if errors.Is(err, ErrSpaceExhausted) && len(out) > 0 {
			// Every point is queued (other workers queued the rest): run
			// the trials this worker has claimed; the next round stops.
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if err := r.saveStudy(ctx, ""); err != nil {
			return out, err
		}
		add := make([]store.Trial, len(ts))
		for i, t := range ts {
			b, err := json.Marshal(t.Params)
			if err != nil {
				return out, fmt.Errorf("encode trial %d params: %w", t.Number, err)
			}
			add[i] = store.Trial{Number: t.Number, State: store.TrialWaiting, Params: b}
			if _, grid := o.Sampler.(GridSearchOptimizer); grid {
				add[i].Key = GridKey(t.Params)
			}
		}
		if err := o.Trials.AddTrials(ctx, s.ID, add); err != nil && !errors.Is(err, store.ErrConflict) {
			return out, fmt.Errorf("study %s: %w", s.ID, err)
		}
		// On a conflict another optimizer queued those numbers or points
		// first: loop to claim what is there and ask again.
	}
	if err := r.refresh(ctx); err != nil {
		return out, err
	}
	r.mu.Lock()
	for _, t := range out {
		if m := s.Trial(t.Number); m != nil {
			m.State = store.TrialRunning
		}
	}
	r.mu.Unlock()
	return out, nil
}

func (r *run) worker() string {
	if r.o.Worker == "" {
		return "local"
	}
	return r.o.Worker
}

func (r *run) lease() time.Duration {
	if r.o.Lease <= 0 {
		return 10 * time.Minute
	}
	return r.o.Lease
}

// saveStudy writes the optimizer state (and a status) to the study record,
// retrying on version conflicts.
func (r *run) saveStudy(ctx context.Context, status store.Status) error {
	if r.o.Studies == nil {
		return nil
	}
	r.mu.Lock()
	state, err := json.Marshal(struct {
		GP *gpHyper `json:"gp,omitempty"`
	}{r.s.GP})
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("encode study %s state: %w", r.s.ID, err)
	}
	cfg, err := json.Marshal(r.config())
	if err != nil {
		return fmt.Errorf("encode study %s: %w", r.s.ID, err)
	}
	for range 10 {
		cur, err := r.o.Studies.GetStudy(ctx, r.s.ID)
		if err != nil {
			return fmt.Errorf("save study %s: %w", r.s.ID, err)
		}
		st := status
		if st == "" && cur.Status != store.Running {
			st = store.Running
		}
		_, err = r.o.Studies.UpdateStudy(ctx, r.s.ID, cur.Version, store.StudyUpdate{Status: st, State: state, Config: cfg})
		if !errors.Is(err, store.ErrConflict) {
			if err != nil {
				return fmt.Errorf("save study %s: %w", r.s.ID, err)
			}
			return nil
		}
	}
	return fmt.Errorf("save study %s: too many concurrent writers: %w", r.s.ID, store.ErrConflict)
}

// evaluate runs one claimed trial to its end.
func (r *run) evaluate(ctx context.Context, t Trial, obj Objective) error {
	start := time.Now()
	pruner := r.o.Pruner
	if pruner == nil {
		pruner = NopPruner{}
	}
	report := func(ctx context.Context, step int, values []float64) error {
		r.mu.Lock()
		err := r.s.Report(t.Number, step, values)
		prune := err == nil && pruner.ShouldPrune(r.s, t.Number)
		var steps []Intermediate
		if m := r.s.Trial(t.Number); m != nil {
			steps = append(steps, m.Intermediate...)
		}
		r.mu.Unlock()
		if err != nil {
			return err
		}
		if err := r.persist(ctx, t.Number, store.TrialUpdate{}, steps, 0, time.Since(start).Seconds()); err != nil {
			return err
		}
		if prune {
			return ErrPruned
		}
		return nil
	}
	out, err := obj.Evaluate(ctx, t, report)
	secs := time.Since(start).Seconds()
	state, values, msg := store.TrialComplete, out.Values, ""
	switch {
	case errors.Is(err, ErrPruned):
		state, values = store.TrialPruned, nil
	case err != nil && ctx.Err() != nil:
		// Interrupted: leave the trial RUNNING; its lease lets a later run
		// resume it from its checkpoint.
		return fmt.Errorf("trial %d of study %s: %w", t.Number, r.s.ID, err)
	case err != nil:
		state, values, msg = store.TrialFailed, nil, err.Error()
	}
	r.mu.Lock()
	r.seconds += secs
	r.cost += out.Cost
	if out.Attrs != nil {
		r.attrs[t.Number] = out.Attrs
	}
	terr := r.s.Tell(t.Number, state, values)
	m := r.s.Trial(t.Number)
	var steps []Intermediate
	if m != nil {
		m.Cost, m.Seconds, m.Error = out.Cost, secs, msg
		steps = append(steps, m.Intermediate...)
		values = m.Values
	}
	r.mu.Unlock()
	if terr != nil {
		return terr
	}
	u := store.TrialUpdate{State: state, Error: msg}
	if values != nil {
		b, err := json.Marshal(nanToNull(values))
		if err != nil {
			return fmt.Errorf("encode trial %d values: %w", t.Number, err)
		}
		u.Values = b
	}
	if err := r.persist(ctx, t.Number, u, steps, out.Cost, secs); err != nil {
		return err
	}
	best := math.NaN()
	r.mu.Lock()
	if b, ok := r.s.Best(); ok {
		best = b.Values[0]
	}
	done := r.finished()
	r.mu.Unlock()
	metrics := map[string]float64{"best": best, "cost": out.Cost}
	if len(values) > 0 {
		metrics["value"] = values[0]
	}
	r.event(ctx, tracking.Event{Kind: tracking.Progress, Step: done, Total: r.o.Budget.Trials, Unit: "trial",
		Message: fmt.Sprintf("trial %d %s", t.Number, state), Metrics: metrics})
	return nil
}

// nanToNull keeps values JSON-encodable.
func nanToNull(v []float64) []*float64 {
	out := make([]*float64, len(v))
	for i := range v {
		if !math.IsNaN(v[i]) && !math.IsInf(v[i], 0) {
			out[i] = &v[i]
		}
	}
	return out
}

// persist writes a trial's reports (and u) to the store, extending the
// lease.
func (r *run) persist(ctx context.Context, number int, u store.TrialUpdate, steps []Intermediate, cost, secs float64) error {
	if r.o.Trials == nil {
		return nil
	}
	b, err := json.Marshal(trialRecord{Steps: steps, Cost: cost, Seconds: secs})
	if err != nil {
		return fmt.Errorf("encode trial %d reports: %w", number, err)
	}
	u.Intermediate = b
	if u.State == "" {
		u.LeaseUntil = time.Now().Add(r.lease())
	}
	if _, err := r.o.Trials.UpdateTrial(context.WithoutCancel(ctx), r.s.ID, number, r.worker(), u); err != nil {
		return fmt.Errorf("study %s: %w", r.s.ID, err)
	}
	return nil
}

// LoadStudy reads a stored study and its trials.
func LoadStudy(ctx context.Context, studies store.StudyStore, trials store.TrialStore, id string) (*Study, error) {
	rec, err := studies.GetStudy(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("load study %s: %w", id, err)
	}
	var cfg studyConfig
	if err := json.Unmarshal(rec.Config, &cfg); err != nil {
		return nil, fmt.Errorf("load study %s: decode config: %w", id, err)
	}
	s := &Study{ID: id, Name: rec.Name, Space: cfg.Space, Directions: cfg.Directions, Objectives: cfg.Objectives, Seed: cfg.Seed}
	stored, err := trials.ListTrials(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("load study %s: %w", id, err)
	}
	for _, st := range stored {
		t, err := FromStore(s.Space, st)
		if err != nil {
			return nil, err
		}
		s.Trials = append(s.Trials, t)
	}
	return s, nil
}

// WarmStart returns s with from's finished trials (whose params fit s's
// space) copied in as its first trials, so its sampler starts from what
// from learned. Trials that do not fit are skipped.
func WarmStart(s *Study, from *Study) *Study {
	out := *s
	out.Trials = nil
	for _, t := range from.Trials {
		if t.State != store.TrialComplete || len(t.Values) != len(s.Directions) {
			continue
		}
		p, err := s.Space.Normalize(t.Params)
		if err != nil {
			continue
		}
		t.Number, t.Params = len(out.Trials), p
		out.Trials = append(out.Trials, t)
	}
	return &out
}
