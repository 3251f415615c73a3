package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// Executions starts and stops the execution of jobs: on the embedded runtime
// an execution of the training state machine on the local executor, on AWS a
// Step Functions execution.
type Executions interface {
	// StartTraining starts executing the QUEUED training job jobID and
	// returns once the execution is accepted, not when it ends. The
	// execution moves the job record through its states. Starting a job that
	// is already executing is not an error and starts nothing.
	StartTraining(ctx context.Context, jobID string) error
	// StopTraining asks the execution of jobID to stop; the job record has
	// already been marked CANCELLED by the caller. Stopping a job that is not
	// executing (finished, or never started here) is not an error.
	StopTraining(ctx context.Context, jobID string) error
}

// Optimizations runs hyperparameter studies. While the service has none, its
// routes answer 501.
type Optimizations interface {
	// StartOptimization stores a QUEUED study job for req and starts it.
	StartOptimization(ctx context.Context, req OptimizationRequest) (Accepted, error)
	// OptimizationResults returns the study's results as JSON; store.ErrNotFound
	// if there is no such study.
	OptimizationResults(ctx context.Context, jobID string) (json.RawMessage, error)
	// CancelOptimization marks a running study CANCELLED and stops its
	// execution, answering its results; store.ErrNotFound for no such
	// study, store.ErrConflict (naming its status) for a finished one.
	CancelOptimization(ctx context.Context, jobID, reason string) (json.RawMessage, error)
	// TrialConfig returns the TrainingConfig trial number of the study
	// trained with (optimization.BestTrialNumber: its best trial);
	// store.ErrNotFound for no such study or trial, store.ErrConflict for a
	// trial that has not completed (or a study without a complete one).
	TrialConfig(ctx context.Context, jobID string, trial int) (training.TrainingConfig, error)
}

// Evaluations evaluates registered models. While the service has none,
// POST /ml/evaluation/evaluate answers 501 and GET
// /ml/evaluation/{model_id}/metrics returns the metrics stored with the
// model in the registry.
type Evaluations interface {
	// Evaluate stores a QUEUED job of Kind JobKindEvaluation for req and
	// starts it, answering with EvaluationStatusURL; store.ErrNotFound if
	// the model (or one of req.CompareTo) does not exist. req.DatasetPath,
	// when set, is already resolved against the service's DataRoots.
	Evaluate(ctx context.Context, req EvaluationRequest) (Accepted, error)
	// EvaluationMetrics returns the latest evaluation of the model as JSON;
	// store.ErrNotFound if there is none.
	EvaluationMetrics(ctx context.Context, modelID string) (json.RawMessage, error)
}

// Deployments deploys registered models to endpoints: validated, shifted
// gradually, rolled back on an alarm. A runtime without one (the api Lambda
// without a deployment state machine) answers its routes with 501.
type Deployments interface {
	// Deploy stores a PENDING deployment of req.ModelID and starts it;
	// store.ErrNotFound if the model does not exist, store.ErrConflict
	// (naming the deployment) while another one holds the endpoint, an
	// invalid-request error naming the field otherwise.
	Deploy(ctx context.Context, req DeploymentRequest) (DeploymentAccepted, error)
	// DeploymentStatus returns the deployment's status as JSON;
	// store.ErrNotFound if there is no such deployment.
	DeploymentStatus(ctx context.Context, deploymentID string) (json.RawMessage, error)
	// RollbackDeployment rolls the deployment back by hand: a running one
	// returns its traffic at its next alarm check, the endpoint's live one
	// is undone by deploying its previous model. store.ErrConflict says why
	// it cannot be.
	RollbackDeployment(ctx context.Context, deploymentID string, req RollbackRequest) (DeploymentRollback, error)
}

// DeploymentAccepted answers POST /ml/deployment/deploy (202).
type DeploymentAccepted struct {
	DeploymentID string                 `json:"deployment_id"`
	Status       store.DeploymentStatus `json:"status"`
	StatusURL    string                 `json:"status_url"`
	ModelID      string                 `json:"model_id"`
	Endpoint     string                 `json:"endpoint"`
	Environment  string                 `json:"environment"`
	Strategy     string                 `json:"strategy"`
	CreatedAt    time.Time              `json:"created_at"`
}

