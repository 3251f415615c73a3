package mlflowmirror

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"time"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/tracking"
	"github.com/orrery-ml/orrery/shared/tracking/mlflow"
)

// Environment variables that turn the mirror on and shape it, as MLflow's own
// clients read them.
const (
	// EnvTrackingURI is the tracking server's URL; unset, nothing is
	// mirrored.
	EnvTrackingURI = config.EnvMLflowTrackingURI
	// EnvExperimentName names the experiment runs go to (default
	// DefaultExperiment).
	EnvExperimentName = config.EnvMLflowExperiment
)

// DefaultExperiment is the experiment runs go to when none is named.
const DefaultExperiment = "orrery"

// Entry kinds of the outbox.
const (
	kindEpoch          = "mlflow.epoch"
	kindTrainingEnd    = "mlflow.training_end"
	kindStudyEnd       = "mlflow.study_end"
	kindEvaluationEnd  = "mlflow.evaluation_end"
	kindAlias          = "mlflow.alias"
	kindAliasRemoved   = "mlflow.alias_removed"
	kindExecutionEnd   = "mlflow.execution_end"
	maxNotReadyRetries = 20
)

// ErrNotReady is returned (and retried) when an entry needs something the
// mirror has not sent yet, or a job that has not finished.
var ErrNotReady = fault.New(fault.Unavailable, "mlflowmirror: not ready")

// Sources are the stores the mirror reads what it sends from. Studies,
// Trials may be nil when no study is mirrored.
type Sources struct {
	Jobs      store.JobStore
	Models    store.ModelRegistry
	Artifacts store.ArtifactStore
	Studies   store.StudyStore
	Trials    store.TrialStore
	// StudyAnalysis, when set, returns a study's analysis as JSON (logged
	// as the parent run's study/analysis.json).
	StudyAnalysis func(ctx context.Context, studyID string) ([]byte, error)
}

// Options tune a Mirror; the zero value is ready to use.
type Options struct {
	// Experiment names the MLflow experiment (default $MLFLOW_EXPERIMENT_NAME,
	// else DefaultExperiment).
	Experiment string
	// Log receives a warning when the server starts failing and a note when
	// it catches up (nil: none).
	Log *slog.Logger
	// GitCommit is the commit of the code that trains, tagged as a training
	// run's mlflow.source.git.commit (default: this binary's VCS revision,
	// when it was built with one; on AWS the CDK app passes the deployed
	// commit).
	GitCommit string
	// TrainingFiles, when set, returns files logged under "reports" of a
	// training job's run: its report page and plots (path -> content).
	TrainingFiles func(ctx context.Context, jobID string) (map[string][]byte, error)
	// CallTimeout bounds one entry's calls (default 30 s).
	CallTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before an entry is tried
	// again: MinBackoff doubled per failed attempt, at most MaxBackoff
	// (defaults 250 ms and 30 s).
	MinBackoff, MaxBackoff time.Duration
	// Model, when set, returns the files logged as a model version's
	// artifacts (artifact path "model": an MLflow model directory, so
	// models:/<name>@<alias> loads) for the registered model m logged to
	// run runID; files is m's Orrery model directory (path -> content),
	// which is logged under "orrery_model" either way. Nil logs the Orrery
	// directory as "model" too.
	Model func(ctx context.Context, m store.Model, runID string, files map[string][]byte) (map[string][]byte, error)
}

// Queue appends what is to be mirrored to an outbox and never calls the
// tracking server: the AWS functions that see a flow end or an alias move
// (events, stages) hold one, the tracking function drains the outbox with a
// Mirror, which has the same methods. Its methods are safe for concurrent
// use.
type Queue struct {
	outbox store.TrackingOutbox
	wake   func()
	log    *slog.Logger
}

// NewQueue returns a queue into outbox; log (nil: none) receives what
// Aliases could not queue.
func NewQueue(outbox store.TrackingOutbox, log *slog.Logger) *Queue {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Queue{outbox: outbox, log: log}
}

// Mirror sends Orrery's records to one MLflow tracking server through an
// outbox. Its methods are safe for concurrent use.
type Mirror struct {
	// Queue appends to the outbox (and wakes the drainer).
	*Queue
	client *mlflow.Client
	outbox store.TrackingOutbox
	src    Sources
	opt    Options
	wake   chan struct{}

	sendMu sync.Mutex
	// seen caches metric histories read during one drain pass (sendMu
	// held); drain clears it.
	seen map[string]map[pointAt]bool

	mu      sync.Mutex
	expID   string
	failing bool
}

