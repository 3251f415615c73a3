package training

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"strings"
	"time"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// Stage names, as they appear in job records and progress events.
const (
	StageValidate   = "validate"
	StagePreprocess = "preprocess"
	StageTrain      = "train"
	StageEvaluate   = "evaluate"
	StageRegister   = "register"
)

// ErrDataPath is returned for a dataset_path this runtime cannot read.
var ErrDataPath = fault.New(fault.Invalid, "training: unusable dataset_path")

// TrainingPipeline is the seed's TrainingWorkflow: prepare data -> train ->
// evaluate -> register, with the job record kept up to date at every stage.
// Fields left nil get working defaults where one exists; Jobs, Models and
// Artifacts are required.
type TrainingPipeline struct {
	Jobs      store.JobStore
	Models    store.ModelRegistry
	Artifacts store.ArtifactStore
	// Recorder receives every progress event (terminal bars, MLflow, ...);
	// the job record receives them too.
	Recorder     tracking.Recorder
	Validator    ValidationPipeline
	Preprocessor DataPreprocessor
	Evaluator    evaluation.ModelEvaluator
	// Retry governs retries of transient store failures.
	Retry RetryPolicy
	// NewTrainer makes the TrainModel stage's Trainer for each job (nil:
	// ModelTrainer); Backend names it in the model manifest (default
	// BackendGonum). A backend other than gonum checkpoints under its own
	// key, so backends never read each other's state.
	NewTrainer NewTrainerFunc
	Backend    string
	// Large, when set and the backend above is gonum, takes the networks
	// of at least Large.MinMACs multiply-adds per sample (the libtorch
	// backend of the trainer's torch build). The training summary's
	// backend_reason and a log event of the train stage say which backend
	// trained and why.
	Large *LargeNetworks
	// ReadTable reads a dataset_path (default: dataset.Read for local files;
	// s3:// paths are refused). The AWS runtime sets one that reads S3.
	ReadTable func(ctx context.Context, path string) (*dataset.Table, error)
	// Handoff, when set, hands a job's loaded data from each stage to the
	// next in this process instead of every stage reading the file again
	// (DataHandoff). The embedded runtime, whose stages all run in one
	// process, sets it; nil (the Lambda functions) reads in every stage.
	Handoff *DataHandoff
	// Now and NewID are replaceable for tests.
	Now   func() time.Time
	NewID func(prefix string) string
}

// Result is the outcome of a successful training job.
type Result struct {
	JobID      string                       `json:"job_id"`
	ModelID    string                       `json:"model_id"`
	Metrics    evaluation.EvaluationMetrics `json:"metrics"`
	Validation *ValidationReport            `json:"-"`
	Training   TrainingSummary              `json:"training"`
	Artifacts  map[string]string            `json:"artifacts"`
	Threshold  float64                      `json:"decision_threshold"`
	Config     TrainingConfig               `json:"config"`
	Warnings   []Finding                    `json:"warnings,omitempty"`
	Stages     map[string]float64           `json:"stage_seconds"`
}

// TrainingSummary condenses a TrainResult.
type TrainingSummary struct {
	EpochsRun   int    `json:"epochs_run"`
	BestEpoch   int    `json:"best_epoch"`
	StopReason  string `json:"stop_reason"`
	ResumedFrom int    `json:"resumed_from,omitempty"`
	Backend     string `json:"backend,omitempty"`
	// BackendReason says why Backend trained the network (its size against
	// the pipeline's Large threshold, or the configured backend).
	BackendReason string       `json:"backend_reason,omitempty"`
	Seconds       float64      `json:"seconds"`
	History       []EpochStats `json:"history"`
	// ModelType is the trained model's type (for auto: the one kept).
	ModelType string `json:"model_type,omitempty"`
	// OOB is a random forest's out-of-bag score.
	OOB *OOBScore `json:"oob,omitempty"`
	// FeatureImportance is a tree ensemble's gain importance by feature
	// (normalised to sum to 1).
	FeatureImportance map[string]float64 `json:"feature_importance,omitempty"`
	// Auto compares the candidates of model_type auto.
	Auto *AutoComparison `json:"auto,omitempty"`
}

// Submit validates cfg and stores a QUEUED training job for it (see
// NewJob).
func (p *TrainingPipeline) Submit(ctx context.Context, cfg TrainingConfig) (store.Job, error) {
	job, err := NewJob(p.newID(JobIDPrefix), cfg, p.now())
	if err != nil {
		return store.Job{}, err
	}
	if err := p.retry(ctx, "create job "+job.ID, func() error { return p.Jobs.CreateJob(ctx, job) }); err != nil {
		return store.Job{}, err
	}
	return job, nil
}

