package batchjob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// Environment variables of the trainer container; infra/ sets them on the
// Batch job definition and the Train state submits jobs with them.
const (
	EnvJobID     = "ORRERY_JOB_ID"    // the training job's id (required)
	EnvConfig    = "ORRERY_CONFIG"    // TrainingConfig JSON; creates the job record when it does not exist
	EnvArtifacts = "ORRERY_ARTIFACTS" // artifact store: a directory, or s3://bucket[/prefix]
	EnvRecords   = "ORRERY_RECORDS"   // job records and registry: a SQLite file, or dynamodb://jobs-table/models-table
	EnvBackend   = "ORRERY_BACKEND"   // gonum (default) or torch
	EnvDevice    = "ORRERY_DEVICE"    // cpu (default) or cuda
	EnvThreads   = "ORRERY_THREADS"   // CPU threads of libtorch (OMP_NUM_THREADS); default: libtorch's
	EnvAttempt   = "AWS_BATCH_JOB_ATTEMPT"
	// EnvStageRefs is the training state machine's stage references
	// (pipeline.EnvStageRefs, training.Refs as JSON). When it is set the
	// trainer runs in train-only mode: only the train stage, as the Train
	// task of the state machine (RunTrainStage).
	EnvStageRefs = "ORRERY_STAGE_REFS"
	// EnvTaskToken is the Step Functions task token of the Train task
	// (pipeline.EnvTaskToken); train-only mode sends heartbeats with it.
	EnvTaskToken = "ORRERY_TASK_TOKEN"
	// EnvTrial is one trial of an optimization study
	// (pipeline.EnvTrialInput, optimization.TrialInput as JSON). When it is
	// set the trainer runs in trial mode: it claims and runs that study's
	// trial, as the optimization state machine's RunTrial task (RunTrial).
	EnvTrial = "ORRERY_TRIAL"
	// EnvStudies names the study and trial store of trial mode: a SQLite
	// file, or dynamodb://studies-table (default: the table in
	// config.EnvStudiesTable, else the SQLite file of EnvRecords).
	EnvStudies = "ORRERY_STUDIES"
	// EnvBatchJobID is AWS Batch's id of the running job; trial mode claims
	// its trial under it.
	EnvBatchJobID = "AWS_BATCH_JOB_ID"
)

// Backend names.
const (
	BackendGonum = "gonum"
	BackendTorch = "torch"
)

// Exit statuses of the trainer. The Batch job definition's retry strategy
// retries ExitRetryable and exits on the others.
const (
	ExitOK          = 0
	ExitApplication = 1  // bad configuration or data, diverged training: retrying cannot help
	ExitUsage       = 2  // the container was started wrongly (environment, arguments)
	ExitRetryable   = 75 // EX_TEMPFAIL: interrupted (SIGTERM, Spot reclaim) or a transient failure
)

var (
	// ErrSpec is wrapped by errors about the job specification.
	ErrSpec = errors.New("batchjob: invalid job spec")
	// ErrBackendUnavailable is returned when the chosen backend is not built
	// into this binary.
	ErrBackendUnavailable = errors.New("batchjob: backend not available in this build")
)

// Spec is what a trainer run is asked to do.
type Spec struct {
	JobID string
	// Config, when set, creates the job record if it does not exist yet (a
	// run started by hand); a job created by the API carries its own.
	Config    *training.TrainingConfig
	Artifacts string
	Records   string
	Backend   string
	Device    string
	Threads   int
	// Attempt is AWS Batch's attempt number (1 for the first); later
	// attempts resume from the job's checkpoint.
	Attempt int
	// StageRefs, when set, selects train-only mode: they are the Refs the
	// state machine's Preprocess stage returned.
	StageRefs *training.Refs
	// TaskToken is the Train or RunTrial task's token for heartbeats
	// (train-only and trial mode; empty when the state machine passed
	// none).
	TaskToken string
	// Trial, when set, selects trial mode: the trial the optimization
	// machine's RunTrials Map hands this job.
	Trial *optimization.TrialInput
	// Studies is the study and trial store of trial mode (EnvStudies).
	Studies string
	// Worker names this run when it claims a trial (default: the Batch
	// job id, else "trainer-<pid>").
	Worker string
}

