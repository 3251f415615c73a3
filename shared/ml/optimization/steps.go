package optimization

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// The step functions below split HyperparameterOptimizer.Optimize into the
// tasks of the `optimization` state machine (shared/pipeline): Suggest asks
// the sampler for one round of trials and queues them, RunTrial claims and
// evaluates one trial (one Map iteration, possibly on another machine),
// Tell decides whether to go on, Finalize analyses the study and writes its
// report, MarkFailed records a failure. Each takes and returns JSON-encodable
// values and keeps all state in the stores, so any step may run in a fresh
// process.

// Stores are the ports the steps read and write.
type Stores struct {
	Studies store.StudyStore
	Trials  store.TrialStore
	// Artifacts receives the HTML report (Finalize); optional elsewhere.
	Artifacts store.ArtifactStore
}

func (st Stores) check(op, id string) error {
	if st.Studies == nil || st.Trials == nil {
		return fmt.Errorf("%s study %s: %w: the study and trial stores are required", op, id, ErrInvalidStudy)
	}
	return nil
}

// StudySpec is everything the steps need to rebuild a study's sampler,
// pruner and objective, kept as the study record's Config. Its first fields
// carry the same JSON names as the configuration Optimize stores, so
// LoadStudy reads either.
type StudySpec struct {
	Space      Space       `json:"space"`
	Directions []Direction `json:"directions"`
	Objectives []string    `json:"objectives,omitempty"`
	Seed       uint64      `json:"seed"`
	// Strategy is grid, random, sobol or bayesian (ParseSampler).
	Strategy string `json:"strategy,omitempty"`
	Budget   Budget `json:"budget"`
	// Pruner is a ParsePruner name.
	Pruner string `json:"pruner,omitempty"`
	// Parallel is the number of trials suggested per round (the Map's
	// concurrency); default 1.
	Parallel int `json:"parallel,omitempty"`
	// Base is the training configuration every trial starts from (with
	// dataset_path, target_column and positive_class).
	Base *training.TrainingConfig `json:"base_config,omitempty"`
	// StartedAt is when the study was created; the wall-time budget counts
	// from it.
	StartedAt time.Time `json:"started_at"`
}

// ParseSampler returns the sampler of a strategy name: grid, random, sobol
// or bayesian (the default for "").
func ParseSampler(strategy string) (Sampler, error) {
	switch strategy {
	case "grid":
		return GridSearchOptimizer{}, nil
	case "random":
		return RandomSearchOptimizer{}, nil
	case "sobol":
		return RandomSearchOptimizer{Sobol: true}, nil
	case "bayesian", "":
		return BayesianOptimizer{}, nil
	}
	return nil, fmt.Errorf("%w: strategy %q is not grid, random, sobol or bayesian", ErrInvalidStudy, strategy)
}

// Check validates the spec: space, directions, strategy, pruner, budget.
func (sp StudySpec) Check() error {
	s := Study{Space: sp.Space, Directions: sp.Directions, Objectives: sp.Objectives}
	if err := s.Check(); err != nil {
		return err
	}
	if _, err := ParseSampler(sp.Strategy); err != nil {
		return err
	}
	if _, err := ParsePruner(sp.Pruner, 1); err != nil {
		return err
	}
	if sp.Parallel < 0 || sp.Budget.Trials < 0 || sp.Budget.Patience < 0 || sp.Budget.WallTime < 0 || sp.Budget.Dollars < 0 {
		return fmt.Errorf("%w: parallel and budget bounds must not be negative", ErrInvalidStudy)
	}
	if sp.Budget.Trials == 0 && sp.Budget.WallTime == 0 && sp.Budget.Dollars == 0 && sp.Budget.Target == nil && sp.Budget.Patience == 0 {
		return fmt.Errorf("%w: the budget sets no bound (trials, wall time, dollars, target or patience)", ErrInvalidStudy)
	}
	return nil
}

// outcome is what Finalize and MarkFailed add to the study record's State.
type outcome struct {
	StopReason string `json:"stop_reason,omitempty"`
	ReportKey  string `json:"report_key,omitempty"`
	Error      string `json:"error,omitempty"`
	Cause      string `json:"cause,omitempty"`
}

