package deploymentjob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/deployment"
	"github.com/orrery-ml/orrery/shared/store"
)

// Step runs one step of a deployment's execution (deployment.Steps): the
// stages function's deployment requests on AWS, the local executor's task
// on the embedded runtime. A failed gate is ErrGateFailed naming it; a
// check of a deployment asked to roll back is
// deployment.ErrRollbackRequested.
func (s *Service) Step(ctx context.Context, req deployment.StepRequest) (deployment.StepOutput, error) {
	d, err := s.Get(ctx, req.DeploymentID)
	if err != nil {
		return deployment.StepOutput{}, err
	}
	cfg, err := configOf(d)
	if err != nil {
		return deployment.StepOutput{}, err
	}
	switch req.Step {
	case deployment.StepValidate:
		d, err = s.validate(ctx, d, cfg)
	case deployment.StepPublished:
		d, err = s.published(ctx, d, req)
	case deployment.StepShifted:
		d, err = s.shifted(ctx, d, cfg, req)
	case deployment.StepCheck:
		var firing []string
		d, firing, err = s.check(ctx, d, cfg, req)
		if err == nil {
			return deployment.StepOutput{DeploymentID: d.ID, Status: string(d.Status), Firing: firing}, nil
		}
	case deployment.StepPromote:
		d, err = s.promote(ctx, d)
	case deployment.StepRollingBack:
		d, err = s.rollingBack(ctx, d, req)
	case deployment.StepRolledBack:
		d, err = s.rolledBack(ctx, d, req)
	case deployment.StepMarkFailed:
		d, err = s.MarkFailed(ctx, d.ID, failureOf(req.Error))
	default:
		err = fmt.Errorf("%w: step %q", deployment.ErrInvalidRequest, req.Step)
	}
	if err != nil {
		return deployment.StepOutput{}, fmt.Errorf("deployment %s: %s: %w", req.DeploymentID, req.Step, err)
	}
	return deployment.StepOutput{DeploymentID: d.ID, Status: string(d.Status)}, nil
}

func failureOf(f *fault.Failure) fault.Failure {
	if f == nil {
		return fault.Failure{Error: fault.Internal.Name(), Cause: "the execution gave no reason"}
	}
	return *f
}