// DeploymentRollback answers POST /ml/deployment/{deployment_id}/rollback
// (202): the deployment, and how it is rolled back — "running" (it returns
// its traffic at its next alarm check) or "redeploy" (the deployment that
// returns the previous model).
type DeploymentRollback struct {
	DeploymentID string                 `json:"deployment_id"`
	Status       store.DeploymentStatus `json:"status"`
	StatusURL    string                 `json:"status_url"`
	Kind         string                 `json:"kind"`
	Redeploy     *DeploymentAccepted    `json:"redeploy,omitempty"`
}

// ArtifactIndex lists a job's artifacts for status links; a subset of
// store.ArtifactStore.
type ArtifactIndex interface {
	// List returns the keys under prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// URI returns where a user finds the object.
	URI(key string) string
}

// Service implements the API's operations over its ports, independent of
// HTTP. Jobs, Models and Executions are required; the others are optional.
type Service struct {
	Jobs       store.JobStore
	Models     store.ModelRegistry
	Executions Executions
	// DataRoots says where a dataset_path may point.
	DataRoots DataRoots
	// Reports, when set, serves the HTML reports and the artifacts.
	Reports Reports
	// Artifacts, when set, lets the status of an unfinished or failed job
	// link the artifacts it has written so far (a finished job lists them
	// in its result).
	Artifacts ArtifactIndex

	Optimizations Optimizations
	Evaluations   Evaluations
	Deployments   Deployments
	// Endpoints serves the model endpoints' routes (501 without it).
	Endpoints Endpoints
	// Retraining keeps the retraining-on-upload policies (501 without it).
	Retraining store.RetrainingPolicyStore
	// Tracking, when set, adds the MLflow mirroring state to job statuses
	// and the MLflow links to model records.
	Tracking Tracking

	// Now and NewID are replaceable for tests.
	Now   func() time.Time
	NewID func(prefix string) string

	finished finishedStatuses
	// progress keeps each job's last decoded progress event.
	progress progressViews
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) newID(prefix string) string {
	if s.NewID != nil {
		return s.NewID(prefix)
	}
	return training.NewID(prefix, s.now())
}

// Accepted answers a request that started work (202): the job and where to
// follow it.
type Accepted struct {
	JobID     string       `json:"job_id"`
	Kind      string       `json:"kind"`
	Status    store.Status `json:"status"`
	StatusURL string       `json:"status_url"`
	CreatedAt time.Time    `json:"created_at"`
}

// TrainingStatusURL is the path of a training job's status.
func TrainingStatusURL(jobID string) string { return "/ml/training/" + jobID + "/status" }

// JobKindEvaluation is the Kind of the job an Evaluations service runs for
// POST /ml/evaluation/evaluate.
const JobKindEvaluation = "evaluation"

// EvaluationStatusURL is the path of an evaluation job's status.
func EvaluationStatusURL(jobID string) string { return "/ml/evaluation/" + jobID + "/status" }

func modelURL(modelID string) string { return "/ml/models/" + modelID }

func metricsURL(modelID string) string { return "/ml/evaluation/" + modelID + "/metrics" }

// StartTraining checks where cfg.DatasetPath points, stores a QUEUED
// training job for cfg (already decoded and normalised by
// DecodeTrainingRequest) and starts its execution. If the execution cannot be
// started the job is marked FAILED with the reason and ErrUnavailable is
// returned.
func (s *Service) StartTraining(ctx context.Context, cfg training.TrainingConfig) (Accepted, error) {
	resolved, err := s.DataRoots.Resolve(cfg.DatasetPath)
	if err != nil {
		return Accepted{}, err
	}
	cfg.DatasetPath = resolved
	if cfg.TestDatasetPath != "" {
		// The separate test file obeys the same data roots.
		testPath, err := s.DataRoots.resolveField(cfg.TestDatasetPath, "test_dataset_path")
		if err != nil {
			return Accepted{}, err
		}
		cfg.TestDatasetPath = testPath
	}
	job, err := training.NewJob(s.newID(training.JobIDPrefix), cfg, s.now())
	if err != nil {
		return Accepted{}, fmt.Errorf("start training: %w", err)
	}
	if err := s.Jobs.CreateJob(ctx, job); err != nil {
		return Accepted{}, fmt.Errorf("start training: %w", err)
	}
	if err := s.Executions.StartTraining(ctx, job.ID); err != nil {
		reason := fmt.Sprintf("could not start the execution: %v", err)
		_, _ = s.Jobs.UpdateJob(context.WithoutCancel(ctx), job.ID, store.JobUpdate{Status: store.Failed, Error: reason})
		return Accepted{}, fmt.Errorf("start training job %s: %v: %w", job.ID, err, ErrUnavailable)
	}
	return Accepted{JobID: job.ID, Kind: job.Kind, Status: job.Status, StatusURL: TrainingStatusURL(job.ID), CreatedAt: job.CreatedAt}, nil
}

