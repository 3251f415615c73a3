package deploymentjob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/deployment"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store"
)

// Errors of the service.
var (
	// ErrLocked: another deployment holds the endpoint.
	ErrLocked = fault.New(fault.Conflict, "deploymentjob: endpoint is being deployed")
	// ErrNotServed: the runtime does not serve the environment.
	ErrNotServed = fault.New(fault.Invalid, "deploymentjob: environment not served here")
	// ErrGateFailed: a gate of the model validator refused the model.
	ErrGateFailed = fault.New(fault.Invalid, "deploymentjob: validation failed")
	// ErrAlreadyLive: the model is what the endpoint serves.
	ErrAlreadyLive = fault.New(fault.Conflict, "deploymentjob: already live")
	// ErrStart: the execution could not be started.
	ErrStart = fault.New(fault.Unavailable, "deploymentjob: could not start the deployment")
)

// IDPrefix starts every deployment id.
const IDPrefix = "dep"

// DefaultLockTTL is how long an endpoint's lock holds without being
// renewed: every step renews it, and the longest wait between two steps is
// a check's (at most a few minutes).
const DefaultLockTTL = 15 * time.Minute

// Records is what the service keeps deployments in.
type Records interface {
	store.DeploymentStore
	store.LiveDeployments
}

// Starter starts a deployment's execution (pipeline.Flows).
type Starter interface {
	// StartDeployment starts the execution named after in.DeploymentID and
	// returns once it is accepted.
	StartDeployment(ctx context.Context, in pipeline.DeploymentInput) error
}

// Traffic reads the traffic of an endpoint's model versions: the serving
// side's statistics on the embedded runtime, CloudWatch's metrics on AWS.
type Traffic interface {
	// Window returns the traffic of each of models on the endpoint over the
	// last window, by model id (a model without traffic may be absent).
	Window(ctx context.Context, environment, endpoint string, models []string, window time.Duration) (map[string]deployment.VersionStats, error)
}

// MetricWriter puts the model-quality figures the check step computes
// where the alarms watch them (CloudWatch on AWS; nil on the embedded
// runtime, whose alarms are the readings themselves).
type MetricWriter interface {
	// PutDeploymentMetrics puts values (by metric name) for the model on
	// the endpoint.
	PutDeploymentMetrics(ctx context.Context, environment, endpoint, modelID string, values map[string]float64) error
}

// Target names what a runtime deploys to.
type Target struct {
	// Environments are those this runtime serves (on AWS: the stack's).
	Environments []string
	// FunctionName names the predict function of an environment, as the
	// state machine's Lambda tasks name it.
	FunctionName func(environment string) string
	// AlarmPrefix starts the names of an environment's deployment alarms.
	AlarmPrefix func(environment string) string
}

// LocalFunctionPrefix and LocalFunctionSuffix frame the predict function's
// name on the embedded runtime: orrery-<environment>-predict.
const (
	LocalFunctionPrefix = "orrery-"
	LocalFunctionSuffix = "-predict"
)

// LocalTarget is the embedded runtime's: every environment, each with a
// predict function of its own name.
func LocalTarget() Target {
	return Target{
		Environments: slices.Clone(deployment.Environments),
		FunctionName: func(env string) string { return LocalFunctionPrefix + env + LocalFunctionSuffix },
		AlarmPrefix:  func(env string) string { return "orrery-" + env },
	}
}

// Service runs deployments. Records, Endpoints, Models and Artifacts are
// required, Starter to Deploy; without Traffic the alarms have no data
// (and never fire); the rest have working defaults.
type Service struct {
	Records   Records
	Endpoints store.EndpointStore
	Models    store.ModelRegistry
	Artifacts store.ArtifactStore
	// Aliases, when set, keeps the registry's champion and challenger in
	// step with what the endpoints serve.
	Aliases store.ModelAliases
	// ReadTable reads training data for the validator (default: local
	// files).
	ReadTable deployment.TableReader
	// Scorers makes the validator's predictor of a model (default:
	// deployment.NewRequestScorer).
	Scorers deployment.ScorerFactory
	// Samples are the predict requests of events/ the smoke gate sends.
	Samples []deployment.Sample
	Starter Starter
	Traffic Traffic
	Metrics MetricWriter
	// Target defaults to LocalTarget().
	Target *Target
	Log    *slog.Logger
	// LockTTL defaults to DefaultLockTTL.
	LockTTL time.Duration
	// Now and NewID are replaceable for tests.
	Now   func() time.Time
	NewID func() string
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) newID() string {
	if s.NewID != nil {
		return s.NewID()
	}
	return training.NewID(IDPrefix, s.now())
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Service) target() Target {
	if s.Target != nil {
		return *s.Target
	}
	return LocalTarget()
}