// SpecFromEnv builds the Spec from the environment (getenv is os.Getenv in
// production). Arguments override it in the trainer's main.
func SpecFromEnv(getenv func(string) string) (Spec, error) {
	s := Spec{JobID: getenv(EnvJobID), Artifacts: getenv(EnvArtifacts), Records: getenv(EnvRecords),
		Backend: getenv(EnvBackend), Device: getenv(EnvDevice), Attempt: 1}
	// On AWS the job definition names the bucket and tables under the
	// variables of shared/config, and the Train state passes the job id in
	// its stage references.
	if s.Artifacts == "" && getenv(config.EnvArtifactsBucket) != "" {
		s.Artifacts = "s3://" + getenv(config.EnvArtifactsBucket)
	}
	if s.Records == "" && getenv(config.EnvJobsTable) != "" {
		s.Records = "dynamodb://" + getenv(config.EnvJobsTable) + "/" + getenv(config.EnvModelsTable)
	}
	if raw := getenv(EnvStageRefs); raw != "" {
		// Unknown fields are tolerated: the stages Lambda may be a newer
		// release than this container image.
		var refs training.Refs
		if err := json.Unmarshal([]byte(raw), &refs); err != nil {
			return Spec{}, fmt.Errorf("%w: %s: %w", ErrSpec, EnvStageRefs, err)
		}
		switch {
		case refs.JobID == "":
			return Spec{}, fmt.Errorf("%w: %s has no job_id", ErrSpec, EnvStageRefs)
		case s.JobID != "" && s.JobID != refs.JobID:
			return Spec{}, fmt.Errorf("%w: %s=%q but %s names job %q", ErrSpec, EnvJobID, s.JobID, EnvStageRefs, refs.JobID)
		}
		s.JobID, s.StageRefs, s.TaskToken = refs.JobID, &refs, getenv(EnvTaskToken)
	}
	if raw := getenv(EnvTrial); raw != "" {
		// Unknown fields are tolerated, as in the stage references.
		var in optimization.TrialInput
		if err := json.Unmarshal([]byte(raw), &in); err != nil {
			return Spec{}, fmt.Errorf("%w: %s: %w", ErrSpec, EnvTrial, err)
		}
		if in.StudyID == "" || in.Number < 0 {
			return Spec{}, fmt.Errorf("%w: %s needs a study_id and a non-negative number", ErrSpec, EnvTrial)
		}
		s.Trial, s.TaskToken = &in, getenv(EnvTaskToken)
		s.Studies = getenv(EnvStudies)
		if s.Studies == "" && getenv(config.EnvStudiesTable) != "" {
			s.Studies = "dynamodb://" + getenv(config.EnvStudiesTable)
		}
		if s.Studies == "" && s.Records != "" && !strings.HasPrefix(s.Records, "dynamodb://") {
			s.Studies = s.Records // the embedded runtime's one SQLite file
		}
		s.Worker = getenv(EnvBatchJobID)
		if s.Worker == "" {
			s.Worker = "trainer-" + strconv.Itoa(os.Getpid())
		}
	}
	if raw := getenv(EnvConfig); raw != "" {
		cfg, err := training.DecodeConfig(strings.NewReader(raw))
		if err != nil {
			return Spec{}, fmt.Errorf("%w: %s: %w", ErrSpec, EnvConfig, err)
		}
		s.Config = &cfg
	}
	for _, v := range []struct {
		name string
		dst  *int
	}{{EnvAttempt, &s.Attempt}, {EnvThreads, &s.Threads}} {
		if raw := getenv(v.name); raw != "" {
			n, err := strconv.Atoi(raw)
			if err != nil || n < 0 {
				return Spec{}, fmt.Errorf("%w: %s=%q is not a non-negative integer", ErrSpec, v.name, raw)
			}
			*v.dst = n
		}
	}
	return s, nil
}

