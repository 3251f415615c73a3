package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// DeploymentStatus is a deployment's state:
//
//	PENDING -> IN_PROGRESS -> SUCCEEDED | FAILED | ROLLING_BACK
//	PENDING -> FAILED (a validation gate refused the model)
//	ROLLING_BACK -> ROLLED_BACK | FAILED (the rollback itself failed)
//
// SUCCEEDED, FAILED and ROLLED_BACK are terminal. A promoted deployment is
// undone by a new deployment of the previous model, not by moving its
// record.
type DeploymentStatus string

// Deployment statuses.
const (
	DeploymentPending     DeploymentStatus = "PENDING"
	DeploymentInProgress  DeploymentStatus = "IN_PROGRESS"
	DeploymentSucceeded   DeploymentStatus = "SUCCEEDED"
	DeploymentFailed      DeploymentStatus = "FAILED"
	DeploymentRollingBack DeploymentStatus = "ROLLING_BACK"
	DeploymentRolledBack  DeploymentStatus = "ROLLED_BACK"
)

// DeploymentStatuses returns every deployment status, in lifecycle order.
func DeploymentStatuses() []DeploymentStatus {
	return []DeploymentStatus{DeploymentPending, DeploymentInProgress, DeploymentSucceeded,
		DeploymentFailed, DeploymentRollingBack, DeploymentRolledBack}
}

// Known reports whether s is one of the deployment statuses.
func (s DeploymentStatus) Known() bool { return slices.Contains(DeploymentStatuses(), s) }

// Terminal reports whether no transition leaves s.
func (s DeploymentStatus) Terminal() bool {
	return s == DeploymentSucceeded || s == DeploymentFailed || s == DeploymentRolledBack
}

// CanTransition reports whether a deployment may move from s to next.
func (s DeploymentStatus) CanTransition(next DeploymentStatus) bool {
	switch s {
	case DeploymentPending:
		return next == DeploymentInProgress || next == DeploymentFailed
	case DeploymentInProgress:
		return next == DeploymentSucceeded || next == DeploymentFailed || next == DeploymentRollingBack
	case DeploymentRollingBack:
		return next == DeploymentRolledBack || next == DeploymentFailed
	}
	return false
}

// impliedTraffic returns the traffic percent a status fixes: nothing has
// shifted while PENDING, a promoted deployment serves all of the alias's
// traffic and a rolled-back one none of it.
func (s DeploymentStatus) impliedTraffic() (int, bool) {
	switch s {
	case DeploymentPending, DeploymentRolledBack:
		return 0, true
	case DeploymentSucceeded:
		return 100, true
	}
	return 0, false
}

// DeploymentStrategy is how traffic moves to the new version.
type DeploymentStrategy string

// Deployment strategies (the values of the API's DeploymentRequest.strategy).
const (
	// StrategyAllAtOnce shifts all traffic in one step.
	StrategyAllAtOnce DeploymentStrategy = "all_at_once"
	// StrategyCanary sends a share of the traffic to the new version while it
	// bakes, then all of it.
	StrategyCanary DeploymentStrategy = "canary"
	// StrategyLinear adds a share at every interval.
	StrategyLinear DeploymentStrategy = "linear"
)

// Known reports whether s is one of the strategies.
func (s DeploymentStrategy) Known() bool {
	return s == StrategyAllAtOnce || s == StrategyCanary || s == StrategyLinear
}

// LiveAlias is the alias of the predict function that serves users.
const LiveAlias = "live"

// DeploymentEvent is one entry of a deployment's timeline: a stage that
// began or ended, a traffic shift, an alarm that fired, an alert sent.
type DeploymentEvent struct {
	Time time.Time `json:"time"`
	// Kind names what happened (validated, published, shifted, alarm,
	// promoted, rolled_back, failed, alert, rollback_requested, ...).
	Kind string `json:"kind"`
	// Message says it in words.
	Message string `json:"message"`
	// Traffic is the share of the deployment's version after a shift.
	Traffic *int `json:"traffic_percent,omitempty"`
}