func (s *Service) lockTTL() time.Duration {
	if s.LockTTL > 0 {
		return s.LockTTL
	}
	return DefaultLockTTL
}

// Config is what a deployment record keeps in Deployment.Config: the
// normalised request, its plan, and the names the execution uses.
type Config struct {
	Spec         deployment.Spec   `json:"spec"`
	Plan         deployment.Plan   `json:"plan"`
	FunctionName string            `json:"function_name"`
	Alarms       map[string]string `json:"alarms"`
	// RollbackOf names the deployment a manual rollback undoes.
	RollbackOf string `json:"rollback_of,omitempty"`
}

// Result is what a deployment record keeps in Deployment.Result.
type Result struct {
	// Band is the positive-rate alarm's reference, from validation.
	Band *deployment.PositiveRateBand `json:"positive_rate_band,omitempty"`
}

func configOf(d store.Deployment) (Config, error) {
	var c Config
	if err := json.Unmarshal(d.Config, &c); err != nil {
		return c, fmt.Errorf("deployment %s: decode its config: %w", d.ID, err)
	}
	return c, nil
}

// Deploy checks req, stores a PENDING deployment of the model to its
// endpoint (default: the model's name), takes the endpoint's lock and
// starts the deployment's execution. Errors: deployment.ErrInvalidRequest
// (a *deployment.FieldError), store.ErrNotFound for an unknown model,
// ErrLocked (naming the deployment that holds the endpoint), ErrNotServed,
// ErrStart.
func (s *Service) Deploy(ctx context.Context, req deployment.Request) (store.Deployment, error) {
	spec, err := req.Normalize()
	if err != nil {
		return store.Deployment{}, err
	}
	return s.deploySpec(ctx, spec, "")
}