// Validate reports the first thing wrong with s, wrapping ErrSpec.
func (s Spec) Validate() error {
	switch {
	case s.Trial != nil && s.StageRefs != nil:
		return fmt.Errorf("%w: %s and %s select different modes; set one", ErrSpec, EnvTrial, EnvStageRefs)
	case s.Trial != nil && s.Studies == "":
		return fmt.Errorf("%w: trial mode needs %s (a SQLite file or dynamodb://studies-table) or %s",
			ErrSpec, EnvStudies, config.EnvStudiesTable)
	case s.Trial != nil && s.Artifacts == "":
		return fmt.Errorf("%w: %s is required (a directory or s3://bucket/prefix)", ErrSpec, EnvArtifacts)
	case s.Trial != nil:
		// Trial mode writes no job record: it needs no job id or records.
	case s.JobID == "":
		return fmt.Errorf("%w: %s is required", ErrSpec, EnvJobID)
	case s.Artifacts == "":
		return fmt.Errorf("%w: %s is required (a directory or s3://bucket/prefix)", ErrSpec, EnvArtifacts)
	case s.Records == "":
		return fmt.Errorf("%w: %s is required (a SQLite file or dynamodb://jobs-table/models-table)", ErrSpec, EnvRecords)
	}
	switch s.Backend {
	case BackendGonum, BackendTorch:
	default:
		return fmt.Errorf("%w: %s=%q is not %s or %s", ErrSpec, EnvBackend, s.Backend, BackendGonum, BackendTorch)
	}
	switch s.Device {
	case "cpu", "cuda":
	default:
		return fmt.Errorf("%w: %s=%q is not cpu or cuda", ErrSpec, EnvDevice, s.Device)
	}
	if s.Backend == BackendGonum && s.Device == "cuda" {
		return fmt.Errorf("%w: the gonum backend runs on the CPU only; use %s=torch for cuda", ErrSpec, EnvBackend)
	}
	return nil
}

// Trainer trains one network: the training package's Trainer port, which
// training.ModelTrainer and the libtorch backend's Trainer both satisfy.
// The runner builds one per job with the job's recorder and checkpointer.
type Trainer = training.Trainer

// NewTrainer makes the backend's Trainer for a job.
type NewTrainer = training.NewTrainerFunc

// DataReader opens a dataset_path (a local file or s3://bucket/key) as a
// table.
type DataReader func(ctx context.Context, uri string) (*dataset.Table, error)

// Runner runs training jobs on AWS Batch (or by hand): it takes the job
// record through RUNNING to SUCCEEDED or FAILED, reports progress into it,
// checkpoints to the artifact store after every epoch (and, with the torch
// backend, when interrupted), and resumes from the checkpoint on a later
// attempt.
type Runner struct {
	Jobs      store.JobStore
	Models    store.ModelRegistry
	Artifacts store.ArtifactStore
	// Backend is the name written to the model manifest; NewTrainer makes
	// its trainer.
	Backend    string
	NewTrainer NewTrainer
	// ReadData reads dataset_path; nil reads local files only.
	ReadData DataReader
	// Recorder receives every progress event besides the job record (the
	// container's log).
	Recorder tracking.Recorder
	// Retry governs retries of transient store failures.
	Retry training.RetryPolicy
	// ScratchDir holds the model while it is written (default os.TempDir()).
	ScratchDir string
	// Heartbeat tells the state machine's Train task the trainer is alive
	// (Step Functions SendTaskHeartbeat with the task token); train-only
	// mode calls it when it starts and every HeartbeatEvery (default
	// DefaultHeartbeatEvery) until the stage ends. nil sends none.
	Heartbeat      func(ctx context.Context, taskToken string) error
	HeartbeatEvery time.Duration
	// Studies and Trials are the optimization stores of trial mode.
	Studies store.StudyStore
	Trials  store.TrialStore
}

// Result is a finished job's outcome, as stored in the job record.
type Result struct {
	JobID     string                       `json:"job_id"`
	ModelID   string                       `json:"model_id"`
	Backend   string                       `json:"backend"`
	Attempt   int                          `json:"attempt"`
	Metrics   evaluation.EvaluationMetrics `json:"metrics"`
	Threshold float64                      `json:"decision_threshold"`
	Training  training.TrainingSummary     `json:"training"`
	Artifacts map[string]string            `json:"artifacts"`
}

