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
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/orrery-ml/orrery/shared/dataset"
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

// JobKindTraining is the Kind of training job records.
const JobKindTraining = "training"

// ErrDataPath is returned for a dataset_path this runtime cannot read.
var ErrDataPath = errors.New("training: unusable dataset_path")

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
	// ScratchDir holds models while they are written (default os.TempDir()).
	ScratchDir string
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
	EpochsRun   int          `json:"epochs_run"`
	BestEpoch   int          `json:"best_epoch"`
	StopReason  string       `json:"stop_reason"`
	ResumedFrom int          `json:"resumed_from,omitempty"`
	Seconds     float64      `json:"seconds"`
	History     []EpochStats `json:"history"`
}

// Submit validates cfg and stores a QUEUED training job for it.
func (p *TrainingPipeline) Submit(ctx context.Context, cfg TrainingConfig) (store.Job, error) {
	cfg, err := cfg.Normalize()
	if err != nil {
		return store.Job{}, err
	}
	if cfg.DatasetPath == "" {
		return store.Job{}, fmt.Errorf("%w: dataset_path: required", ErrInvalidConfig)
	}
	if cfg.TargetColumn == "" {
		return store.Job{}, fmt.Errorf("%w: target_column: required", ErrInvalidConfig)
	}
	now := p.now()
	job := store.Job{
		ID:        p.newID("trn"),
		Kind:      JobKindTraining,
		Status:    store.Queued,
		Config:    cfg.JSON(),
		CreatedAt: now,
		UpdatedAt: now,
	}
	if err := p.retry(ctx, "create job "+job.ID, func() error { return p.Jobs.CreateJob(ctx, job) }); err != nil {
		return store.Job{}, err
	}
	return job, nil
}

// Run executes a QUEUED job to the end. On failure the job is marked FAILED
// with the reason, anything half-registered is removed, and the error is
// returned; the validation report is kept with the job either way.
func (p *TrainingPipeline) Run(ctx context.Context, jobID string) (*Result, error) {
	job, err := p.Jobs.GetJob(ctx, jobID)
	if err != nil {
		return nil, fmt.Errorf("run job %s: %w", jobID, err)
	}
	var cfg TrainingConfig
	if err := json.Unmarshal(job.Config, &cfg); err != nil {
		return nil, fmt.Errorf("run job %s: decode config: %w", jobID, err)
	}
	if cfg, err = cfg.Normalize(); err != nil {
		return nil, fmt.Errorf("run job %s: %w", jobID, err)
	}
	// A job found RUNNING was interrupted (a crash, a reclaimed instance): it
	// resumes from its last checkpoint. A finished job is never run again.
	start := store.JobUpdate{Status: store.Running, AddAttempt: true}
	switch {
	case job.Status.Terminal():
		return nil, fmt.Errorf("run job %s: %w: it is already %s", jobID, store.ErrConflict, job.Status)
	case job.Status == store.Running:
		start.Status = ""
	}
	if _, err := p.update(ctx, jobID, start); err != nil {
		return nil, fmt.Errorf("run job %s: %w", jobID, err)
	}
	run := &jobRun{p: p, id: jobID, cfg: cfg, modelID: p.newID("mdl"), rec: p.recorderFor(jobID),
		res: &Result{JobID: jobID, Config: cfg, Artifacts: map[string]string{}, Stages: map[string]float64{}}}
	res, runErr := run.execute(ctx)
	if runErr != nil {
		// Cleanup and the FAILED mark must happen even when ctx was cancelled.
		bg := context.WithoutCancel(ctx)
		_ = p.Artifacts.DeletePrefix(bg, modelPrefix(run.modelID))
		status := store.Failed
		if errors.Is(runErr, context.Canceled) {
			status = store.Cancelled
		}
		_, _ = p.update(bg, jobID, store.JobUpdate{Status: status, Error: runErr.Error()})
		_ = run.rec.Record(bg, tracking.Event{JobID: jobID, Kind: tracking.StageFinished, Stage: run.stage, Err: runErr.Error(), Time: p.now()})
		return nil, runErr
	}
	return res, nil
}