// Deployment is the record of putting a registered model behind an alias of
// the predict endpoint (flow 4 of the architecture): the model validator's
// gates, the published version, the traffic shift, the bake and the
// promotion or rollback.
type Deployment struct {
	ID      string `json:"deployment_id"`
	ModelID string `json:"model_id"`
	// PreviousModelID is the model the alias served before this deployment
	// (empty for the first one): what a rollback returns to.
	PreviousModelID string `json:"previous_model_id,omitempty"`
	// Alias is the alias whose traffic moves (LiveAlias).
	Alias string `json:"alias"`
	// Environment (dev, staging, prod) and Endpoint name the endpoint whose
	// traffic moves: on AWS the predict function of the environment's stack
	// and its alias named after the endpoint, on the embedded runtime the
	// EndpointStore's record.
	Environment string             `json:"environment"`
	Endpoint    string             `json:"endpoint"`
	Strategy    DeploymentStrategy `json:"strategy"`
	// Version is the predict function version published for ModelID, once
	// it is; PreviousVersion the one the alias pointed at before.
	Version         string `json:"version,omitempty"`
	PreviousVersion string `json:"previous_version,omitempty"`
	// TrafficPercent is the share of the alias's traffic now on Version,
	// 0..100.
	TrafficPercent int              `json:"traffic_percent"`
	Status         DeploymentStatus `json:"status"`
	// Stage is the step now running (validate, publish, shift, bake,
	// promote, rollback).
	Stage string `json:"stage,omitempty"`
	// Config is the deployment's normalised request as JSON (canary and
	// linear percentages, interval, bake time, alarms, gates).
	Config json.RawMessage `json:"config,omitempty"`
	// Gates holds the model validator's checks and their results as JSON.
	Gates json.RawMessage `json:"gates,omitempty"`
	// Result is the outcome as JSON (the alarm that fired, timings, ...).
	Result json.RawMessage `json:"result,omitempty"`
	// Alarms holds the latest reading of the alarms watched while the
	// deployment shifts and bakes (each with its value and threshold), as
	// JSON.
	Alarms json.RawMessage `json:"alarms,omitempty"`
	// Events is the timeline, oldest first.
	Events []DeploymentEvent `json:"events,omitempty"`
	// Error says why a FAILED or rolled-back deployment did not promote.
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Check returns ErrInvalid (wrapped, naming the field) unless d can be
// stored: ids, the model ids, the alias, the environment and the endpoint
// pass CheckID (PreviousModelID may be empty), strategy and status are
// known, TrafficPercent is in 0..100 and agrees with the status (0 while
// PENDING and once ROLLED_BACK, 100 once SUCCEEDED), Config, Gates, Result
// and Alarms are empty or JSON, and every event has a kind.
func (d Deployment) Check() error {
	if err := CheckID("deployment id", d.ID); err != nil {
		return err
	}
	if err := CheckID("model id", d.ModelID); err != nil {
		return err
	}
	if d.PreviousModelID != "" {
		if err := CheckID("previous model id", d.PreviousModelID); err != nil {
			return err
		}
	}
	if err := CheckID("alias", d.Alias); err != nil {
		return err
	}
	if err := CheckID("environment", d.Environment); err != nil {
		return err
	}
	if err := CheckID("endpoint", d.Endpoint); err != nil {
		return err
	}
	if err := checkEvents(d.Events); err != nil {
		return err
	}
	if !d.Strategy.Known() {
		return fmt.Errorf("strategy %q is not all_at_once, canary or linear: %w", d.Strategy, ErrInvalid)
	}
	if !d.Status.Known() {
		return fmt.Errorf("deployment status %q: %w", d.Status, ErrInvalid)
	}
	if err := checkTraffic(d.TrafficPercent); err != nil {
		return err
	}
	if want, ok := d.Status.impliedTraffic(); ok && d.TrafficPercent != want {
		return fmt.Errorf("traffic percent %d: a %s deployment has %d: %w", d.TrafficPercent, d.Status, want, ErrInvalid)
	}
	return checkRawJSON(map[string][]byte{"config": d.Config, "gates": d.Gates, "result": d.Result, "alarms": d.Alarms})
}

// checkEvents refuses an event without a kind.
func checkEvents(events []DeploymentEvent) error {
	for i, e := range events {
		if e.Kind == "" {
			return fmt.Errorf("event %d has no kind: %w", i, ErrInvalid)
		}
	}
	return nil
}

// DeploymentUpdate lists the deployment fields to change; nil and empty
// fields are left as they are.
type DeploymentUpdate struct {
	Status DeploymentStatus
	Stage  string
	// TrafficPercent, when set, is the new share on Version (0..100).
	TrafficPercent *int
	Version        string
	// PreviousVersion records the version the alias served before.
	PreviousVersion string
	Gates           json.RawMessage
	Result          json.RawMessage
	// Alarms replaces the stored alarm reading.
	Alarms json.RawMessage
	// AddEvents are appended to the timeline (in the same write).
	AddEvents []DeploymentEvent
	Error     string
}

// Check returns ErrInvalid (wrapped) for an unknown status, a traffic
// percent outside 0..100 or other than the one the new status fixes (100
// for SUCCEEDED, 0 for ROLLED_BACK), Gates, Result or Alarms that are not
// JSON, or an event without a kind.
func (u DeploymentUpdate) Check() error {
	if u.Status != "" && !u.Status.Known() {
		return fmt.Errorf("deployment status %q: %w", u.Status, ErrInvalid)
	}
	if u.TrafficPercent != nil {
		if err := checkTraffic(*u.TrafficPercent); err != nil {
			return err
		}
		if want, ok := u.Status.impliedTraffic(); ok && *u.TrafficPercent != want {
			return fmt.Errorf("traffic percent %d: a %s deployment has %d: %w", *u.TrafficPercent, u.Status, want, ErrInvalid)
		}
	}
	if err := checkEvents(u.AddEvents); err != nil {
		return err
	}
	return checkRawJSON(map[string][]byte{"gates": u.Gates, "result": u.Result, "alarms": u.Alarms})
}

// Traffic returns the traffic percent the update writes: the one its new
// status fixes (SUCCEEDED 100, ROLLED_BACK 0), else TrafficPercent.
func (u DeploymentUpdate) Traffic() (int, bool) {
	if u.Status != "" {
		if pct, ok := u.Status.impliedTraffic(); ok {
			return pct, true
		}
	}
	if u.TrafficPercent != nil {
		return *u.TrafficPercent, true
	}
	return 0, false
}

// WritableFrom returns the stored statuses from which an adapter may apply
// u in its conditional write:
//
//   - with a status change, those that CanTransition to u.Status; without
//     one, the statuses that are not terminal — a finished deployment's
//     record is final;
//   - an explicit TrafficPercent narrows that to IN_PROGRESS, unless u moves
//     the deployment to IN_PROGRESS (the first shift may start it) or its new
//     status fixes the percent.
//
// An empty result means no stored status allows u (ErrConflict).
func (u DeploymentUpdate) WritableFrom() []DeploymentStatus {
	_, fixed := u.Status.impliedTraffic()
	trafficOnly := u.TrafficPercent != nil && u.Status != DeploymentInProgress && !fixed
	var from []DeploymentStatus
	for _, s := range DeploymentStatuses() {
		ok := u.Status == "" && !s.Terminal() || u.Status != "" && s.CanTransition(u.Status)
		if trafficOnly && s != DeploymentInProgress {
			ok = false
		}
		if ok {
			from = append(from, s)
		}
	}
	return from
}

// RefusedReason says why u may not be applied to a deployment in status
// stored, for the ErrConflict an adapter returns. stored is read after the
// refused write, so it may be a status another writer set meanwhile.
func (u DeploymentUpdate) RefusedReason(stored DeploymentStatus) string {
	switch {
	case slices.Contains(u.WritableFrom(), stored):
		return fmt.Sprintf("another writer moved the deployment (now %s) while this update was written", stored)
	case u.Status != "" && !stored.CanTransition(u.Status):
		return fmt.Sprintf("status %s cannot become %s", stored, u.Status)
	case u.Status == "" && stored.Terminal():
		return fmt.Sprintf("deployment is %s and can no longer change", stored)
	default:
		return fmt.Sprintf("deployment is %s: traffic percent changes only while IN_PROGRESS", stored)
	}
}

// DeploymentFilter selects deployments to list; empty fields select all.
type DeploymentFilter struct {
	// ModelID keeps the deployments of that model.
	ModelID string
	// Alias keeps the deployments to that alias.
	Alias string
	// Environment and Endpoint keep the deployments to that environment and
	// endpoint.
	Environment, Endpoint string
	// Limit is the most to return (0 = all); negative is ErrInvalid.
	Limit int
}

// Check returns ErrInvalid (wrapped) for a negative limit or a non-empty
// model id, alias, environment or endpoint that CheckID refuses.
func (f DeploymentFilter) Check() error {
	if f.Limit < 0 {
		return fmt.Errorf("limit %d: %w", f.Limit, ErrInvalid)
	}
	for _, c := range []struct{ what, v string }{
		{"model id", f.ModelID}, {"alias", f.Alias}, {"environment", f.Environment}, {"endpoint", f.Endpoint},
	} {
		if c.v == "" {
			continue
		}
		if err := CheckID(c.what, c.v); err != nil {
			return err
		}
	}
	return nil
}

// Matches reports whether d is one the filter selects (its limit aside).
func (f DeploymentFilter) Matches(d Deployment) bool {
	return (f.ModelID == "" || d.ModelID == f.ModelID) && (f.Alias == "" || d.Alias == f.Alias) &&
		(f.Environment == "" || d.Environment == f.Environment) && (f.Endpoint == "" || d.Endpoint == f.Endpoint)
}

// DeploymentStore keeps deployment records. Status changes are conditional
// writes, so a late or duplicated event never moves a finished deployment
// and of racing transitions exactly one wins.
//
// Rules every adapter follows (storetest.TestDeploymentStore checks them):
// Deployment.Check, DeploymentUpdate.Check and DeploymentFilter.Check
// failures are ErrInvalid and store nothing; a zero CreatedAt is set to the
// current time and a zero UpdatedAt to CreatedAt; an update may be applied
// only from the statuses DeploymentUpdate.WritableFrom lists, else
// ErrConflict; Gates, Result, Alarms, events, Version, Stage and Error may
// land in the same write as the terminal transition; AddEvents are appended
// to the stored timeline by the same conditional write.
type DeploymentStore interface {
	// CreateDeployment stores a new deployment. Returns ErrConflict if the id
	// exists, ErrInvalid if d fails Deployment.Check.
	CreateDeployment(ctx context.Context, d Deployment) error
	// GetDeployment returns the deployment, ErrNotFound if it does not exist.
	GetDeployment(ctx context.Context, id string) (Deployment, error)
	// UpdateDeployment applies u in one conditional write and returns the
	// deployment as that write left it (UpdatedAt now). Returns ErrConflict
	// when the stored status forbids u, ErrNotFound if the deployment does
	// not exist.
	UpdateDeployment(ctx context.Context, id string, u DeploymentUpdate) (Deployment, error)
	// ListDeployments returns the deployments f selects, newest first (by
	// CreatedAt, then by id, descending).
	ListDeployments(ctx context.Context, f DeploymentFilter) ([]Deployment, error)
}

// LiveDeployments answers what an endpoint serves now; the rollback manager
// reads it to know what to return to.
type LiveDeployments interface {
	// LiveDeployment returns the endpoint's latest SUCCEEDED deployment in
	// the environment: the one that succeeded last (by UpdatedAt, which a
	// terminal record keeps, then by CreatedAt and id). Returns ErrNotFound
	// when none of its deployments succeeded, ErrInvalid for an environment
	// or endpoint CheckID refuses.
	LiveDeployment(ctx context.Context, environment, endpoint string) (Deployment, error)
}

// checkTraffic refuses a percent outside 0..100.
func checkTraffic(pct int) error {
	if pct < 0 || pct > 100 {
		return fmt.Errorf("traffic percent %d is not in 0..100: %w", pct, ErrInvalid)
	}
	return nil
}

// checkRawJSON refuses the first (by name) non-empty field that is not JSON.
func checkRawJSON(fields map[string][]byte) error {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if raw := fields[name]; len(raw) > 0 && !json.Valid(raw) {
			return fmt.Errorf("%s is not valid JSON: %w", name, ErrInvalid)
		}
	}
	return nil
}