// Retryable reports whether a failed run may succeed when run again: it was
// interrupted or failed on something transient, not on its input.
func Retryable(err error) bool {
	switch {
	case err == nil, errors.Is(err, ErrTaskGone):
		return false
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.Is(err, ErrSpec), errors.Is(err, ErrBackendUnavailable),
		errors.Is(err, training.ErrInvalidConfig), errors.Is(err, training.ErrInvalidData),
		errors.Is(err, training.ErrInvalidExamples), errors.Is(err, training.ErrDiverged),
		errors.Is(err, training.ErrCheckpointMismatch), errors.Is(err, training.ErrDataPath),
		errors.Is(err, dataset.ErrUnsupported), errors.Is(err, dataset.ErrEmptyFile), errors.Is(err, dataset.ErrNoRows),
		errors.Is(err, dataset.ErrRaggedRow), errors.Is(err, dataset.ErrMissingColumn), errors.Is(err, dataset.ErrNonNumeric),
		errors.Is(err, dataset.ErrSingleClass), errors.Is(err, dataset.ErrUnknownClass), errors.Is(err, dataset.ErrMissingTarget),
		errors.Is(err, dataset.ErrTooFewRows), errors.Is(err, fs.ErrNotExist), errors.Is(err, store.ErrInvalid),
		errors.Is(err, store.ErrConflict), errors.Is(err, nn.ErrInvalidSpec),
		errors.Is(err, training.ErrInvalidStage), errors.Is(err, training.ErrDataChanged), errors.Is(err, store.ErrNotFound),
		errors.Is(err, optimization.ErrInvalidStudy), errors.Is(err, optimization.ErrInvalidSpace),
		errors.Is(err, optimization.ErrUnknownTrial):
		return false
	}
	return true
}

// ExitCode maps a run's error to the trainer's exit status.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrSpec):
		return ExitUsage
	case Retryable(err):
		return ExitRetryable
	}
	return ExitApplication
}

// Run executes the job. A job already finished is left alone (nil error: a
// duplicate attempt). On an error that retrying cannot fix the job is marked
// FAILED; on a retryable one (cancellation included) it stays RUNNING for
// the next attempt, which resumes from the checkpoint.
func (r *Runner) Run(ctx context.Context, spec Spec) (*Result, error) {
	if r.NewTrainer == nil {
		return nil, fmt.Errorf("run job %s: %w: %s", spec.JobID, ErrBackendUnavailable, spec.Backend)
	}
	job, err := r.job(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("run job %s: %w", spec.JobID, err)
	}
	if job.Status.Terminal() {
		return nil, nil
	}
	res, err := r.execute(ctx, spec, job)
	if err != nil {
		err = fmt.Errorf("run job %s (attempt %d): %w", spec.JobID, spec.Attempt, err)
		if !Retryable(err) {
			_, _ = r.Jobs.UpdateJob(context.WithoutCancel(ctx), spec.JobID, store.JobUpdate{Status: store.Failed, Error: err.Error()})
		}
		return nil, err
	}
	return res, nil
}

// job returns the job record, creating it from spec.Config when it does not
// exist.
func (r *Runner) job(ctx context.Context, spec Spec) (store.Job, error) {
	job, err := r.Jobs.GetJob(ctx, spec.JobID)
	if errors.Is(err, store.ErrNotFound) && spec.Config != nil {
		cfg, err := spec.Config.Normalize()
		if err != nil {
			return store.Job{}, err
		}
		now := time.Now().UTC()
		job = store.Job{ID: spec.JobID, Kind: training.JobKindTraining, Status: store.Queued, Config: cfg.JSON(), CreatedAt: now, UpdatedAt: now}
		if err := r.Jobs.CreateJob(ctx, job); err != nil && !errors.Is(err, store.ErrConflict) {
			return store.Job{}, err
		}
		return r.Jobs.GetJob(ctx, spec.JobID)
	}
	return job, err
}