func (s *Service) deploySpec(ctx context.Context, spec deployment.Spec, rollbackOf string) (store.Deployment, error) {
	model, err := s.Models.GetModel(ctx, spec.ModelID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Deployment{}, fmt.Errorf("model %s does not exist: %w", spec.ModelID, store.ErrNotFound)
	}
	if err != nil {
		return store.Deployment{}, fmt.Errorf("deploy model %s: %w", spec.ModelID, err)
	}
	if spec.Endpoint == "" {
		spec.Endpoint = deployment.EndpointName(model.Name)
	}
	tgt := s.target()
	if !slices.Contains(tgt.Environments, spec.Environment) {
		return store.Deployment{}, fmt.Errorf("%w: environment %s (this runtime serves %s): %w", ErrNotServed, spec.Environment,
			strings.Join(tgt.Environments, ", "), &deployment.FieldError{Field: "environment", Detail: "not served by this runtime"})
	}
	id := s.newID()
	ep, err := s.lock(ctx, spec.Environment, spec.Endpoint, id)
	if err != nil {
		return store.Deployment{}, err
	}
	release := func() { s.unlock(context.WithoutCancel(ctx), spec.Environment, spec.Endpoint, id, nil) }
	previous := ep.LiveModelID
	if previous == spec.ModelID {
		release()
		return store.Deployment{}, fmt.Errorf("model %s is what endpoint %s in %s serves already: %w", spec.ModelID, spec.Endpoint,
			spec.Environment, ErrAlreadyLive)
	}
	plan := deployment.NewPlan(spec, previous == "")
	alarms := deployment.AlarmNames(tgt.AlarmPrefix(spec.Environment), id)
	cfg := Config{Spec: spec, Plan: plan, FunctionName: tgt.FunctionName(spec.Environment), Alarms: alarms, RollbackOf: rollbackOf}
	raw, err := json.Marshal(cfg)
	if err != nil {
		release()
		return store.Deployment{}, fmt.Errorf("deploy model %s: encode config: %w", spec.ModelID, err)
	}
	now := s.now().UTC()
	events := []store.DeploymentEvent{{Time: now, Kind: "requested", Message: requestedMessage(spec, plan, previous, rollbackOf)}}
	if plan.Note != "" {
		events = append(events, store.DeploymentEvent{Time: now, Kind: "plan", Message: plan.Note})
	}
	d := store.Deployment{ID: id, ModelID: spec.ModelID, PreviousModelID: previous, Alias: store.LiveAlias,
		Environment: spec.Environment, Endpoint: spec.Endpoint, Strategy: plan.Strategy, Status: store.DeploymentPending,
		Stage: deployment.StageValidate, Config: raw, Events: events, CreatedAt: now}
	if err := s.Records.CreateDeployment(ctx, d); err != nil {
		release()
		return store.Deployment{}, fmt.Errorf("deploy model %s: %w", spec.ModelID, err)
	}
	in := s.executionInput(d, cfg, model.ManifestSHA256)
	if s.Starter == nil {
		return s.startFailed(ctx, d, errors.New("no executions are configured"))
	}
	if err := s.Starter.StartDeployment(ctx, in); err != nil {
		return s.startFailed(ctx, d, err)
	}
	s.log().Info("deployment started", "deployment_id", id, "model_id", spec.ModelID, "endpoint", spec.Endpoint,
		"environment", spec.Environment, "strategy", string(plan.Strategy), "previous_model_id", previous)
	return d, nil
}

func requestedMessage(spec deployment.Spec, plan deployment.Plan, previous, rollbackOf string) string {
	var shares []string
	for _, st := range plan.Steps {
		shares = append(shares, fmt.Sprintf("%d %%", st.Percent))
	}
	what := fmt.Sprintf("deploy model %s to endpoint %s in %s, %s (%s), bake %d s", spec.ModelID, spec.Endpoint, spec.Environment,
		plan.Strategy, strings.Join(shares, " -> "), spec.BakeSeconds)
	if previous != "" {
		what += ", replacing " + previous
	}
	if rollbackOf != "" {
		what += ", rolling back deployment " + rollbackOf
	}
	return what
}

func (s *Service) startFailed(ctx context.Context, d store.Deployment, cause error) (store.Deployment, error) {
	ctx = context.WithoutCancel(ctx)
	reason := fmt.Sprintf("could not start the execution: %v", cause)
	s.unlock(ctx, d.Environment, d.Endpoint, d.ID, nil)
	_, _ = s.Records.UpdateDeployment(ctx, d.ID, store.DeploymentUpdate{Status: store.DeploymentFailed, Error: reason,
		AddEvents: []store.DeploymentEvent{{Time: s.now().UTC(), Kind: "failed", Message: reason}}})
	return store.Deployment{}, fmt.Errorf("deployment %s: %v: %w", d.ID, cause, ErrStart)
}

// executionInput is the input of d's execution; the version it publishes
// is bound to the model and to the digest the registry kept of its manifest
// (digest, when there is one), which the predict function checks on load.
func (s *Service) executionInput(d store.Deployment, cfg Config, digest string) pipeline.DeploymentInput {
	var created []string
	for _, k := range deployment.AlarmKinds {
		created = append(created, cfg.Alarms[k])
	}
	watched := append(slices.Clone(created), cfg.Spec.Alarms.CloudWatch...)
	modelEnv := map[string]string{config.EnvModelID: d.ModelID}
	if digest != "" {
		modelEnv[config.EnvModelManifestSHA256] = digest
	}
	return pipeline.DeploymentInput{
		DeploymentID: d.ID, FunctionName: cfg.FunctionName, Endpoint: d.Endpoint, ModelID: d.ModelID,
		ModelEnv: modelEnv, Steps: cfg.Plan.Steps,
		AlarmSpecs:    deployment.CloudWatchAlarms(cfg.Spec, cfg.Alarms, d.ID),
		CreatedAlarms: created, Alarms: watched, AutoRollback: cfg.Spec.AutoRollback,
	}
}