// studyState is the study record's State as the steps write it.
type studyState struct {
	GP      *gpHyper `json:"gp,omitempty"`
	Outcome *outcome `json:"outcome,omitempty"`
}

// CreateStudy stores a new RUNNING study with spec. It returns an error
// wrapping store.ErrConflict if id exists.
func CreateStudy(ctx context.Context, st Stores, id, name string, spec StudySpec) error {
	if err := st.check("create", id); err != nil {
		return err
	}
	if err := spec.Check(); err != nil {
		return fmt.Errorf("create study %s: %w", id, err)
	}
	if spec.StartedAt.IsZero() {
		spec.StartedAt = time.Now().UTC()
	}
	cfg, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("create study %s: encode spec: %w", id, err)
	}
	if err := st.Studies.CreateStudy(ctx, store.Study{ID: id, Name: name, Status: store.Running, Config: cfg}); err != nil {
		return fmt.Errorf("create study %s: %w", id, err)
	}
	return nil
}

// LoadSpec reads a study's record, spec and state (trials included).
func LoadSpec(ctx context.Context, st Stores, id string) (store.Study, StudySpec, *Study, error) {
	if err := st.check("load", id); err != nil {
		return store.Study{}, StudySpec{}, nil, err
	}
	rec, err := st.Studies.GetStudy(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Study{}, StudySpec{}, nil, fmt.Errorf("study %s does not exist: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Study{}, StudySpec{}, nil, fmt.Errorf("load study %s: %w", id, err)
	}
	var spec StudySpec
	if err := json.Unmarshal(rec.Config, &spec); err != nil {
		return rec, spec, nil, fmt.Errorf("load study %s: decode config: %w", id, err)
	}
	s, err := LoadStudy(ctx, st.Studies, st.Trials, id)
	if err != nil {
		return rec, spec, nil, err
	}
	var state studyState
	if len(rec.State) > 0 && json.Unmarshal(rec.State, &state) == nil {
		s.GP = state.GP
	}
	return rec, spec, s, nil
}

// updateState rewrites the study record's State (and status), retrying on
// version conflicts. A CANCELLED study is left as it is
// (ErrStudyFinished), unless status reopens it (RUNNING: the study is
// extended).
func updateState(ctx context.Context, st Stores, id string, status store.Status, edit func(*studyState)) error {
	for range 10 {
		cur, err := st.Studies.GetStudy(ctx, id)
		if err != nil {
			return fmt.Errorf("save study %s: %w", id, err)
		}
		if cur.Status == store.Cancelled && status != store.Running {
			// A cancelled study stays cancelled: an execution still
			// running it (in another process, which a stop reaches only
			// through the store) fails its next step here and ends.
			return studyCancelled{msg: "save study " + id}
		}
		var state studyState
		if len(cur.State) > 0 {
			_ = json.Unmarshal(cur.State, &state)
		}
		edit(&state)
		b, err := json.Marshal(state)
		if err != nil {
			return fmt.Errorf("save study %s: encode state: %w", id, err)
		}
		_, err = st.Studies.UpdateStudy(ctx, id, cur.Version, store.StudyUpdate{Status: status, State: b})
		if !errors.Is(err, store.ErrConflict) {
			if err != nil {
				return fmt.Errorf("save study %s: %w", id, err)
			}
			return nil
		}
	}
	return fmt.Errorf("save study %s: too many concurrent writers: %w", id, store.ErrConflict)
}

// SuggestInput names the study to suggest trials for.
type SuggestInput struct {
	StudyID string `json:"study_id"`
}

// SuggestOutput lists the trials of this round: claimable ones left from
// an earlier round first, then new ones. Exhausted is true when the sampler
// had no new point left. WaitSeconds is positive when the round is empty
// because other workers hold the study's unfinished trials: the machine
// waits that long before planning again.
type SuggestOutput struct {
	StudyID     string `json:"study_id"`
	Trials      []int  `json:"trials"`
	Exhausted   bool   `json:"exhausted"`
	WaitSeconds int    `json:"wait_seconds"`
}

// HeldTrialWait is how long the machine waits when every unfinished trial
// is held by a live claim.
const HeldTrialWait = 30

// Suggest plans one round: up to spec.Parallel trials, no more than the
// trial budget leaves (trials other workers hold count as spent).
// Claimable unfinished trials (WAITING, or a crashed round's whose lease
// expired) are part of the round; the rest are asked from the sampler,
// which sees the unfinished ones as pending, and queued WAITING with
// TrialStore.AddTrials.
// Two concurrent Suggests cannot queue one number twice: the loser's
// AddTrials conflicts and it returns what the winner queued.
func Suggest(ctx context.Context, st Stores, in SuggestInput) (SuggestOutput, error) {
	return suggest(ctx, st, in, 0)
}

func suggest(ctx context.Context, st Stores, in SuggestInput, attempt int) (SuggestOutput, error) {
	rec, spec, s, err := LoadSpec(ctx, st, in.StudyID)
	if err != nil {
		return SuggestOutput{}, err
	}
	if rec.Status == store.Cancelled {
		// Cancelled (CancelStudy) while this execution ran elsewhere: no
		// more trials; the step fails and the execution ends.
		return SuggestOutput{}, studyCancelled{msg: "suggest for study " + in.StudyID}
	}
	out := SuggestOutput{StudyID: in.StudyID, Trials: []int{}}
	sampler, err := ParseSampler(spec.Strategy)
	if err != nil {
		return out, fmt.Errorf("suggest for study %s: %w", in.StudyID, err)
	}
	stored, err := st.Trials.ListTrials(ctx, in.StudyID)
	if err != nil {
		return out, fmt.Errorf("suggest for study %s: %w", in.StudyID, err)
	}
	q := max(1, spec.Parallel)
	finished, held := 0, 0
	var claimable []int
	now := time.Now()
	for _, t := range stored {
		switch {
		case t.State.Finished():
			finished++
		case t.State == store.TrialRunning && t.LeaseUntil.After(now):
			held++ // another worker runs it
		default:
			claimable = append(claimable, t.Number)
		}
	}
	if spec.Budget.Trials > 0 {
		q = min(q, spec.Budget.Trials-finished-held)
	}
	out.Trials = append(out.Trials, claimable[:max(0, min(len(claimable), q))]...)
	want := q - len(out.Trials)
	if want <= 0 {
		if len(out.Trials) == 0 && held > 0 {
			out.WaitSeconds = HeldTrialWait
		}
		return out, nil
	}
	ts, err := s.Ask(ctx, sampler, want)
	if errors.Is(err, ErrSpaceExhausted) {
		out.Exhausted = true
	} else if err != nil {
		return out, fmt.Errorf("suggest for study %s: %w", in.StudyID, err)
	}
	if len(ts) == 0 {
		if len(out.Trials) == 0 && held > 0 {
			out.WaitSeconds = HeldTrialWait
		}
		return out, nil
	}
	add := make([]store.Trial, len(ts))
	for i, t := range ts {
		b, err := json.Marshal(t.Params)
		if err != nil {
			return out, fmt.Errorf("suggest for study %s: encode trial %d params: %w", in.StudyID, t.Number, err)
		}
		add[i] = store.Trial{Number: t.Number, State: store.TrialWaiting, Params: b}
		if _, grid := sampler.(GridSearchOptimizer); grid {
			add[i].Key = GridKey(t.Params)
		}
	}
	if err := st.Trials.AddTrials(ctx, in.StudyID, add); errors.Is(err, store.ErrConflict) {
		// Another Suggest queued these numbers first: plan with its trials.
		if attempt >= 5 {
			return out, fmt.Errorf("suggest for study %s: too many concurrent planners: %w", in.StudyID, err)
		}
		return suggest(ctx, st, in, attempt+1)
	} else if err != nil {
		return out, fmt.Errorf("suggest for study %s: %w", in.StudyID, err)
	}
	gp := s.GP
	if err := updateState(ctx, st, in.StudyID, "", func(state *studyState) { state.GP = gp }); err != nil {
		return out, err
	}
	for _, t := range ts {
		out.Trials = append(out.Trials, t.Number)
	}
	return out, nil
}

// TrialInput names one Map iteration's trial. Number is the trial the round
// planned; RunTrial claims the lowest claimable trial of the study, which
// is Number unless another worker took it first.
type TrialInput struct {
	StudyID string `json:"study_id"`
	Number  int    `json:"number"`
	// Worker names the claimant (default "step"); LeaseSeconds is how long
	// a claim lasts without a report (default 600).
	Worker       string `json:"worker,omitempty"`
	LeaseSeconds int    `json:"lease_seconds,omitempty"`
}

// TrialOutput is the trial's end. Claimed is false when no trial was left to
// claim (a retried iteration whose trial another one finished).
type TrialOutput struct {
	StudyID string           `json:"study_id"`
	Number  int              `json:"number"`
	Claimed bool             `json:"claimed"`
	State   store.TrialState `json:"state,omitempty"`
	Values  []*float64       `json:"values,omitempty"`
	Cost    float64          `json:"cost"`
	Seconds float64          `json:"seconds"`
	Error   string           `json:"error,omitempty"`
	// Attrs are the objective's extras for the trial (TrainingObjective:
	// backend, best_epoch, epochs_run, stop_reason); they are not stored.
	Attrs map[string]any `json:"attrs,omitempty"`
}

// freshPruner brings the other trials' intermediate values up to date from
// the store before each pruning decision, as concurrent Map iterations run
// in separate processes.
type freshPruner struct {
	ctx    context.Context
	next   Pruner
	trials store.TrialStore
}

// ShouldPrune refreshes s (a read error keeps the last view) and asks next.
func (p freshPruner) ShouldPrune(s *Study, number int) bool {
	stored, err := p.trials.ListTrials(p.ctx, s.ID)
	if err == nil {
		for _, st := range stored {
			if st.Number == number {
				continue
			}
			t, err := FromStore(s.Space, st)
			if err != nil {
				continue
			}
			if m := s.Trial(t.Number); m != nil {
				*m = t
			} else {
				s.Trials = append(s.Trials, t)
			}
		}
	}
	return p.next.ShouldPrune(s, number)
}

// RunTrial claims a trial of the study and evaluates it with obj, the
// study's pruner consulted after every report: the trial ends COMPLETE,
// PRUNED or FAILED (an objective error fails the trial, not the step). If
// ctx ends first the trial stays RUNNING and the error is returned; once
// its lease expires another iteration claims it again and resumes from its
// intermediate values (and checkpoints).
func RunTrial(ctx context.Context, st Stores, obj Objective, in TrialInput) (TrialOutput, error) {
	return runTrial(ctx, st, obj, in, tracking.Discard)
}

// runTrial is RunTrial with the trial's end reported to rec (a "tune"
// progress event: trials finished, this one's value, the best so far).
func runTrial(ctx context.Context, st Stores, obj Objective, in TrialInput, rec tracking.Recorder) (TrialOutput, error) {
	out := TrialOutput{StudyID: in.StudyID, Number: in.Number}
	rec0, spec, _, err := LoadSpec(ctx, st, in.StudyID)
	if err != nil {
		return out, err
	}
	if rec0.Status == store.Cancelled {
		return out, studyCancelled{msg: "run trial of study " + in.StudyID}
	}
	epochs := 1
	if spec.Base != nil && spec.Base.Epochs > 0 {
		epochs = spec.Base.Epochs
	}
	pruner, err := ParsePruner(spec.Pruner, epochs)
	if err != nil {
		return out, fmt.Errorf("run trial of study %s: %w", in.StudyID, err)
	}
	worker := in.Worker
	if worker == "" {
		worker = "step"
	}
	lease := 10 * time.Minute
	if in.LeaseSeconds > 0 {
		lease = time.Duration(in.LeaseSeconds) * time.Second
	}
	claimed, err := st.Trials.ClaimTrial(ctx, in.StudyID, worker, time.Now(), lease)
	if errors.Is(err, store.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("run trial of study %s: %w", in.StudyID, err)
	}
	out.Number, out.Claimed = claimed.Number, true
	_, _, s, err := LoadSpec(ctx, st, in.StudyID)
	if err != nil {
		return out, err
	}
	t := s.Trial(claimed.Number)
	if t == nil {
		return out, fmt.Errorf("run trial %d of study %s: %w", claimed.Number, in.StudyID, ErrUnknownTrial)
	}
	o := &HyperparameterOptimizer{Pruner: freshPruner{ctx: ctx, next: pruner, trials: st.Trials}, Budget: spec.Budget,
		Studies: st.Studies, Trials: st.Trials, Worker: worker, Lease: lease, Strategy: spec.Strategy}
	r := &run{o: o, s: s, start: time.Now(), attrs: map[int]map[string]any{}}
	r.rec = rec
	stop := keepLease(ctx, st.Trials, in.StudyID, claimed.Number, worker, lease)
	err = r.evaluate(ctx, *t, obj)
	stop()
	if err != nil {
		if ctx.Err() != nil {
			// Interrupted (a shutdown): give the claim back, so whoever
			// resumes the study claims the trial at once and continues it
			// from its checkpoint and intermediate values.
			_, _ = st.Trials.UpdateTrial(context.WithoutCancel(ctx), in.StudyID, claimed.Number, worker,
				store.TrialUpdate{LeaseUntil: time.Unix(1, 0).UTC()})
		}
		return out, err
	}
	if m := s.Trial(claimed.Number); m != nil {
		out.State, out.Values, out.Cost, out.Seconds, out.Error = m.State, nanToNull(m.Values), m.Cost, m.Seconds, m.Error
	}
	out.Attrs = r.attr(claimed.Number)
	return out, nil
}

// TellInput names the study to decide on; Exhausted is Suggest's flag of
// this round.
type TellInput struct {
	StudyID   string `json:"study_id"`
	Exhausted bool   `json:"exhausted,omitempty"`
}

// TellOutput says whether to run another round and why not.
type TellOutput struct {
	StudyID    string `json:"study_id"`
	Continue   bool   `json:"continue"`
	StopReason string `json:"stop_reason,omitempty"`
	Finished   int    `json:"finished"`
	// Best is the best value so far (single objective; absent before any
	// trial completed).
	Best *float64 `json:"best,omitempty"`
}

// Tell folds the round in (the trials are already in the store) and applies
// the budget and stop rules of Budget: trials, wall time since the study
// started, dollars, target, patience, and a space with no new point and no
// unfinished trial.
func Tell(ctx context.Context, st Stores, in TellInput) (TellOutput, error) {
	_, spec, s, err := LoadSpec(ctx, st, in.StudyID)
	if err != nil {
		return TellOutput{}, err
	}
	out := TellOutput{StudyID: in.StudyID}
	seconds, pending := 0.0, 0
	for _, t := range s.Trials {
		seconds += t.Seconds
		if t.State.Finished() {
			out.Finished++
		} else {
			pending++
		}
	}
	started := spec.StartedAt
	if started.IsZero() {
		started = time.Now()
	}
	out.StopReason = budgetStop(s, spec.Budget, time.Since(started), seconds)
	if out.StopReason == "" && in.Exhausted && pending == 0 {
		out.StopReason = StopExhausted
	}
	if len(s.Directions) == 1 {
		if b, ok := s.Best(); ok {
			v := b.Values[0]
			out.Best = &v
		}
	}
	out.Continue = out.StopReason == ""
	return out, nil
}

// FinalizeInput names the study and why it stopped.
type FinalizeInput struct {
	StudyID    string `json:"study_id"`
	StopReason string `json:"stop_reason,omitempty"`
}

// FinalizeOutput is the study's summary.
type FinalizeOutput struct {
	StudyID    string   `json:"study_id"`
	StopReason string   `json:"stop_reason,omitempty"`
	Trials     int      `json:"trials"`
	BestTrial  *Trial   `json:"best_trial,omitempty"`
	ParetoSize int      `json:"pareto_size,omitempty"`
	ReportKey  string   `json:"report_key,omitempty"`
	Best       *float64 `json:"best,omitempty"`
}

// ReportKey is where Finalize puts a study's HTML report in the artifact
// store.
func ReportKey(studyID string) string { return "studies/" + studyID + "/report.html" }

// Finalize analyses the study (Analyze), writes its HTML report to the
// artifact store (when Stores.Artifacts is set) under ReportKey, and marks
// the study SUCCEEDED with the stop reason.
func Finalize(ctx context.Context, st Stores, in FinalizeInput) (FinalizeOutput, error) {
	_, _, s, err := LoadSpec(ctx, st, in.StudyID)
	if err != nil {
		return FinalizeOutput{}, err
	}
	a := Analyze(s)
	out := FinalizeOutput{StudyID: in.StudyID, StopReason: in.StopReason, Trials: len(s.Trials)}
	if len(s.Directions) == 1 {
		if b, ok := s.Best(); ok {
			b.Intermediate = nil // the summary travels as state machine data; Results has the reports
			out.BestTrial = &b
			v := b.Values[0]
			out.Best = &v
		}
	} else {
		out.ParetoSize = len(s.ParetoFront())
	}
	if st.Artifacts != nil {
		dir, err := os.MkdirTemp("", "orrery-report-")
		if err != nil {
			return out, fmt.Errorf("finalize study %s: %w", in.StudyID, err)
		}
		defer os.RemoveAll(dir)
		if _, err := WriteReport(dir, s, a); err != nil {
			return out, err
		}
		// The plots first, the page last: a stored report.html means its
		// plots are there to download too.
		entries, err := os.ReadDir(dir)
		if err != nil {
			return out, fmt.Errorf("finalize study %s: %w", in.StudyID, err)
		}
		slices.SortFunc(entries, func(x, y os.DirEntry) int {
			return cmp.Compare(boolInt(x.Name() == "report.html"), boolInt(y.Name() == "report.html"))
		})
		for _, e := range entries {
			if err := putFile(ctx, st.Artifacts, path.Join(path.Dir(ReportKey(in.StudyID)), e.Name()), filepath.Join(dir, e.Name())); err != nil {
				return out, fmt.Errorf("finalize study %s: store report: %w", in.StudyID, err)
			}
		}
		out.ReportKey = ReportKey(in.StudyID)
	}
	reason, key := in.StopReason, out.ReportKey
	if err := updateState(ctx, st, in.StudyID, store.Succeeded, func(state *studyState) {
		state.Outcome = &outcome{StopReason: reason, ReportKey: key}
	}); err != nil {
		return out, err
	}
	return out, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// putFile stores the file at name under key.
func putFile(ctx context.Context, a store.ArtifactStore, key, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return a.Put(ctx, key, f)
}

// FailureInput is what the state machine caught: the error's name and
// cause.
type FailureInput struct {
	StudyID string        `json:"study_id"`
	Error   fault.Failure `json:"error"`
}

// MarkFailed marks the study FAILED with the error. Trials left RUNNING
// keep their leases and intermediate values, so an extended study resumes
// them.
func MarkFailed(ctx context.Context, st Stores, in FailureInput) error {
	if err := st.check("mark failed", in.StudyID); err != nil {
		return err
	}
	err := updateState(ctx, st, in.StudyID, store.Failed, func(state *studyState) {
		state.Outcome = &outcome{Error: in.Error.Error, Cause: in.Error.Cause}
	})
	if errors.Is(err, ErrStudyFinished) {
		return nil // cancelled: it stays CANCELLED, with the cancel's reason
	}
	return err
}

// StudyResults is a study's state for reports and the API.
type StudyResults struct {
	StudyID    string         `json:"study_id"`
	Name       string         `json:"name,omitempty"`
	Status     store.Status   `json:"status"`
	StopReason string         `json:"stop_reason,omitempty"`
	Error      string         `json:"error,omitempty"`
	Spec       StudySpec      `json:"spec"`
	BestTrial  *Trial         `json:"best_trial,omitempty"`
	Pareto     []Trial        `json:"pareto_front,omitempty"`
	Trials     []Trial        `json:"trials"`
	Analysis   *Analysis      `json:"analysis,omitempty"`
	ReportKey  string         `json:"report_key,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	Counts     map[string]int `json:"counts"`
}

// Results reads a study's results: status, trials, best trial (or Pareto
// front), analysis once there are finished trials, and the report's key
// once Finalize wrote it.
func Results(ctx context.Context, st Stores, id string) (StudyResults, error) {
	rec, spec, s, err := LoadSpec(ctx, st, id)
	if err != nil {
		return StudyResults{}, err
	}
	out := StudyResults{StudyID: id, Name: rec.Name, Status: rec.Status, Spec: spec, Trials: s.Trials,
		CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt, Counts: map[string]int{}}
	if out.Trials == nil {
		out.Trials = []Trial{}
	}
	for _, t := range s.Trials {
		out.Counts[string(t.State)]++
	}
	var state studyState
	if len(rec.State) > 0 && json.Unmarshal(rec.State, &state) == nil && state.Outcome != nil {
		out.StopReason, out.ReportKey = state.Outcome.StopReason, state.Outcome.ReportKey
		if state.Outcome.Error != "" {
			out.Error = state.Outcome.Error + ": " + state.Outcome.Cause
		}
	}
	if len(s.Directions) == 1 {
		if b, ok := s.Best(); ok {
			out.BestTrial = &b
		}
	} else {
		out.Pareto = s.ParetoFront()
	}
	if slices.ContainsFunc(s.Trials, func(t Trial) bool { return t.State.Finished() }) {
		out.Analysis = Analyze(s)
	}
	return out, nil
}

// TrainingObjectiveFor prepares spec's data (spec.Base names it) and
// returns the objective that trains one network per trial, checkpointing
// under checkpoints (optional).
func TrainingObjectiveFor(ctx context.Context, studyID string, spec StudySpec, checkpoints training.Checkpointer) (TrainingObjective, error) {
	if spec.Base == nil {
		return TrainingObjective{}, fmt.Errorf("objective of study %s: %w: no base_config", studyID, ErrInvalidStudy)
	}
	data, err := PrepareData(ctx, spec.Base.DatasetPath, spec.Base.TargetColumn, spec.Base.PositiveClass, *spec.Base)
	if err != nil {
		return TrainingObjective{}, fmt.Errorf("objective of study %s: %w", studyID, err)
	}
	return TrainingObjective{Data: data, Base: *spec.Base, StudyID: studyID, Checkpoints: checkpoints, Objectives: spec.Objectives}, nil
}

// CheckpointDir is where the embedded runtime keeps a study's trial
// checkpoints below its artifacts directory.
func CheckpointDir(artifacts, studyID string) string {
	return filepath.Join(artifacts, "checkpoints", "studies", studyID)
}

// LayersChoice writes layer widths as a categorical choice ("64-32";
// "0" for none), the form TrainingObjective reads from a hidden_layers
// parameter.
func LayersChoice(layers []int) string {
	if len(layers) == 0 {
		return "0"
	}
	parts := make([]string, len(layers))
	for i, u := range layers {
		parts[i] = strconv.Itoa(u)
	}
	return strings.Join(parts, "-")
}

// ParseLayers reads a LayersChoice.
func ParseLayers(v string) ([]int, error) {
	if v == "0" {
		return []int{}, nil
	}
	var out []int
	for _, f := range strings.Split(v, "-") {
		u, err := strconv.Atoi(f)
		if err != nil || u < 1 {
			return nil, fmt.Errorf("%w: hidden_layers %q is not widths joined by '-' (e.g. 64-32)", ErrInvalidSpace, v)
		}
		out = append(out, u)
	}
	return out, nil
}

// releaseGone ends the leases of the study's RUNNING trials whose worker
// gone reports dead (a process of this machine that was killed), so the
// next claim takes them at once instead of after the lease runs out. A
// lease another worker renewed meanwhile is left alone.
func releaseGone(ctx context.Context, trials store.TrialStore, studyID string, gone func(worker string) bool) error {
	ts, err := trials.ListTrials(ctx, studyID)
	if err != nil {
		return fmt.Errorf("release dead workers' trials of study %s: %w", studyID, err)
	}
	for _, t := range ts {
		if t.State != store.TrialRunning || t.Worker == "" || !gone(t.Worker) {
			continue
		}
		_, err := trials.UpdateTrial(ctx, studyID, t.Number, t.Worker, store.TrialUpdate{LeaseUntil: time.Unix(1, 0).UTC()})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("release trial %d of study %s held by %s: %w", t.Number, studyID, t.Worker, err)
		}
	}
	return nil
}

// keepLease extends a claimed trial's lease every third of it until the
// returned stop is called, so a trial whose steps (epochs) take longer than
// the lease is not claimed by another worker meanwhile. A failed extension
// is left to the next tick; once the trial has finished the update is
// refused and ignored.
func keepLease(ctx context.Context, trials store.TrialStore, studyID string, number int, worker string, lease time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				_, _ = trials.UpdateTrial(ctx, studyID, number, worker, store.TrialUpdate{LeaseUntil: now.Add(lease)})
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