// execute runs the stages: validate, preprocess, train, evaluate, register.
func (r *Runner) execute(ctx context.Context, spec Spec, job store.Job) (*Result, error) {
	var cfg training.TrainingConfig
	if err := json.Unmarshal(job.Config, &cfg); err != nil {
		return nil, fmt.Errorf("%w: decode the job's config: %w", training.ErrInvalidConfig, err)
	}
	cfg, err := cfg.Normalize()
	if err != nil {
		return nil, err
	}
	start := store.JobUpdate{Status: store.Running, AddAttempt: true}
	if job.Status == store.Running {
		start.Status = "" // an earlier attempt was interrupted: resume
	}
	if err := r.update(ctx, spec.JobID, start); err != nil {
		return nil, err
	}
	rec := tracking.Multi(r.Recorder, r.toJob(spec.JobID))
	stage := func(name string) error {
		_ = rec.Record(ctx, tracking.Event{JobID: spec.JobID, Kind: tracking.StageStarted, Stage: name, Time: time.Now().UTC()})
		return r.update(ctx, spec.JobID, store.JobUpdate{Stage: name})
	}

	// Validate and split.
	if err := stage(training.StageValidate); err != nil {
		return nil, err
	}
	read := r.ReadData
	if read == nil {
		read = readLocal
	}
	// The catalog conventions (sentinels, identifier, group and split
	// columns, a separate test file) as the training pipeline applies them.
	table, testTable, err := cfg.ReadTables(ctx, training.TableReader(read))
	if err != nil {
		return nil, err
	}
	prepared, err := cfg.SelectData(table, testTable)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", training.ErrInvalidData, err)
	}
	data := prepared.Data
	validator := training.ValidationPipeline{}
	if cfg.Leakage == "warning" {
		validator.Options.LeakageSeverity = training.SeverityWarning
	}
	report := validator.Validate(ctx, table, data)
	if err := report.Err(); err != nil {
		return nil, err
	}
	if err := cfg.SplitData(prepared); err != nil {
		return nil, fmt.Errorf("%w: %w", training.ErrInvalidData, err)
	}
	split := prepared.Split
	report.Findings = append(report.Findings, prepared.Findings...)
	validator.CheckSplit(ctx, report, split)
	if err := report.Err(); err != nil {
		return nil, err
	}
	if data.Weights != nil && r.Backend != training.BackendGonum {
		return nil, fmt.Errorf("%w: sample_weight: the %s backend does not weigh its loss", training.ErrInvalidConfig, r.Backend)
	}

	// Preprocess.
	if err := stage(training.StagePreprocess); err != nil {
		return nil, err
	}
	var prep training.DataPreprocessor
	fitted, err := prep.Fit(split.Train)
	if err != nil {
		return nil, err
	}
	fitted.Missing = cfg.MissingForFeatures(data.FeatureNames)
	weights, err := classWeights(cfg.ClassWeights, split.Train)
	if err != nil {
		return nil, err
	}
	examples := func(d *dataset.Dataset) (training.Examples, error) {
		x, err := prep.Transform(fitted, d)
		return training.Examples{X: x, Y: d.Y, W: d.Weights, Rows: d.Rows, Features: len(d.FeatureNames)}, err
	}
	trainEx, err := examples(split.Train)
	if err != nil {
		return nil, err
	}
	valEx, err := examples(split.Validation)
	if err != nil {
		return nil, err
	}

	// Train.
	if err := r.update(ctx, spec.JobID, store.JobUpdate{Stage: training.StageTrain}); err != nil {
		return nil, err
	}
	trainer, err := r.NewTrainer(rec, Checkpoints{Store: r.Artifacts, Backend: r.Backend})
	if err != nil {
		return nil, err
	}
	began := time.Now()
	tr, err := trainer.Train(ctx, training.TrainInput{JobID: spec.JobID, Config: cfg, Classes: len(data.Classes),
		ClassWeights: weights, Train: trainEx, Validation: valEx})
	if err != nil {
		return nil, err
	}

	// Evaluate.
	if err := stage(training.StageEvaluate); err != nil {
		return nil, err
	}
	modelID := training.NewID("mdl", time.Now())
	positive := ""
	if data.Positive >= 0 {
		positive = data.Classes[data.Positive]
	}
	model := &nn.Model{Manifest: nn.Manifest{FormatVersion: nn.FormatVersion, ModelID: modelID, Name: modelName(cfg),
		ModelType: cfg.ModelType, Backend: r.Backend, Architecture: tr.Spec, Features: data.FeatureNames,
		Target: data.Target, Classes: data.Classes, PositiveClass: positive, Preprocessing: fitted,
		DataHash: table.Hash, TrainingConfig: cfg.JSON(), CodeVersion: nn.Version(), CreatedAt: time.Now().UTC(),
		DataHDU: table.HDU, Split: &prepared.Record},
		Net: tr.Net}
	threshold, err := chooseThreshold(ctx, cfg, model, split.Validation, data.Positive >= 0)
	if err != nil {
		return nil, err
	}
	model.Manifest.Threshold = threshold
	metrics, _, err := evaluation.ModelEvaluator{}.Evaluate(ctx, model, split.Test, threshold)
	if err != nil {
		return nil, err
	}

	// Register.
	if err := stage(training.StageRegister); err != nil {
		return nil, err
	}
	res := &Result{JobID: spec.JobID, ModelID: modelID, Backend: r.Backend, Attempt: spec.Attempt, Metrics: metrics,
		Threshold: threshold, Artifacts: map[string]string{},
		Training: training.TrainingSummary{EpochsRun: tr.EpochsRun, BestEpoch: tr.BestEpoch, StopReason: tr.StopReason,
			ResumedFrom: tr.ResumedFrom, Seconds: time.Since(began).Seconds(), History: tr.History}}
	if err := r.register(ctx, model, metrics, res); err != nil {
		_ = r.Artifacts.DeletePrefix(context.WithoutCancel(ctx), path.Join("models", modelID))
		return nil, err
	}
	return res, nil
}