// lock takes the endpoint's lock for deploymentID (creating the endpoint
// record on its first deployment) and returns the endpoint as locked.
func (s *Service) lock(ctx context.Context, env, name, deploymentID string) (store.Endpoint, error) {
	return s.modifyEndpoint(ctx, env, name, true, func(e *store.Endpoint) error {
		now := s.now()
		if e.Locked(now) && e.LockedBy != deploymentID {
			return fmt.Errorf("endpoint %s in %s is being deployed by %s (its lock lapses at %s unless renewed): %w",
				name, env, e.LockedBy, e.LockedUntil.UTC().Format(time.RFC3339), ErrLocked)
		}
		e.LockedBy, e.LockedUntil = deploymentID, now.Add(s.lockTTL())
		return nil
	})
}

// renew extends the deployment's lock; it fails with ErrLocked when another
// deployment took the endpoint (after this one's lock lapsed).
func (s *Service) renew(ctx context.Context, d store.Deployment) error {
	_, err := s.lock(ctx, d.Environment, d.Endpoint, d.ID)
	return err
}

// unlock releases the deployment's lock (if it holds it) and applies
// change to the endpoint in the same write.
func (s *Service) unlock(ctx context.Context, env, name, deploymentID string, change func(e *store.Endpoint)) {
	_, err := s.modifyEndpoint(ctx, env, name, false, func(e *store.Endpoint) error {
		if change != nil {
			change(e)
		}
		if e.LockedBy == deploymentID {
			e.LockedBy, e.LockedUntil = "", time.Time{}
		}
		return nil
	})
	if err != nil {
		s.log().Error("release the endpoint's lock", "deployment_id", deploymentID, "endpoint", name, "environment", env, "error", err.Error())
	}
}

// modifyEndpoint applies fn to the stored endpoint and writes it
// conditionally on its revision, retrying when another writer came first;
// create makes a missing endpoint.
func (s *Service) modifyEndpoint(ctx context.Context, env, name string, create bool, fn func(e *store.Endpoint) error) (store.Endpoint, error) {
	for attempt := 0; ; attempt++ {
		e, err := s.Endpoints.GetEndpoint(ctx, env, name)
		switch {
		case errors.Is(err, store.ErrNotFound) && create:
			e = store.Endpoint{Name: name, Environment: env}
		case err != nil:
			return store.Endpoint{}, fmt.Errorf("endpoint %s in %s: %w", name, env, err)
		}
		if err := fn(&e); err != nil {
			return store.Endpoint{}, err
		}
		out, err := s.Endpoints.PutEndpoint(ctx, e)
		if errors.Is(err, store.ErrConflict) && attempt < 20 {
			continue
		}
		if err != nil {
			return store.Endpoint{}, fmt.Errorf("endpoint %s in %s: %w", name, env, err)
		}
		return out, nil
	}
}

// Get returns a deployment; store.ErrNotFound naming it when there is
// none.
func (s *Service) Get(ctx context.Context, id string) (store.Deployment, error) {
	d, err := s.Records.GetDeployment(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Deployment{}, fmt.Errorf("deployment %s does not exist: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Deployment{}, fmt.Errorf("get deployment %s: %w", id, err)
	}
	return d, nil
}

// Promote deploys the model live on the endpoint in environment from to
// the same endpoint in environment to — the same model version, never
// retrained — with req's other settings (its ModelID, Endpoint and
// Environment are set here). store.ErrNotFound when nothing is live there.
func (s *Service) Promote(ctx context.Context, endpoint, from, to string, req deployment.Request) (store.Deployment, error) {
	if from == to {
		return store.Deployment{}, &deployment.FieldError{Field: "to", Detail: fmt.Sprintf("promoting from %s to %s itself", from, to)}
	}
	e, err := s.Endpoints.GetEndpoint(ctx, from, endpoint)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Deployment{}, fmt.Errorf("promote %s from %s: %w", endpoint, from, err)
	}
	if err != nil || e.LiveModelID == "" {
		return store.Deployment{}, fmt.Errorf("promote %s from %s: no model is live there: %w", endpoint, from, store.ErrNotFound)
	}
	req.ModelID, req.Endpoint, req.Environment = e.LiveModelID, endpoint, to
	return s.Deploy(ctx, req)
}