func (s *Service) event(kind, format string, args ...any) store.DeploymentEvent {
	return store.DeploymentEvent{Time: s.now().UTC(), Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// validate runs the model validator against the endpoint's live model and
// records every gate with its figures; a failed gate fails the step.
func (s *Service) validate(ctx context.Context, d store.Deployment, cfg Config) (store.Deployment, error) {
	if err := s.renew(ctx, d); err != nil {
		return d, err
	}
	v := deployment.ModelValidator{Models: s.Models, Artifacts: s.Artifacts, ReadTable: s.ReadTable, Scorers: s.Scorers, Samples: s.Samples}
	rep, err := v.Validate(ctx, cfg.Spec, d.PreviousModelID)
	if err != nil {
		return d, err
	}
	gates, err := json.Marshal(rep.Gates)
	if err != nil {
		return d, fmt.Errorf("encode gates: %w", err)
	}
	result, err := json.Marshal(Result{Band: &rep.Band})
	if err != nil {
		return d, fmt.Errorf("encode result: %w", err)
	}
	u := store.DeploymentUpdate{Stage: deployment.StageValidate, Gates: gates, Result: result}
	failed := rep.Failure()
	if failed == nil {
		var names []string
		for _, g := range rep.Gates {
			names = append(names, g.Name+" "+g.Status)
		}
		u.AddEvents = []store.DeploymentEvent{s.event("validated", "gates: %s", strings.Join(names, ", "))}
	} else {
		u.AddEvents = []store.DeploymentEvent{s.event("gate_failed", "%s: %s", failed.Name, failed.Detail)}
	}
	if d, err = s.Records.UpdateDeployment(ctx, d.ID, u); err != nil {
		return d, err
	}
	if failed != nil {
		return d, fmt.Errorf("%w: gate %s: %s", ErrGateFailed, failed.Name, failed.Detail)
	}
	return d, nil
}

func (s *Service) published(ctx context.Context, d store.Deployment, req deployment.StepRequest) (store.Deployment, error) {
	if err := s.renew(ctx, d); err != nil {
		return d, err
	}
	return s.Records.UpdateDeployment(ctx, d.ID, store.DeploymentUpdate{Stage: deployment.StagePublish, Version: req.Version,
		PreviousVersion: req.PreviousVersion, AddEvents: []store.DeploymentEvent{
			s.event("published", "version %s of the predict function serves model %s (the alias served version %s)",
				req.Version, d.ModelID, req.PreviousVersion),
		}})
}

// shifted records a traffic shift: the first moves the deployment to
// IN_PROGRESS (and the model to the registry's challenger).
func (s *Service) shifted(ctx context.Context, d store.Deployment, cfg Config, req deployment.StepRequest) (store.Deployment, error) {
	if req.Percent == nil {
		return d, fmt.Errorf("%w: a shift needs its percent", deployment.ErrInvalidRequest)
	}
	if err := s.renew(ctx, d); err != nil {
		return d, err
	}
	pct := *req.Percent
	stage := req.Stage
	if stage == "" {
		stage = deployment.StageShift
	}
	ev := s.event("shifted", "%d %% of endpoint %s to model %s", pct, d.Endpoint, d.ModelID)
	ev.Traffic = &pct
	events := []store.DeploymentEvent{ev}
	if stage == deployment.StageBake {
		if w := bakeSeconds(cfg.Plan, pct); w > 0 {
			events = append(events, s.event("bake", "baking %d s at %d %%, watching the alarms", w, pct))
		}
	}
	u := store.DeploymentUpdate{Stage: stage, TrafficPercent: &pct, AddEvents: events}
	if d.Status == store.DeploymentPending {
		u.Status = store.DeploymentInProgress
		s.setAlias(ctx, d, store.AliasChallenger)
	}
	return s.Records.UpdateDeployment(ctx, d.ID, u)
}

// bakeSeconds is how long the plan watches at the share pct.
func bakeSeconds(p deployment.Plan, pct int) int {
	for _, st := range p.Steps {
		if st.Percent == pct {
			return st.Checks * st.CheckSeconds
		}
	}
	return 0
}

// check reads the alarms' figures on the traffic window and records them
// (an event for each alarm that turns to ALARM); on AWS it also puts the
// score-drift and positive-rate metrics the CloudWatch alarms watch.
func (s *Service) check(ctx context.Context, d store.Deployment, cfg Config, req deployment.StepRequest) (store.Deployment, []string, error) {
	for _, e := range d.Events {
		if e.Kind == eventRollbackRequested {
			return d, nil, fmt.Errorf("%w: %s", deployment.ErrRollbackRequested, e.Message)
		}
	}
	if err := s.renew(ctx, d); err != nil {
		return d, nil, err
	}
	readings, err := s.Readings(ctx, d, cfg)
	if err != nil {
		return d, nil, err
	}
	var before []deployment.Reading
	_ = json.Unmarshal(d.Alarms, &before)
	was := map[string]string{}
	for _, r := range before {
		was[r.Name] = r.State
	}
	var events []store.DeploymentEvent
	var firing []string
	where := checkPosition(cfg.Plan, req)
	for _, r := range readings {
		if r.State == deployment.StateAlarm {
			firing = append(firing, r.Name)
			if was[r.Name] != deployment.StateAlarm {
				events = append(events, s.event("alarm", "%s in ALARM at %s: %s", r.Kind, where, r.Reason))
			}
		}
	}
	raw, err := json.Marshal(readings)
	if err != nil {
		return d, nil, fmt.Errorf("encode alarms: %w", err)
	}
	u := store.DeploymentUpdate{Alarms: raw, AddEvents: events}
	if req.Stage != "" {
		u.Stage = req.Stage
	}
	d, err = s.Records.UpdateDeployment(ctx, d.ID, u)
	return d, firing, err
}

// checkPosition says where in the plan a check is: "check 5 of 10 at 20 %
// (15 s of 30 s)".
func checkPosition(p deployment.Plan, req deployment.StepRequest) string {
	if req.Percent == nil || req.Check == nil {
		return "a check"
	}
	for _, st := range p.Steps {
		if st.Percent == *req.Percent {
			n := *req.Check + 1
			return fmt.Sprintf("check %d of %d at %d %% (%d s of %d s)", n, st.Checks, st.Percent, n*st.CheckSeconds, st.Checks*st.CheckSeconds)
		}
	}
	return fmt.Sprintf("check %d at %d %%", *req.Check+1, *req.Percent)
}

// Readings reads every alarm of the deployment on the current traffic
// window, and puts the figures CloudWatch's alarms watch when a
// MetricWriter is set.
func (s *Service) Readings(ctx context.Context, d store.Deployment, cfg Config) ([]deployment.Reading, error) {
	window := time.Duration(cfg.Spec.Alarms.WindowSeconds) * time.Second
	models := []string{d.ModelID}
	if d.PreviousModelID != "" {
		models = append(models, d.PreviousModelID)
	}
	// Without traffic statistics (a process that serves no endpoint) every
	// alarm has insufficient data and none fires.
	stats := map[string]deployment.VersionStats{}
	if s.Traffic != nil {
		var err error
		if stats, err = s.Traffic.Window(ctx, d.Environment, d.Endpoint, models, window); err != nil {
			return nil, fmt.Errorf("check deployment %s: traffic: %w", d.ID, err)
		}
	}
	var res Result
	_ = json.Unmarshal(d.Result, &res)
	band := deployment.PositiveRateBand{Unavailable: "validation has not run"}
	if res.Band != nil {
		band = *res.Band
	}
	w := deployment.Watch{Alarms: cfg.Spec.Alarms, Band: band, Names: cfg.Alarms, NewModel: d.ModelID, LiveModel: d.PreviousModelID}
	readings := w.Evaluate(stats)
	if s.Metrics != nil {
		next, live := stats[d.ModelID], stats[d.PreviousModelID]
		values := map[string]float64{}
		if d.PreviousModelID != "" {
			values[deployment.MetricScoreDrift] = deployment.ScoreDriftMetric(deployment.PSI(next.ScoreHistogram, live.ScoreHistogram),
				cfg.Spec.Alarms.MinRequests)
		}
		if band.Unavailable == "" && next.Predictions() >= int64(cfg.Spec.Alarms.MinRequests) {
			win := deployment.Wilson(next.Positives, next.Predictions(), cfg.Spec.Alarms.PositiveRateConfidence)
			values[deployment.MetricPositiveRateDeviation] = deployment.PositiveRateDeviation(win, band.Interval)
		}
		if len(values) > 0 {
			if err := s.Metrics.PutDeploymentMetrics(ctx, d.Environment, d.Endpoint, d.ModelID, values); err != nil {
				return nil, fmt.Errorf("check deployment %s: put metrics: %w", d.ID, err)
			}
		}
	}
	return readings, nil
}

// promote records the promotion: the endpoint's live model (and its lock
// released) first, so that a client who sees SUCCEEDED may deploy again at
// once, then the registry's champion, then SUCCEEDED.
func (s *Service) promote(ctx context.Context, d store.Deployment) (store.Deployment, error) {
	if _, err := s.modifyEndpoint(ctx, d.Environment, d.Endpoint, false, func(e *store.Endpoint) error {
		if e.Locked(s.now()) && e.LockedBy != d.ID {
			return fmt.Errorf("deployment %s holds the endpoint: %w", e.LockedBy, ErrLocked)
		}
		e.LiveModelID, e.Routes = d.ModelID, map[string]int{d.ModelID: 100}
		e.LockedBy, e.LockedUntil = "", time.Time{}
		return nil
	}); err != nil {
		return d, err
	}
	// The registry's aliases before the status: who sees SUCCEEDED sees
	// the champion moved and the challenger gone.
	s.setAlias(ctx, d, store.AliasChampion)
	s.moveLive(ctx, d)
	s.removeChallenger(ctx, d)
	d, err := s.Records.UpdateDeployment(ctx, d.ID, store.DeploymentUpdate{Status: store.DeploymentSucceeded, Stage: deployment.StagePromote,
		AddEvents: []store.DeploymentEvent{s.event("promoted", "model %s serves all of endpoint %s in %s", d.ModelID, d.Endpoint, d.Environment)}})
	if err != nil {
		return d, err
	}
	s.log().Info("deployment promoted", "deployment_id", d.ID, "model_id", d.ModelID, "endpoint", d.Endpoint, "environment", d.Environment)
	return d, nil
}

// rollingBack records that the rollback begins, and why.
func (s *Service) rollingBack(ctx context.Context, d store.Deployment, req deployment.StepRequest) (store.Deployment, error) {
	f := failureOf(req.Error)
	if d.Status == store.DeploymentPending {
		// Traffic may have moved without its record (a failed RecordShift).
		var err error
		if d, err = s.Records.UpdateDeployment(ctx, d.ID, store.DeploymentUpdate{Status: store.DeploymentInProgress}); err != nil {
			return d, err
		}
	}
	return s.Records.UpdateDeployment(ctx, d.ID, store.DeploymentUpdate{Status: store.DeploymentRollingBack, Stage: deployment.StageRollback,
		Error: f.Message(), AddEvents: []store.DeploymentEvent{s.event("rolling_back", "returning all traffic to %s: %s", previousName(d), f.Message())}})
}

// rolledBack records the end of a rollback: ROLLED_BACK, the reason, an
// alert, the lock released.
func (s *Service) rolledBack(ctx context.Context, d store.Deployment, req deployment.StepRequest) (store.Deployment, error) {
	f := failureOf(req.Error)
	var err error
	if d.Status == store.DeploymentPending || d.Status == store.DeploymentInProgress {
		if d, err = s.rollingBack(ctx, d, req); err != nil {
			return d, err
		}
	}
	alert := fmt.Sprintf("deployment %s of model %s to endpoint %s in %s was rolled back: %s", d.ID, d.ModelID, d.Endpoint, d.Environment, f.Message())
	// The lock first: a client who sees ROLLED_BACK may deploy again at once.
	s.unlock(ctx, d.Environment, d.Endpoint, d.ID, nil)
	s.removeChallenger(ctx, d) // before the status, like the lock
	d, err = s.Records.UpdateDeployment(ctx, d.ID, store.DeploymentUpdate{Status: store.DeploymentRolledBack, Stage: deployment.StageRollback,
		Error: f.Message(), AddEvents: []store.DeploymentEvent{
			s.event("rolled_back", "all traffic is back on %s", previousName(d)),
			s.event("alert", "%s", alert),
		}})
	if err != nil {
		return d, err
	}
	s.log().Warn("deployment rolled back", "deployment_id", d.ID, "model_id", d.ModelID, "endpoint", d.Endpoint,
		"environment", d.Environment, "reason", f.Message())
	return d, nil
}

func previousName(d store.Deployment) string {
	if d.PreviousModelID == "" {
		return "nothing (the endpoint's first deployment)"
	}
	return "model " + d.PreviousModelID
}

// MarkFailed records a failure: FAILED with the reason, an alert, the
// lock released. A deployment that has ended is left as it is.
func (s *Service) MarkFailed(ctx context.Context, id string, f fault.Failure) (store.Deployment, error) {
	d, err := s.Get(ctx, id)
	if err != nil {
		return d, err
	}
	if d.Status.Terminal() {
		return d, nil
	}
	reason := f.Message()
	if _, gate, ok := strings.Cut(f.Cause, ErrGateFailed.Error()+": "); ok {
		// "validation failed: gate champion_comparison: ...", without the
		// step's wrapping.
		reason = "validation failed: " + gate
	}
	alert := fmt.Sprintf("deployment %s of model %s to endpoint %s in %s failed: %s", d.ID, d.ModelID, d.Endpoint, d.Environment, reason)
	// The lock first: a client who sees FAILED may deploy again at once.
	s.unlock(ctx, d.Environment, d.Endpoint, d.ID, nil)
	s.removeChallenger(ctx, d)
	d, err = s.Records.UpdateDeployment(ctx, id, store.DeploymentUpdate{Status: store.DeploymentFailed, Error: reason,
		AddEvents: []store.DeploymentEvent{s.event("failed", "%s", reason), s.event("alert", "%s", alert)}})
	if errors.Is(err, store.ErrConflict) {
		return s.Get(ctx, id)
	}
	if err != nil {
		return d, err
	}
	s.log().Warn("deployment failed", "deployment_id", d.ID, "model_id", d.ModelID, "endpoint", d.Endpoint,
		"environment", d.Environment, "reason", reason)
	return d, nil
}

// setAlias points a registry alias of the model's name at it.
func (s *Service) setAlias(ctx context.Context, d store.Deployment, alias string) {
	if s.Aliases == nil {
		return
	}
	m, err := s.Models.GetModel(ctx, d.ModelID)
	if err == nil && m.Name != "" {
		err = s.Aliases.SetModelAlias(ctx, store.ModelAlias{Environment: d.Environment, Name: m.Name, Alias: alias, ModelID: d.ModelID,
			Endpoint: d.Endpoint, UpdatedAt: s.now()})
	}
	if err != nil {
		s.log().Error("set registry alias", "alias", alias, "model_id", d.ModelID, "error", err.Error())
	}
}

// moveLive points the endpoint's live registry alias
// (store.LiveRegistryAlias) at the promoted model, and removes it from the
// endpoint's previous model when that one is of another name (the alias of
// a name names a version of that name only).
func (s *Service) moveLive(ctx context.Context, d store.Deployment) {
	if s.Aliases == nil {
		return
	}
	alias := store.LiveRegistryAlias(d.Endpoint)
	s.setAlias(ctx, d, alias)
	if d.PreviousModelID == "" || d.PreviousModelID == d.ModelID {
		return
	}
	prev, err := s.Models.GetModel(ctx, d.PreviousModelID)
	if err == nil {
		var cur store.Model
		if cur, err = s.Models.GetModel(ctx, d.ModelID); err == nil && prev.Name != "" && prev.Name != cur.Name {
			err = s.Aliases.RemoveModelAlias(ctx, d.Environment, prev.Name, alias, prev.ID)
		}
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log().Error("remove registry alias", "alias", alias, "model_id", d.PreviousModelID, "error", err.Error())
	}
}

func (s *Service) removeChallenger(ctx context.Context, d store.Deployment) {
	if s.Aliases == nil {
		return
	}
	m, err := s.Models.GetModel(ctx, d.ModelID)
	if err == nil && m.Name != "" {
		err = s.Aliases.RemoveModelAlias(ctx, d.Environment, m.Name, store.AliasChallenger, d.ModelID)
	}
	if err != nil {
		s.log().Error("remove registry alias", "alias", store.AliasChallenger, "model_id", d.ModelID, "error", err.Error())
	}
}