// register writes the model directory to the artifact store, registers the
// model and marks the job SUCCEEDED with the result.
func (r *Runner) register(ctx context.Context, model *nn.Model, metrics evaluation.EvaluationMetrics, res *Result) error {
	m, err := json.Marshal(metrics)
	if err != nil {
		return fmt.Errorf("encode metrics: %w", err)
	}
	model.Manifest.Metrics = m
	scratch, err := os.MkdirTemp(r.ScratchDir, "orrery-model-*")
	if err != nil {
		return fmt.Errorf("scratch dir: %w", err)
	}
	defer os.RemoveAll(scratch)
	dir := filepath.Join(scratch, model.Manifest.ModelID)
	if err := nn.SaveDir(dir, model); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list model files: %w", err)
	}
	prefix := path.Join("models", model.Manifest.ModelID)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return fmt.Errorf("read model file %s: %w", e.Name(), err)
		}
		key := path.Join(prefix, e.Name())
		if err := r.Retry.Do(ctx, "put "+key, func() error { return r.Artifacts.Put(ctx, key, bytes.NewReader(b)) }); err != nil {
			return err
		}
	}
	rec := store.Model{ID: model.Manifest.ModelID, Name: model.Manifest.Name, JobID: res.JobID, ModelType: model.Manifest.ModelType,
		ArtifactKey: prefix, ArtifactURI: r.Artifacts.URI(prefix), Metrics: m, DataHash: model.Manifest.DataHash, CreatedAt: time.Now().UTC()}
	if err := r.Retry.Do(ctx, "register model "+rec.ID, func() error { return r.Models.RegisterModel(ctx, rec) }); err != nil {
		return err
	}
	res.Artifacts["model"] = rec.ArtifactURI
	res.Artifacts["manifest"] = r.Artifacts.URI(path.Join(prefix, nn.ManifestFile))
	out, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	return r.update(ctx, res.JobID, store.JobUpdate{Status: store.Succeeded, ModelID: rec.ID, Result: out})
}

// toJob keeps the job record's progress current.
func (r *Runner) toJob(jobID string) tracking.Recorder {
	return tracking.RecorderFunc(func(ctx context.Context, e tracking.Event) error {
		if e.Kind == tracking.Log {
			return nil
		}
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode progress of job %s: %w", jobID, err)
		}
		_, err = r.Jobs.UpdateJob(ctx, jobID, store.JobUpdate{Progress: b})
		return err
	})
}

func (r *Runner) update(ctx context.Context, id string, u store.JobUpdate) error {
	return r.Retry.Do(ctx, "update job "+id, func() error {
		_, err := r.Jobs.UpdateJob(ctx, id, u)
		return err
	})
}