// getTraining returns the training job id, or store.ErrNotFound naming it.
func (s *Service) getTraining(ctx context.Context, jobID string) (store.Job, error) {
	if err := checkID("job_id", jobID); err != nil {
		return store.Job{}, err
	}
	job, err := s.Jobs.GetJob(ctx, jobID)
	if errors.Is(err, store.ErrNotFound) || err == nil && job.Kind != training.JobKindTraining {
		return store.Job{}, fmt.Errorf("training job %s does not exist: %w", jobID, store.ErrNotFound)
	}
	if err != nil {
		return store.Job{}, fmt.Errorf("get training job %s: %w", jobID, err)
	}
	return job, nil
}

// TrainingStatus returns the status of a training job: state, stage, epoch,
// loss and metrics so far, ETA, and links to its model and artifacts.
func (s *Service) TrainingStatus(ctx context.Context, jobID string) (JobStatus, error) {
	job, err := s.getTraining(ctx, jobID)
	if err != nil {
		return JobStatus{}, err
	}
	return s.statusOf(ctx, job), nil
}

// CancelTraining marks a QUEUED or RUNNING training job CANCELLED (one
// conditional write) and stops its execution. A finished job is
// store.ErrConflict, naming its status.
func (s *Service) CancelTraining(ctx context.Context, jobID string, req CancelRequest) (JobStatus, error) {
	job, err := s.getTraining(ctx, jobID)
	if err != nil {
		return JobStatus{}, err
	}
	reason := "cancelled by request"
	if req.Reason != "" {
		reason += ": " + req.Reason
	}
	job, err = s.Jobs.UpdateJob(ctx, jobID, store.JobUpdate{Status: store.Cancelled, Error: reason})
	if errors.Is(err, store.ErrConflict) {
		current, gerr := s.Jobs.GetJob(ctx, jobID)
		if gerr != nil {
			return JobStatus{}, fmt.Errorf("cancel training job %s: %w", jobID, gerr)
		}
		return JobStatus{}, fmt.Errorf("training job %s is %s and can no longer be cancelled: %w", jobID, current.Status, store.ErrConflict)
	}
	if err != nil {
		return JobStatus{}, fmt.Errorf("cancel training job %s: %w", jobID, err)
	}
	if err := s.Executions.StopTraining(ctx, jobID); err != nil {
		// The record says CANCELLED and nothing can move it; an execution
		// that keeps running finds its writes refused and stops there.
		return s.statusOf(ctx, job), fmt.Errorf("cancel training job %s: stop execution: %v: %w", jobID, err, ErrUnavailable)
	}
	return s.statusOf(ctx, job), nil
}