// RollbackResult is what a manual rollback did.
type RollbackResult struct {
	// Deployment is the deployment rolled back.
	Deployment store.Deployment
	// Kind is running (the deployment was asked to roll back) or redeploy
	// (a new deployment returns the previous model: Redeploy).
	Kind     deployment.RollbackKind
	Redeploy *store.Deployment
}

// Rollback rolls a deployment back by hand (deployment.RollbackManager's
// rules): a running one is asked to (its next alarm check rolls back), the
// endpoint's live one is undone by deploying its previous model all at
// once. deployment.ErrNoRollback (a conflict) says why not otherwise.
func (s *Service) Rollback(ctx context.Context, id, reason string) (RollbackResult, error) {
	d, err := s.Get(ctx, id)
	if err != nil {
		return RollbackResult{}, err
	}
	var live *store.Deployment
	if l, err := s.Records.LiveDeployment(ctx, d.Environment, d.Endpoint); err == nil {
		live = &l
	} else if !errors.Is(err, store.ErrNotFound) {
		return RollbackResult{}, fmt.Errorf("roll back deployment %s: %w", id, err)
	}
	plan, err := deployment.RollbackManager{}.Plan(d, live)
	if err != nil {
		return RollbackResult{}, err
	}
	if reason == "" {
		reason = "requested by hand"
	}
	switch plan.Kind {
	case deployment.RollbackRunning:
		d, err = s.Records.UpdateDeployment(ctx, id, store.DeploymentUpdate{AddEvents: []store.DeploymentEvent{
			{Time: s.now().UTC(), Kind: eventRollbackRequested, Message: "rollback " + reason},
		}})
		if errors.Is(err, store.ErrConflict) {
			return RollbackResult{}, fmt.Errorf("deployment %s ended meanwhile: %w", id, deployment.ErrNoRollback)
		}
		if err != nil {
			return RollbackResult{}, fmt.Errorf("roll back deployment %s: %w", id, err)
		}
		return RollbackResult{Deployment: d, Kind: plan.Kind}, nil
	}
	next, err := s.deploySpec(ctx, deployment.RedeploySpec(d, plan.ModelID), d.ID)
	if err != nil {
		return RollbackResult{}, fmt.Errorf("roll back deployment %s: %w", id, err)
	}
	return RollbackResult{Deployment: d, Kind: plan.Kind, Redeploy: &next}, nil
}

// RollbackEndpoint rolls back the endpoint's running deployment (the one
// holding its lock), else its live one.
func (s *Service) RollbackEndpoint(ctx context.Context, environment, endpoint, reason string) (RollbackResult, error) {
	e, err := s.Endpoints.GetEndpoint(ctx, environment, endpoint)
	if errors.Is(err, store.ErrNotFound) {
		return RollbackResult{}, fmt.Errorf("endpoint %s in %s does not exist: %w", endpoint, environment, store.ErrNotFound)
	}
	if err != nil {
		return RollbackResult{}, fmt.Errorf("roll back endpoint %s: %w", endpoint, err)
	}
	if e.Locked(s.now()) {
		return s.Rollback(ctx, e.LockedBy, reason)
	}
	live, err := s.Records.LiveDeployment(ctx, environment, endpoint)
	if errors.Is(err, store.ErrNotFound) {
		return RollbackResult{}, fmt.Errorf("endpoint %s in %s has no promoted deployment: %w", endpoint, environment, deployment.ErrNoRollback)
	}
	if err != nil {
		return RollbackResult{}, fmt.Errorf("roll back endpoint %s: %w", endpoint, err)
	}
	return s.Rollback(ctx, live.ID, reason)
}

// eventRollbackRequested marks a manual rollback asked of a running
// deployment.
const eventRollbackRequested = "rollback_requested"