// readLocal reads a local dataset file; s3:// paths need a DataReader.
func readLocal(ctx context.Context, uri string) (*dataset.Table, error) {
	if strings.HasPrefix(uri, "s3://") {
		return nil, fmt.Errorf("%w: %s: this trainer was started without S3 access", training.ErrDataPath, uri)
	}
	if uri == "" {
		return nil, fmt.Errorf("%w: dataset_path is empty", training.ErrDataPath)
	}
	return dataset.Read(ctx, uri)
}

// chooseThreshold picks the binary decision threshold on the validation
// split, as the training pipeline does: F1-optimal or Youden's J, or the
// configured number; 0.5 when no optimum exists.
func chooseThreshold(ctx context.Context, cfg training.TrainingConfig, model *nn.Model, val *dataset.Dataset, binary bool) (float64, error) {
	if !binary {
		return 0, nil
	}
	if fixed, err := cfg.Threshold(); err != nil || fixed > 0 {
		return fixed, err
	}
	proba, err := model.PredictProba(ctx, val.X, val.Rows)
	if err != nil {
		return 0, err
	}
	score := make([]float64, val.Rows)
	for i := range score {
		score[i] = proba[2*i+1]
	}
	var t float64
	if cfg.DecisionThreshold == "youden" {
		t = evaluation.YoudenThreshold(val.Y, score)
	} else {
		t, _ = evaluation.BestF1Threshold(val.Y, score)
	}
	if math.IsNaN(t) || t <= 0 || t > 1 {
		t = evaluation.DefaultThreshold
	}
	return t, nil
}

// classWeights turns class_weights into one weight per class, as the
// training pipeline does ("balanced" is scikit-learn's n / (k·n_c)).
func classWeights(cw training.ClassWeights, train *dataset.Dataset) ([]float64, error) {
	counts := train.ClassCounts()
	w := make([]float64, len(counts))
	switch cw.Mode {
	case "none":
		return nil, nil
	case "balanced":
		for c, n := range counts {
			if n == 0 {
				return nil, fmt.Errorf("%w: class %q has no training rows", training.ErrInvalidData, train.Classes[c])
			}
			w[c] = float64(train.Rows) / (float64(len(counts)) * float64(n))
		}
		return w, nil
	}
	known := map[string]bool{}
	for c, label := range train.Classes {
		known[label] = true
		w[c] = 1
		if v, ok := cw.Weights[label]; ok {
			w[c] = v
		}
	}
	for label := range cw.Weights {
		if !known[label] {
			return nil, fmt.Errorf("%w: class_weights: no class %q (classes: %s)", training.ErrInvalidConfig, label, strings.Join(train.Classes, ", "))
		}
	}
	return w, nil
}

func modelName(cfg training.TrainingConfig) string {
	if cfg.Name != "" {
		return cfg.Name
	}
	base := path.Base(cfg.DatasetPath)
	return strings.TrimSuffix(base, path.Ext(base)) + "-" + cfg.ModelType
}

// Checkpoints keeps a job's checkpoints in the artifact store under
// checkpoints/<job>/: latest.ckpt for the gonum backend (the key the
// embedded pipeline uses), <backend>.ckpt for another, so the backends never
// read each other's state. With Dir set they are <Dir>/<job>.ckpt instead
// (a study's trials: TrialCheckpointDir).
type Checkpoints struct {
	Store   store.ArtifactStore
	Backend string
	Dir     string
}

func (c Checkpoints) key(jobID string) string {
	if c.Dir != "" {
		return path.Join(c.Dir, jobID+".ckpt")
	}
	return training.CheckpointKey(jobID, c.Backend)
}

// SaveCheckpoint stores data as the job's checkpoint.
func (c Checkpoints) SaveCheckpoint(ctx context.Context, jobID string, data []byte) error {
	if err := c.Store.Put(ctx, c.key(jobID), bytes.NewReader(data)); err != nil {
		return fmt.Errorf("save checkpoint of job %s: %w", jobID, err)
	}
	return nil
}

// LoadCheckpoint returns the job's checkpoint; found is false when there is
// none.
func (c Checkpoints) LoadCheckpoint(ctx context.Context, jobID string) ([]byte, bool, error) {
	rc, err := c.Store.Get(ctx, c.key(jobID))
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("load checkpoint of job %s: %w", jobID, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, false, fmt.Errorf("read checkpoint of job %s: %w", jobID, err)
	}
	return b, true, nil
}