// New returns a mirror of src into the server client talks to, queuing in
// outbox.
func New(client *mlflow.Client, outbox store.TrackingOutbox, src Sources, opt Options) *Mirror {
	if opt.Experiment == "" {
		opt.Experiment = os.Getenv(EnvExperimentName)
	}
	if opt.Experiment == "" {
		opt.Experiment = DefaultExperiment
	}
	if opt.CallTimeout <= 0 {
		opt.CallTimeout = 30 * time.Second
	}
	if opt.MinBackoff <= 0 {
		opt.MinBackoff = 250 * time.Millisecond
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = 30 * time.Second
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	m := &Mirror{client: client, outbox: outbox, src: src, opt: opt, wake: make(chan struct{}, 1)}
	m.Queue = &Queue{outbox: outbox, wake: m.Wake, log: opt.Log}
	return m
}

// URI returns the tracking server's URL.
func (m *Mirror) URI() string { return m.client.Base() }

// Experiment returns the experiment's name.
func (m *Mirror) Experiment() string { return m.opt.Experiment }

// epochPayload is one training epoch's metrics.
type epochPayload struct {
	JobID   string             `json:"job_id"`
	Step    int                `json:"step"`
	TimeMS  int64              `json:"time_ms"`
	Metrics map[string]float64 `json:"metrics"`
}

type subjectPayload struct {
	ID string `json:"id"`
}

type aliasPayload struct {
	Environment string `json:"environment"`
	Name        string `json:"name"`
	Alias       string `json:"alias"`
	ModelID     string `json:"model_id,omitempty"`
}

func (m *Queue) enqueue(ctx context.Context, subject, kind string, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("mlflow mirror: encode %s of %s: %w", kind, subject, err)
	}
	if err := m.outbox.AppendTracking(ctx, store.TrackingEntry{Subject: subject, Kind: kind, Payload: b}); err != nil {
		return fmt.Errorf("mlflow mirror: queue %s of %s: %w", kind, subject, err)
	}
	if m.wake != nil {
		m.wake()
	}
	return nil
}

// Wake tells the drainer there is something to send.
func (m *Mirror) Wake() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Recorder returns the recorder that queues every training epoch's metrics
// (progress events of the train stage, unit epoch) as metric points of the
// job's run, with the event's step and time. It never calls the server.
func (m *Queue) Recorder() tracking.Recorder {
	return tracking.RecorderFunc(func(ctx context.Context, e tracking.Event) error {
		if e.Kind != tracking.Progress || e.Stage != "train" || e.Unit != "epoch" || e.JobID == "" || len(e.Metrics) == 0 {
			return nil
		}
		metrics := make(map[string]float64, len(e.Metrics))
		for k, v := range e.Metrics {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				metrics[k] = v
			}
		}
		t := e.Time
		if t.IsZero() {
			t = time.Now()
		}
		return m.enqueue(ctx, e.JobID, kindEpoch, epochPayload{JobID: e.JobID, Step: e.Step, TimeMS: t.UnixMilli(), Metrics: metrics})
	})
}

// TrainingEnded queues the end of a training job: its final metrics,
// reports, model files, model version and run status.
func (m *Queue) TrainingEnded(ctx context.Context, jobID string) error {
	return m.enqueue(ctx, jobID, kindTrainingEnd, subjectPayload{ID: jobID})
}

// StudyEnded queues a study: its parent run and one nested run per trial.
func (m *Queue) StudyEnded(ctx context.Context, studyID string) error {
	return m.enqueue(ctx, studyID, kindStudyEnd, subjectPayload{ID: studyID})
}

// ExecutionEnded queues the end of the execution of a flow named after
// subject, whatever the flow: the drainer finds what subject is — a
// training job (then its per-epoch history comes from the job's
// history.json, which the AWS trainer writes, since no epoch was queued as
// it ran), an evaluation job, a study — and mirrors it; anything else (a
// deployment's execution) is dropped. The AWS events function queues it
// for every execution that ends; duplicates send nothing twice.
func (m *Queue) ExecutionEnded(ctx context.Context, subject string) error {
	return m.enqueue(ctx, subject, kindExecutionEnd, subjectPayload{ID: subject})
}

// EvaluationEnded queues an evaluation job's run.
func (m *Queue) EvaluationEnded(ctx context.Context, jobID string) error {
	return m.enqueue(ctx, jobID, kindEvaluationEnd, subjectPayload{ID: jobID})
}

// AliasSet queues a registry alias move.
func (m *Queue) AliasSet(ctx context.Context, a store.ModelAlias) error {
	return m.enqueue(ctx, a.ModelID, kindAlias, aliasPayload{Environment: a.Environment, Name: a.Name, Alias: a.Alias, ModelID: a.ModelID})
}

// AliasRemoved queues the removal of a registry alias.
func (m *Queue) AliasRemoved(ctx context.Context, environment, name, alias, modelID string) error {
	subject := modelID
	if subject == "" {
		subject = name
	}
	return m.enqueue(ctx, subject, kindAliasRemoved, aliasPayload{Environment: environment, Name: name, Alias: alias, ModelID: modelID})
}