// Train is Submit followed by Run.
func (p *TrainingPipeline) Train(ctx context.Context, cfg TrainingConfig) (*Result, error) {
	job, err := p.Submit(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return p.Run(ctx, job.ID)
}

// jobRun carries one execution of the pipeline through its stages.
type jobRun struct {
	p       *TrainingPipeline
	id      string
	cfg     TrainingConfig
	modelID string
	rec     tracking.Recorder
	stage   string
	res     *Result

	table  *dataset.Table
	data   *dataset.Dataset
	split  dataset.Split
	prep   nn.Preprocessing
	weight []float64
	train  *TrainResult
	model  *nn.Model
}

func (r *jobRun) execute(ctx context.Context) (*Result, error) {
	stages := []struct {
		name string
		fn   func(context.Context) error
	}{
		{StageValidate, r.validate},
		{StagePreprocess, r.preprocess},
		{StageTrain, r.trainModel},
		{StageEvaluate, r.evaluate},
		{StageRegister, r.register},
	}
	for _, s := range stages {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("job %s: before %s: %w", r.id, s.name, err)
		}
		r.stage = s.name
		if _, err := r.p.update(ctx, r.id, store.JobUpdate{Stage: s.name}); err != nil {
			return nil, fmt.Errorf("job %s: %w", r.id, err)
		}
		start := time.Now()
		if s.name != StageTrain { // the trainer reports its own stage with epochs
			r.event(ctx, tracking.Event{Kind: tracking.StageStarted, Stage: s.name})
		}
		if err := s.fn(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		r.res.Stages[s.name] = time.Since(start).Seconds()
		if s.name != StageTrain {
			r.event(ctx, tracking.Event{Kind: tracking.StageFinished, Stage: s.name})
		}
	}
	return r.res, nil
}

func (r *jobRun) event(ctx context.Context, e tracking.Event) {
	e.JobID = r.id
	e.Time = r.p.now()
	_ = r.rec.Record(ctx, e)
}

func (r *jobRun) validate(ctx context.Context) error {
	p := strings.TrimSpace(r.cfg.DatasetPath)
	if strings.HasPrefix(p, "s3://") {
		return fmt.Errorf("%w: %s: s3:// paths are read by the AWS runtime; the embedded runtime reads local files", ErrDataPath, p)
	}
	table, err := dataset.Read(ctx, p)
	if err != nil {
		return err
	}
	data, err := table.Select(dataset.SelectOptions{Target: r.cfg.TargetColumn, Positive: r.cfg.PositiveClass, Features: r.cfg.Features})
	if err != nil {
		return err
	}
	v := r.p.Validator
	if r.cfg.Leakage == "warning" {
		v.Options.LeakageSeverity = SeverityWarning
	}
	report := v.Validate(ctx, table, data)
	if report.Err() == nil {
		split, err := dataset.StratifiedSplit(data, r.cfg.ValidationSplit, r.cfg.TestSplit, r.cfg.Seed)
		if err != nil {
			return err
		}
		v.CheckSplit(ctx, report, split)
		r.split = split
	}
	r.res.Validation = report
	if err := r.putJSON(ctx, "validation_report", jobKey(r.id, "validation_report.json"), report); err != nil {
		return err
	}
	for _, f := range report.Findings {
		if f.Severity == SeverityWarning {
			r.res.Warnings = append(r.res.Warnings, f)
			r.event(ctx, tracking.Event{Kind: tracking.Log, Stage: StageValidate, Message: "warning: " + f.Message})
		}
	}
	if err := report.Err(); err != nil {
		return err
	}
	r.table, r.data = table, data
	return nil
}

func (r *jobRun) preprocess(context.Context) error {
	prep, err := r.p.Preprocessor.Fit(r.split.Train)
	if err != nil {
		return err
	}
	r.prep = prep
	w, err := classWeights(r.cfg.ClassWeights, r.split.Train)
	if err != nil {
		return err
	}
	r.weight = w
	return nil
}

func (r *jobRun) examples(d *dataset.Dataset) (Examples, error) {
	x, err := r.p.Preprocessor.Transform(r.prep, d)
	if err != nil {
		return Examples{}, err
	}
	return Examples{X: x, Y: d.Y, Rows: d.Rows, Features: len(d.FeatureNames)}, nil
}

func (r *jobRun) trainModel(ctx context.Context) error {
	classes := len(r.data.Classes)
	if r.cfg.LossFunction == "binary_cross_entropy" && classes > 2 {
		return fmt.Errorf("%w: loss_function: binary_cross_entropy needs two classes, target %q has %d (use cross_entropy, or set positive_class)",
			ErrInvalidConfig, r.cfg.TargetColumn, classes)
	}
	train, err := r.examples(r.split.Train)
	if err != nil {
		return err
	}
	val, err := r.examples(r.split.Validation)
	if err != nil {
		return err
	}
	trainer := ModelTrainer{Recorder: r.rec, Checkpoints: artifactCheckpointer{r.p.Artifacts}}
	start := time.Now()
	res, err := trainer.Train(ctx, TrainInput{JobID: r.id, Config: r.cfg, Classes: classes, ClassWeights: r.weight, Train: train, Validation: val})
	if err != nil {
		return err
	}
	r.train = res
	r.res.Training = TrainingSummary{EpochsRun: res.EpochsRun, BestEpoch: res.BestEpoch, StopReason: res.StopReason,
		ResumedFrom: res.ResumedFrom, Seconds: time.Since(start).Seconds(), History: res.History}
	return r.putJSON(ctx, "history", jobKey(r.id, "history.json"), res.History)
}

func (r *jobRun) evaluate(ctx context.Context) error {
	positive := ""
	if r.data.Positive >= 0 {
		positive = r.data.Classes[r.data.Positive]
	}
	r.model = &nn.Model{
		Manifest: nn.Manifest{
			FormatVersion: 1, ModelID: r.modelID, Name: r.modelName(), ModelType: r.cfg.ModelType, Backend: "gonum",
			Architecture: r.train.Spec, Features: r.data.FeatureNames, Target: r.data.Target, Classes: r.data.Classes,
			PositiveClass: positive, Preprocessing: r.prep, DataHash: r.table.Hash, TrainingConfig: r.cfg.JSON(),
			CodeVersion: nn.Version(), CreatedAt: r.p.now().UTC(),
		},
		Net: r.train.Net,
	}
	threshold, err := r.chooseThreshold(ctx)
	if err != nil {
		return err
	}
	r.model.Manifest.Threshold = threshold
	r.res.Threshold = threshold
	metrics, _, err := r.p.Evaluator.Evaluate(ctx, r.model, r.split.Test, threshold)
	if err != nil {
		return err
	}
	r.res.Metrics = metrics
	return r.putJSON(ctx, "metrics", jobKey(r.id, "metrics.json"), metrics)
}

// chooseThreshold picks the binary decision threshold on the validation
// split (never on the test split, which stays untouched for the metrics).
func (r *jobRun) chooseThreshold(ctx context.Context) (float64, error) {
	if r.data.Positive < 0 {
		return 0, nil
	}
	if fixed, err := r.cfg.Threshold(); err != nil || fixed > 0 {
		return fixed, err
	}
	val := r.split.Validation
	proba, err := r.model.PredictProba(ctx, val.X, val.Rows)
	if err != nil {
		return 0, err
	}
	score := make([]float64, val.Rows)
	for i := range score {
		score[i] = proba[2*i+1]
	}
	var t float64
	if r.cfg.DecisionThreshold == "youden" {
		t = evaluation.YoudenThreshold(val.Y, score)
	} else {
		t, _ = evaluation.BestF1Threshold(val.Y, score)
	}
	if math.IsNaN(t) || t <= 0 || t > 1 {
		// No usable optimum (a one-class validation split, saturated scores):
		// fall back to the conventional 0.5 and say so.
		r.event(ctx, tracking.Event{Kind: tracking.Log, Stage: StageEvaluate,
			Message: fmt.Sprintf("decision threshold by %s is %v on the validation split; using 0.5", r.cfg.DecisionThreshold, t)})
		t = evaluation.DefaultThreshold
	}
	return t, nil
}

func (r *jobRun) register(ctx context.Context) error {
	metrics, err := json.Marshal(r.res.Metrics)
	if err != nil {
		return fmt.Errorf("encode metrics: %w", err)
	}
	r.model.Manifest.Metrics = metrics
	scratch, err := os.MkdirTemp(r.p.ScratchDir, "orrery-model-*")
	if err != nil {
		return fmt.Errorf("scratch dir: %w", err)
	}
	defer os.RemoveAll(scratch)
	dir := filepath.Join(scratch, r.modelID)
	if err := nn.SaveDir(dir, r.model); err != nil {
		return err
	}
	// Read the model back and check it predicts exactly what was evaluated:
	// what is registered is what was measured.
	loaded, err := nn.LoadDir(dir)
	if err != nil {
		return fmt.Errorf("verify saved model: %w", err)
	}
	if err := samePredictions(ctx, r.model, loaded, r.split.Test); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list model files: %w", err)
	}
	prefix := modelPrefix(r.modelID)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return fmt.Errorf("read model file %s: %w", e.Name(), err)
		}
		key := path.Join(prefix, e.Name())
		if err := r.p.retry(ctx, "put "+key, func() error { return r.p.Artifacts.Put(ctx, key, bytes.NewReader(b)) }); err != nil {
			return err
		}
	}
	rec := store.Model{
		ID: r.modelID, Name: r.model.Manifest.Name, JobID: r.id, ModelType: r.cfg.ModelType,
		ArtifactKey: prefix, ArtifactURI: r.p.Artifacts.URI(prefix), Metrics: metrics,
		DataHash: r.table.Hash, CreatedAt: r.p.now().UTC(),
	}
	if err := r.p.retry(ctx, "register model "+r.modelID, func() error { return r.p.Models.RegisterModel(ctx, rec) }); err != nil {
		return err
	}
	r.res.ModelID = r.modelID
	r.res.Artifacts["model"] = rec.ArtifactURI
	r.res.Artifacts["manifest"] = r.p.Artifacts.URI(path.Join(prefix, "manifest.json"))
	result, err := json.Marshal(r.res)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	_, err = r.p.update(ctx, r.id, store.JobUpdate{Status: store.Succeeded, ModelID: r.modelID, Result: result})
	return err
}