// JobStatus is what GET /ml/training/{job_id}/status returns.
type JobStatus struct {
	JobID  string       `json:"job_id"`
	Kind   string       `json:"kind"`
	Status store.Status `json:"status"`
	// Stage is the pipeline stage running now, or the last one that ran.
	Stage string `json:"stage,omitempty"`
	// Epoch and Epochs are the last finished epoch and the planned total.
	Epoch  int `json:"epoch,omitempty"`
	Epochs int `json:"epochs,omitempty"`
	// Loss is the training loss of the last finished epoch.
	Loss *float64 `json:"loss,omitempty"`
	// Metrics are the validation metrics of the last finished epoch
	// (val_loss, val_auc_pr, val_auc_roc, lr); null where undefined.
	Metrics map[string]*float64 `json:"metrics,omitempty"`
	// ETASeconds estimates the time left in the current stage.
	ETASeconds *float64 `json:"eta_seconds,omitempty"`
	// Progress is the latest progress event (a tracking.Event), as the
	// recorder sent it.
	Progress json.RawMessage `json:"progress,omitempty"`
	// Result is the outcome of a SUCCEEDED job: model_id, metrics (the
	// test-split EvaluationMetrics), decision_threshold, training summary,
	// artifacts (named as in JobLinks.Artifacts).
	Result json.RawMessage `json:"result,omitempty"`
	// Error says why a job FAILED or was CANCELLED.
	Error    string `json:"error,omitempty"`
	ModelID  string `json:"model_id,omitempty"`
	Attempts int    `json:"attempts"`
	// ResumedFrom says where the last attempt picked up an interrupted
	// one's work (a checkpoint's epoch, the state it continued from).
	ResumedFrom string    `json:"resumed_from,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Links       JobLinks  `json:"links"`
	// Tracking is the job's MLflow run and how its mirroring stands (with
	// tracking on).
	Tracking *TrackingState `json:"tracking,omitempty"`
}

// JobLinks are where to go next from a job's status.
type JobLinks struct {
	Self string `json:"self"`
	// Cancel is present while the job can still be cancelled.
	Cancel string `json:"cancel,omitempty"`
	// Model and Metrics are present once a model is registered.
	Model   string `json:"model,omitempty"`
	Metrics string `json:"metrics,omitempty"`
	// Artifacts maps artifact names (validation_report, history, metrics,
	// model, manifest, checkpoint) to where they are: the API link of a
	// file the job's artifacts route serves (/ml/jobs/{job_id}/artifacts/
	// history.json), else the artifact store's key (models/{model_id}),
	// never a path on the server's disk.
	Artifacts map[string]string `json:"artifacts,omitempty"`
	// Report is the job's HTML page, where the server has a report service
	// (an evaluation job's once it succeeded).
	Report string `json:"report,omitempty"`
}

// progressView is the part of a stored tracking.Event the status reads;
// a metric written as null (not finite) stays nil.
type progressView struct {
	Kind       tracking.EventKind  `json:"kind"`
	Step       int                 `json:"step"`
	Total      int                 `json:"total"`
	Unit       string              `json:"unit"`
	Metrics    map[string]*float64 `json:"metrics"`
	ETASeconds float64             `json:"eta_seconds"`
}

// resultView is the part of a stored training result the status reads.
type resultView struct {
	Artifacts map[string]string `json:"artifacts"`
	Config    struct {
		Epochs int `json:"epochs"`
	} `json:"config"`
	Training struct {
		EpochsRun int `json:"epochs_run"`
		History   []struct {
			TrainLoss *float64 `json:"train_loss"`
		} `json:"history"`
	} `json:"training"`
}

func (s *Service) statusOf(ctx context.Context, job store.Job) JobStatus {
	st := s.baseStatus(ctx, job)
	s.addTracking(ctx, &st)
	return st
}

func (s *Service) baseStatus(ctx context.Context, job store.Job) JobStatus {
	st := JobStatus{JobID: job.ID, Kind: job.Kind, Status: job.Status, Stage: job.Stage, Error: job.Error,
		ModelID: job.ModelID, Attempts: job.Attempts, ResumedFrom: job.ResumedFrom, CreatedAt: job.CreatedAt, UpdatedAt: job.UpdatedAt,
		Result: s.resultWithRefs(job.ID, job.Result), Links: JobLinks{Self: TrainingStatusURL(job.ID)}}
	if job.Kind == JobKindEvaluation {
		// An evaluation has no cancel route; its artifacts are in its result.
		st.Links.Self = EvaluationStatusURL(job.ID)
		if job.ModelID != "" {
			st.Links.Model, st.Links.Metrics = modelURL(job.ModelID), metricsURL(job.ModelID)
		}
		if s.Reports != nil && job.Status == store.Succeeded {
			st.Links.Report = ReportURL(ReportEvaluation, job.ID)
		}
		return st
	}
	if s.Reports != nil {
		st.Links.Report = ReportURL(ReportTraining, job.ID)
	}
	if !job.Status.Terminal() {
		st.Links.Cancel = "/ml/training/" + job.ID + "/cancel"
	}
	if job.ModelID != "" {
		st.Links.Model, st.Links.Metrics = modelURL(job.ModelID), metricsURL(job.ModelID)
	}
	if len(job.Progress) > 0 {
		// Decoded into a view of its own rather than a tracking.Event, whose
		// UnmarshalJSON decodes twice: this runs on every status request.
		if e, ok := s.progress.decode(job.ID, job.Progress); ok {
			st.Progress = job.Progress
			if e.Unit == "epoch" {
				st.Epoch, st.Epochs = e.Step, e.Total
			}
			if e.Kind == tracking.Progress && len(e.Metrics) > 0 {
				st.Metrics = make(map[string]*float64, len(e.Metrics))
				for k, v := range e.Metrics {
					if k == "loss" {
						st.Loss = v
						continue
					}
					st.Metrics[k] = v
				}
			}
			if e.ETASeconds > 0 && !job.Status.Terminal() {
				eta := e.ETASeconds
				st.ETASeconds = &eta
			}
		}
	}
	if len(job.Result) > 0 {
		var r resultView
		if json.Unmarshal(job.Result, &r) == nil {
			st.Links.Artifacts = s.artifactRefs(job.ID, r.Artifacts)
			if st.Epochs == 0 {
				st.Epochs = r.Config.Epochs
			}
			if n := r.Training.EpochsRun; n > 0 {
				st.Epoch = n
				if h := r.Training.History; len(h) >= n && st.Loss == nil {
					st.Loss = h[n-1].TrainLoss
				}
			}
		}
	}
	if st.Links.Artifacts == nil && s.Artifacts != nil {
		st.Links.Artifacts = s.jobArtifacts(ctx, job.ID)
	}
	return st
}

// jobArtifacts links what a job has written so far: its report files and
// its latest checkpoint. Listing failures leave the links out.
func (s *Service) jobArtifacts(ctx context.Context, jobID string) map[string]string {
	out := map[string]string{}
	for _, prefix := range []string{"jobs/" + jobID + "/", "checkpoints/" + jobID + "/"} {
		keys, err := s.Artifacts.List(ctx, prefix)
		if err != nil {
			continue
		}
		for _, k := range keys {
			name := path.Base(k)
			name = name[:len(name)-len(path.Ext(name))]
			if prefix[0] == 'c' {
				name = "checkpoint"
			}
			if ref, ok := s.artifactRef(jobID, s.Artifacts.URI(k)); ok {
				out[name] = ref
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// ModelInfo is a registered model as the API shows it.
type ModelInfo struct {
	store.Model
	// ArtifactURI is the model's folder for a client that reads the
	// artifact store itself (s3://bucket/key on AWS); left out on a server
	// whose store is its own disk. It hides the record's artifact_uri.
	ArtifactURI string     `json:"artifact_uri,omitempty"`
	Links       ModelLinks `json:"links"`
	// MLflow is the model's MLflow run and model version (with tracking
	// on, once mirrored).
	MLflow *ModelTracking `json:"mlflow,omitempty"`
}

// ModelLinks are where to go next from a model.
type ModelLinks struct {
	Self    string `json:"self"`
	Job     string `json:"job,omitempty"`
	Metrics string `json:"metrics"`
}

// ModelList is what GET /ml/models returns, newest first.
type ModelList struct {
	Models []ModelInfo `json:"models"`
}

func modelInfo(m store.Model) ModelInfo {
	info := ModelInfo{Model: m, Links: ModelLinks{Self: modelURL(m.ID), Metrics: metricsURL(m.ID)}}
	if m.JobID != "" {
		info.Links.Job = TrainingStatusURL(m.JobID)
	}
	return info
}

// ListModels returns the registered models, newest first.
func (s *Service) ListModels(ctx context.Context) (ModelList, error) {
	models, err := s.Models.ListModels(ctx)
	if err != nil {
		return ModelList{}, fmt.Errorf("list models: %w", err)
	}
	out := ModelList{Models: make([]ModelInfo, 0, len(models))}
	for _, m := range models {
		out.Models = append(out.Models, withArtifactURI(s.modelInfo(ctx, m)))
	}
	return out, nil
}

// GetModel returns one registered model.
func (s *Service) GetModel(ctx context.Context, modelID string) (ModelInfo, error) {
	m, err := s.getModel(ctx, modelID)
	if err != nil {
		return ModelInfo{}, err
	}
	return withArtifactURI(s.modelInfo(ctx, m)), nil
}

func (s *Service) getModel(ctx context.Context, modelID string) (store.Model, error) {
	if err := checkID("model_id", modelID); err != nil {
		return store.Model{}, err
	}
	m, err := s.Models.GetModel(ctx, modelID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Model{}, fmt.Errorf("model %s does not exist: %w", modelID, store.ErrNotFound)
	}
	if err != nil {
		return store.Model{}, fmt.Errorf("get model %s: %w", modelID, err)
	}
	return m, nil
}

// ModelMetrics is what GET /ml/evaluation/{model_id}/metrics returns: the
// metrics of the model's latest evaluation, or without one the test-split
// metrics stored with the model.
type ModelMetrics struct {
	ModelID string `json:"model_id"`
	// Source says where the metrics come from: "evaluation" (the latest
	// evaluation, in full under Evaluation) or "registry" (measured on the
	// test split when the model was trained).
	Source  string          `json:"source"`
	Metrics json.RawMessage `json:"metrics"`
	// Evaluation is the latest evaluation as the evaluation service stored
	// it (confidence intervals, thresholds, calibration, cross-validation,
	// report files); absent for "registry".
	Evaluation json.RawMessage `json:"evaluation,omitempty"`
	Links      ModelLinks      `json:"links"`
}

// EvaluationMetrics returns the model's latest evaluation from the
// evaluation service when there is one, else the metrics stored with the
// model in the registry.
func (s *Service) EvaluationMetrics(ctx context.Context, modelID string) (any, error) {
	m, err := s.getModel(ctx, modelID)
	if err != nil {
		return nil, err
	}
	info := modelInfo(m)
	if s.Evaluations != nil {
		raw, err := s.Evaluations.EvaluationMetrics(ctx, modelID)
		if err == nil {
			var head struct {
				Metrics json.RawMessage `json:"metrics"`
			}
			if err := json.Unmarshal(raw, &head); err != nil || len(head.Metrics) == 0 {
				return nil, fmt.Errorf("evaluation metrics of model %s: the stored evaluation holds no metrics object", modelID)
			}
			if named, ok := s.refsIn("", raw, "report"); ok {
				raw = named // its report files by key, as in the evaluation's status
			}
			return ModelMetrics{ModelID: m.ID, Source: "evaluation", Metrics: head.Metrics, Evaluation: raw, Links: info.Links}, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("evaluation metrics of model %s: %w", modelID, err)
		}
	}
	if len(m.Metrics) == 0 {
		return nil, fmt.Errorf("model %s has no metrics: %w", modelID, store.ErrNotFound)
	}
	return ModelMetrics{ModelID: m.ID, Source: "registry", Metrics: m.Metrics, Links: info.Links}, nil
}

// notPlugged is the 501 of a route whose service this server runs without;
// note, when set, says where to look instead.
func notPlugged(what, note string) error {
	if note != "" {
		note = " (" + note + ")"
	}
	return fmt.Errorf("%s is not served by this server%s; the request was valid and nothing was started: %w",
		what, note, ErrNotImplemented)
}

// StartOptimization starts a study, or answers ErrNotImplemented.
func (s *Service) StartOptimization(ctx context.Context, req OptimizationRequest) (Accepted, error) {
	if s.Optimizations == nil {
		return Accepted{}, notPlugged("hyperparameter optimization", "")
	}
	// The paths are base_config's fields here; every trial reads both.
	resolved, err := s.DataRoots.resolveField(req.BaseConfig.DatasetPath, "base_config.dataset_path")
	if err != nil {
		return Accepted{}, err
	}
	req.BaseConfig.DatasetPath = resolved
	if req.BaseConfig.TestDatasetPath != "" {
		testPath, err := s.DataRoots.resolveField(req.BaseConfig.TestDatasetPath, "base_config.test_dataset_path")
		if err != nil {
			return Accepted{}, err
		}
		req.BaseConfig.TestDatasetPath = testPath
	}
	return s.Optimizations.StartOptimization(ctx, req)
}

// OptimizationResults returns a study's results, or ErrNotImplemented.
func (s *Service) OptimizationResults(ctx context.Context, jobID string) (json.RawMessage, error) {
	if err := checkID("job_id", jobID); err != nil {
		return nil, err
	}
	if s.Optimizations == nil {
		return nil, notPlugged("hyperparameter optimization", "")
	}
	res, err := s.Optimizations.OptimizationResults(ctx, jobID)
	if err != nil {
		return nil, err
	}
	return s.optimizationResultsRefs(jobID, res), nil
}

// CancelOptimization cancels a running study, or answers
// ErrNotImplemented.
func (s *Service) CancelOptimization(ctx context.Context, jobID string, req CancelRequest) (json.RawMessage, error) {
	if err := checkID("job_id", jobID); err != nil {
		return nil, err
	}
	if s.Optimizations == nil {
		return nil, notPlugged("hyperparameter optimization", "")
	}
	return s.Optimizations.CancelOptimization(ctx, jobID, req.Reason)
}

// TrainBest starts a training job with the configuration of a study's best
// trial (or req.Trial): the trial becomes a registered model through the
// training state machine like any training (StartTraining, data roots
// included). ErrNotImplemented without an optimization service.
func (s *Service) TrainBest(ctx context.Context, jobID string, req TrainBestRequest) (Accepted, error) {
	if err := checkID("job_id", jobID); err != nil {
		return Accepted{}, err
	}
	if s.Optimizations == nil {
		return Accepted{}, notPlugged("hyperparameter optimization", "")
	}
	trial := bestTrial
	if req.Trial != nil {
		trial = *req.Trial
	}
	cfg, err := s.Optimizations.TrialConfig(ctx, jobID, trial)
	if err != nil {
		return Accepted{}, err
	}
	if req.Name != "" {
		cfg.Name = req.Name
	}
	return s.StartTraining(ctx, cfg)
}

// Evaluate starts an evaluation, or answers ErrNotImplemented.
func (s *Service) Evaluate(ctx context.Context, req EvaluationRequest) (Accepted, error) {
	if s.Evaluations == nil {
		if _, err := s.getModel(ctx, req.ModelID); err != nil {
			return Accepted{}, err
		}
		return Accepted{}, notPlugged("evaluation on demand", "GET /ml/evaluation/{model_id}/metrics returns the metrics measured at training")
	}
	if req.DatasetPath != "" {
		resolved, err := s.DataRoots.Resolve(req.DatasetPath)
		if err != nil {
			return Accepted{}, err
		}
		req.DatasetPath = resolved
	}
	return s.Evaluations.Evaluate(ctx, req)
}

// EvaluationStatus returns the status of an evaluation job: its state, and
// once it SUCCEEDED its result.
func (s *Service) EvaluationStatus(ctx context.Context, jobID string) (JobStatus, error) {
	if err := checkID("job_id", jobID); err != nil {
		return JobStatus{}, err
	}
	job, err := s.Jobs.GetJob(ctx, jobID)
	if errors.Is(err, store.ErrNotFound) || err == nil && job.Kind != JobKindEvaluation {
		return JobStatus{}, fmt.Errorf("evaluation job %s does not exist: %w", jobID, store.ErrNotFound)
	}
	if err != nil {
		return JobStatus{}, fmt.Errorf("get evaluation job %s: %w", jobID, err)
	}
	return s.statusOf(ctx, job), nil
}

// noDeployments is the 501 of the deployment routes in a runtime without a
// deployment service.
func noDeployments() error {
	return notPlugged("deployment", "the runtime has no deployment state machine")
}

// Deploy starts a deployment, or answers ErrNotImplemented.
func (s *Service) Deploy(ctx context.Context, req DeploymentRequest) (DeploymentAccepted, error) {
	if s.Deployments == nil {
		// An unknown model is 404 on every runtime, before the 501.
		if _, err := s.getModel(ctx, req.ModelID); err != nil {
			return DeploymentAccepted{}, err
		}
		return DeploymentAccepted{}, noDeployments()
	}
	return s.Deployments.Deploy(ctx, req)
}

// DeploymentStatus returns a deployment's status, or ErrNotImplemented.
func (s *Service) DeploymentStatus(ctx context.Context, deploymentID string) (json.RawMessage, error) {
	if err := checkID("deployment_id", deploymentID); err != nil {
		return nil, err
	}
	if s.Deployments == nil {
		return nil, noDeployments()
	}
	return s.Deployments.DeploymentStatus(ctx, deploymentID)
}

// RollbackDeployment rolls a deployment back, or answers
// ErrNotImplemented.
func (s *Service) RollbackDeployment(ctx context.Context, deploymentID string, req RollbackRequest) (DeploymentRollback, error) {
	if err := checkID("deployment_id", deploymentID); err != nil {
		return DeploymentRollback{}, err
	}
	if s.Deployments == nil {
		return DeploymentRollback{}, noDeployments()
	}
	return s.Deployments.RollbackDeployment(ctx, deploymentID, req)
}