// predictsExactly checks that model gives the probabilities want, bit for
// bit, to the rows x.
func predictsExactly(ctx context.Context, model *nn.Model, x []float64, rows int, want []float64) error {
	got, err := model.PredictProba(ctx, x, rows)
	if err != nil {
		return err
	}
	if len(got) != len(want) {
		return fmt.Errorf("training: saved model gives %d probabilities for %d rows where the trained one gave %d", len(got), rows, len(want))
	}
	for i := range want {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			return fmt.Errorf("training: saved model predicts %v where the trained one predicted %v (row %d)", got[i], want[i], i/len(model.Manifest.Classes))
		}
	}
	return nil
}

// classWeights turns the class_weights setting into one weight per class.
// "balanced" is scikit-learn's n_samples / (n_classes * n_c) on the training
// split.
func classWeights(cw ClassWeights, train *dataset.Dataset) ([]float64, error) {
	return classWeightsOf(cw, train.Classes, train.ClassCounts())
}

// classWeightsOf is classWeights from the training split's classes and
// the rows of each.
func classWeightsOf(cw ClassWeights, classes []string, counts []int) ([]float64, error) {
	rows := 0
	for _, n := range counts {
		rows += n
	}
	k := len(counts)
	switch cw.Mode {
	case "none":
		return nil, nil
	case "balanced":
		w := make([]float64, k)
		for c, n := range counts {
			if n == 0 {
				return nil, fmt.Errorf("%w: class %q has no training rows", ErrInvalidData, classes[c])
			}
			w[c] = float64(rows) / (float64(k) * float64(n))
		}
		return w, nil
	}
	w := make([]float64, k)
	for c, label := range classes {
		v, ok := cw.Weights[label]
		if !ok {
			v = 1
		}
		w[c] = v
	}
	for label := range cw.Weights {
		if !containsString(classes, label) {
			return nil, fmt.Errorf("%w: class_weights: no class %q (classes: %s)", ErrInvalidConfig, label, strings.Join(classes, ", "))
		}
	}
	return w, nil
}

func containsString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// recorderFor sends events to the pipeline's recorder and keeps the job
// record's progress and stage current.
func (p *TrainingPipeline) recorderFor(jobID string) tracking.Recorder {
	toJob := tracking.RecorderFunc(func(ctx context.Context, e tracking.Event) error {
		if e.Kind == tracking.Log {
			return nil
		}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = p.Jobs.UpdateJob(ctx, jobID, store.JobUpdate{Progress: b})
		return err
	})
	return tracking.Multi(p.Recorder, toJob)
}

func (p *TrainingPipeline) update(ctx context.Context, id string, u store.JobUpdate) (store.Job, error) {
	var j store.Job
	err := p.retry(ctx, "update job "+id, func() error {
		var err error
		j, err = p.Jobs.UpdateJob(ctx, id, u)
		return err
	})
	return j, err
}

func (p *TrainingPipeline) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *TrainingPipeline) newID(prefix string) string {
	if p.NewID != nil {
		return p.NewID(prefix)
	}
	return NewID(prefix, p.now())
}

// NewID returns a sortable, unique identifier: prefix-YYYYMMDDhhmmss-<8 hex>.
func NewID(prefix string, now time.Time) string {
	var b [4]byte
	_, _ = io.ReadFull(rand.Reader, b[:])
	return prefix + "-" + now.UTC().Format("20060102150405") + "-" + hex.EncodeToString(b[:])
}

func jobKey(jobID, name string) string { return path.Join("jobs", jobID, name) }

func modelPrefix(modelID string) string { return path.Join("models", modelID) }

// artifactCheckpointer keeps checkpoints in the artifact store, so a job
// resumes wherever its artifacts live (a directory here, S3 on AWS).
type artifactCheckpointer struct {
	a       store.ArtifactStore
	backend string
}

// CheckpointKey is the artifact key of a job's checkpoint for a backend:
// checkpoints/<job>/latest.ckpt for gonum (or ""), <backend>.ckpt for
// another, so the backends never read each other's state.
func CheckpointKey(jobID, backend string) string {
	name := "latest.ckpt"
	if backend != "" && backend != BackendGonum {
		name = backend + ".ckpt"
	}
	return path.Join("checkpoints", jobID, name)
}

func (c artifactCheckpointer) SaveCheckpoint(ctx context.Context, jobID string, data []byte) error {
	return c.a.Put(ctx, CheckpointKey(jobID, c.backend), bytes.NewReader(data))
}

func (c artifactCheckpointer) LoadCheckpoint(ctx context.Context, jobID string) ([]byte, bool, error) {
	rc, err := c.a.Get(ctx, CheckpointKey(jobID, c.backend))
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, false, fmt.Errorf("read checkpoint of job %s: %w", jobID, err)
	}
	return b, true, nil
}