// Aliases wraps a store.ModelAliases so that every alias it sets or removes
// is mirrored too. The store's answer is the answer: a failure to queue is
// logged, never returned.
type Aliases struct {
	store.ModelAliases
	// Queue is a Queue, or a Mirror's.
	Queue *Queue
}

// SetModelAlias sets the alias in the store, then queues it.
func (a Aliases) SetModelAlias(ctx context.Context, al store.ModelAlias) error {
	if err := a.ModelAliases.SetModelAlias(ctx, al); err != nil {
		return err
	}
	if err := a.Queue.AliasSet(ctx, al); err != nil {
		a.Queue.log.Warn("mlflow: queue alias", "alias", al.Alias, "model_id", al.ModelID, "error", err.Error())
	}
	return nil
}

// RemoveModelAlias removes the alias in the store, then queues it.
func (a Aliases) RemoveModelAlias(ctx context.Context, environment, name, alias, modelID string) error {
	if err := a.ModelAliases.RemoveModelAlias(ctx, environment, name, alias, modelID); err != nil {
		return err
	}
	if err := a.Queue.AliasRemoved(ctx, environment, name, alias, modelID); err != nil {
		a.Queue.log.Warn("mlflow: queue alias removal", "alias", alias, "error", err.Error())
	}
	return nil
}

// State is what a job's status says of its mirroring.
type State struct {
	// State is synced (everything sent), pending (queued, no failure yet),
	// behind (queued after failed attempts: the server is slow or down;
	// `orrery tracking sync` or the drainer catches up) or failed (the
	// server refused an entry for good).
	State     string `json:"state"`
	LastError string `json:"last_error,omitempty"`
	Pending   int    `json:"pending,omitempty"`
	// RunID and RunURL name the subject's MLflow run once it exists.
	RunID  string `json:"run_id,omitempty"`
	RunURL string `json:"run_url,omitempty"`
}

// Tracking states.
const (
	StateSynced  = "synced"
	StatePending = "pending"
	StateBehind  = "behind"
	StateFailed  = "failed"
)

// Status returns the mirroring state of the subject (a job or study id).
func (m *Mirror) Status(ctx context.Context, subject string) (State, error) {
	sum, err := m.outbox.SummarizeTracking(ctx, subject)
	if err != nil {
		return State{}, err
	}
	st := State{State: StateSynced, LastError: sum.LastError, Pending: sum.Pending + sum.Dead}
	switch {
	case sum.Dead > 0:
		st.State = StateFailed
	case sum.Pending > 0 && sum.LastError != "":
		st.State = StateBehind
	case sum.Pending > 0:
		st.State = StatePending
	}
	for _, kind := range []string{"training", "study", "evaluation"} {
		if id, err := m.outbox.TrackingRef(ctx, runRef(kind+"/"+subject)); err == nil {
			st.RunID = id
			if exp, err := m.outbox.TrackingRef(ctx, experimentRef(m.opt.Experiment)); err == nil {
				st.RunURL = m.RunURL(exp, id)
			}
			break
		}
	}
	return st, nil
}

// RunURL is the tracking server's UI page of a run.
func (m *Mirror) RunURL(experimentID, runID string) string {
	return m.client.Base() + "/#/experiments/" + experimentID + "/runs/" + runID
}

// ModelLink is where a registered model shows in MLflow.
type ModelLink struct {
	RunID      string `json:"run_id,omitempty"`
	RunURL     string `json:"run_url,omitempty"`
	Name       string `json:"registered_model,omitempty"`
	Version    string `json:"version,omitempty"`
	VersionURL string `json:"version_url,omitempty"`
}

// ModelLink returns the MLflow run and model version of a registered
// model, once mirrored (ok false before).
func (m *Mirror) ModelLink(ctx context.Context, model store.Model) (ModelLink, bool) {
	var l ModelLink
	if v, err := m.modelVersionRef(ctx, model.ID); err == nil {
		l.Name, l.Version = v.Name, v.Version
		l.VersionURL = m.client.Base() + "/#/models/" + v.Name + "/versions/" + v.Version
	}
	if id, err := m.outbox.TrackingRef(ctx, runRef("training/"+model.JobID)); err == nil {
		l.RunID = id
		if exp, err := m.outbox.TrackingRef(ctx, experimentRef(m.opt.Experiment)); err == nil {
			l.RunURL = m.RunURL(exp, id)
		}
	}
	return l, l.RunID != "" || l.Version != ""
}

func runRef(key string) string              { return "run:" + key }
func experimentRef(name string) string      { return "experiment:" + name }
func modelVersionRef(modelID string) string { return "model_version:" + modelID }

type versionRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

func (m *Mirror) modelVersionRef(ctx context.Context, modelID string) (versionRef, error) {
	var v versionRef
	s, err := m.outbox.TrackingRef(ctx, modelVersionRef(modelID))
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return v, fmt.Errorf("model version ref of %s: %w", modelID, err)
	}
	return v, nil
}