func (r *jobRun) modelName() string {
	if r.cfg.Name != "" {
		return r.cfg.Name
	}
	base := strings.TrimSuffix(filepath.Base(r.cfg.DatasetPath), filepath.Ext(r.cfg.DatasetPath))
	return base + "-" + r.cfg.ModelType
}

func (r *jobRun) putJSON(ctx context.Context, name, key string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	if err := r.p.retry(ctx, "put "+key, func() error { return r.p.Artifacts.Put(ctx, key, bytes.NewReader(b)) }); err != nil {
		return err
	}
	r.res.Artifacts[name] = r.p.Artifacts.URI(key)
	return nil
}

// samePredictions checks that two models give identical probabilities.
func samePredictions(ctx context.Context, a, b *nn.Model, d *dataset.Dataset) error {
	pa, err := a.PredictProba(ctx, d.X, d.Rows)
	if err != nil {
		return err
	}
	pb, err := b.PredictProba(ctx, d.X, d.Rows)
	if err != nil {
		return err
	}
	for i := range pa {
		if pa[i] != pb[i] {
			return fmt.Errorf("training: saved model predicts %v where the trained one predicted %v (row %d)", pb[i], pa[i], i/len(a.Manifest.Classes))
		}
	}
	return nil
}

// classWeights turns the class_weights setting into one weight per class.
// "balanced" is scikit-learn's n_samples / (n_classes * n_c) on the training
// split.
func classWeights(cw ClassWeights, train *dataset.Dataset) ([]float64, error) {
	counts := train.ClassCounts()
	k := len(counts)
	switch cw.Mode {
	case "none":
		return nil, nil
	case "balanced":
		w := make([]float64, k)
		for c, n := range counts {
			if n == 0 {
				return nil, fmt.Errorf("%w: class %q has no training rows", ErrInvalidData, train.Classes[c])
			}
			w[c] = float64(train.Rows) / (float64(k) * float64(n))
		}
		return w, nil
	}
	w := make([]float64, k)
	for c, label := range train.Classes {
		v, ok := cw.Weights[label]
		if !ok {
			v = 1
		}
		w[c] = v
	}
	for label := range cw.Weights {
		if !containsString(train.Classes, label) {
			return nil, fmt.Errorf("%w: class_weights: no class %q (classes: %s)", ErrInvalidConfig, label, strings.Join(train.Classes, ", "))
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
type artifactCheckpointer struct{ a store.ArtifactStore }

func checkpointKey(jobID string) string { return path.Join("checkpoints", jobID, "latest.ckpt") }

func (c artifactCheckpointer) SaveCheckpoint(ctx context.Context, jobID string, data []byte) error {
	return c.a.Put(ctx, checkpointKey(jobID), bytes.NewReader(data))
}

func (c artifactCheckpointer) LoadCheckpoint(ctx context.Context, jobID string) ([]byte, bool, error) {
	rc, err := c.a.Get(ctx, checkpointKey(jobID))
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
