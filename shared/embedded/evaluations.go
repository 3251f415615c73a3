package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
)

// Stages an evaluation job reports in its record.
const (
	evaluationStageEvaluate = "evaluate"
	evaluationStageCompare  = "compare"
)

// Evaluations runs the evaluations of POST /ml/evaluation/evaluate as jobs
// of Kind api.JobKindEvaluation in background goroutines of this process,
// one at a time (an evaluation already uses every core for its bootstrap
// and cross-validation); it is the api.Evaluations of `orrery serve`.
//
// A job's Config is the evaluation.EvaluateRequest it runs (with compare_to);
// its Result, once SUCCEEDED, is an EvaluationJobResult. The evaluation's
// files are stored by Runtime.Evaluate, and GET
// /ml/evaluation/{model_id}/metrics serves the latest one.
type Evaluations struct {
	rt    *Runtime
	log   *slog.Logger
	slots chan struct{}

	mu      sync.Mutex
	running map[string]context.CancelFunc
	closed  bool
	wg      sync.WaitGroup
}

var _ api.Evaluations = (*Evaluations)(nil)

// EvaluationJobResult is the Result of a SUCCEEDED evaluation job.
type EvaluationJobResult struct {
	// Evaluation is the evaluation.EvaluationResult, as stored.
	Evaluation json.RawMessage `json:"evaluation"`
	// Comparison ranks the model against compare_to, when asked.
	Comparison *evaluation.ComparisonResult `json:"comparison,omitempty"`
}

// evaluationJobConfig is the Config of an evaluation job.
type evaluationJobConfig struct {
	evaluation.EvaluateRequest
	CompareTo []string `json:"compare_to,omitempty"`
}

// NewEvaluations returns the runtime's evaluation service. log receives one
// record per finished job (nil: none).
func (r *Runtime) NewEvaluations(log *slog.Logger) *Evaluations {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Evaluations{rt: r, log: log, slots: make(chan struct{}, 1), running: map[string]context.CancelFunc{}}
}

// Evaluate maps req to an evaluation.EvaluateRequest, stores a QUEUED
// evaluation job for it and starts it in the background. Defaults come
// from the model's manifest: dataset_path is the file it was trained on
// (so the model's own test split is scored) and target_column its target.
// Errors: store.ErrNotFound for an unknown model (or compare_to model),
// store.ErrInvalid for a request the evaluation refuses,
// api.ErrNotImplemented for a numeric decision_threshold, ErrClosed after
// Close.
func (e *Evaluations) Evaluate(ctx context.Context, req api.EvaluationRequest) (api.Accepted, error) {
	cfg, err := e.request(ctx, req)
	if err != nil {
		return api.Accepted{}, err
	}
	body, err := json.Marshal(cfg)
	if err != nil {
		return api.Accepted{}, fmt.Errorf("evaluate model %s: encode request: %w", req.ModelID, err)
	}
	now := time.Now().UTC()
	job := store.Job{ID: training.NewID("evj", now), Kind: api.JobKindEvaluation, Status: store.Queued,
		Config: body, ModelID: req.ModelID, CreatedAt: now, UpdatedAt: now}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return api.Accepted{}, fmt.Errorf("evaluate model %s: %w", req.ModelID, ErrClosed)
	}
	if err := e.rt.DB.CreateJob(ctx, job); err != nil {
		return api.Accepted{}, fmt.Errorf("evaluate model %s: %w", req.ModelID, err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	e.running[job.ID] = cancel
	e.wg.Add(1)
	go e.run(runCtx, job.ID, cfg)
	return api.Accepted{JobID: job.ID, Kind: job.Kind, Status: job.Status,
		StatusURL: api.EvaluationStatusURL(job.ID), CreatedAt: now}, nil
}

// request checks the models and builds the evaluation request.
func (e *Evaluations) request(ctx context.Context, req api.EvaluationRequest) (evaluationJobConfig, error) {
	man, err := e.manifest(ctx, req.ModelID)
	if err != nil {
		return evaluationJobConfig{}, err
	}
	for _, id := range req.CompareTo {
		if id == req.ModelID {
			return evaluationJobConfig{}, fmt.Errorf("compare_to: %q is the model being evaluated: %w", id, store.ErrInvalid)
		}
		if _, err := e.rt.DB.GetModel(ctx, id); err != nil {
			return evaluationJobConfig{}, fmt.Errorf("compare_to: model %s: %w", id, err)
		}
	}
	out := evaluationJobConfig{CompareTo: req.CompareTo}
	r := &out.EvaluateRequest
	r.ModelID, r.DatasetPath, r.TargetColumn = req.ModelID, req.DatasetPath, req.TargetColumn
	if r.DatasetPath == "" {
		cfg, err := trainingConfig(man)
		if err != nil {
			return out, fmt.Errorf("evaluate model %s: %w", req.ModelID, err)
		}
		r.DatasetPath = cfg.DatasetPath
		if r.DatasetPath == "" {
			return out, fmt.Errorf("dataset_path: model %s records no training data set; give one: %w", req.ModelID, store.ErrInvalid)
		}
	}
	if r.TargetColumn == "" {
		r.TargetColumn = man.Target
	}
	switch t := req.DecisionThreshold; t {
	case "", "model":
	case "f1", "youden":
		// The chosen threshold is saved into a new model version; the
		// evaluated model stays as it is (model directories are immutable).
		r.SaveThreshold = t
	default:
		return out, fmt.Errorf("decision_threshold %s: evaluating at a fixed threshold is not supported by this evaluation service (use model, f1 or youden): %w",
			t, api.ErrNotImplemented)
	}
	if cv := req.CrossValidation; cv != nil {
		r.CVFolds = cv.Folds
		if cv.Stratified != nil && !*cv.Stratified {
			r.CVStrategy = evaluation.CVKFold
		}
		if cv.Seed > 0 {
			r.Seed = uint64(cv.Seed)
		}
	}
	if b := req.Bootstrap; b != nil {
		r.BootstrapResamples, r.Confidence = b.Iterations, b.Confidence
	}
	if err := r.Validate(); err != nil {
		return out, fmt.Errorf("%w: %w", store.ErrInvalid, err)
	}
	return out, nil
}

// manifest reads the manifest of a registered model.
func (e *Evaluations) manifest(ctx context.Context, modelID string) (nn.Manifest, error) {
	var man nn.Manifest
	dir, err := e.rt.ModelDir(ctx, modelID)
	if err != nil {
		return man, fmt.Errorf("model %s: %w", modelID, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, nn.ManifestFile))
	if err != nil {
		return man, fmt.Errorf("model %s: read manifest: %w", modelID, err)
	}
	if err := json.Unmarshal(b, &man); err != nil {
		return man, fmt.Errorf("model %s: decode manifest: %w", modelID, err)
	}
	return man, nil
}

func (e *Evaluations) run(ctx context.Context, jobID string, cfg evaluationJobConfig) {
	defer e.wg.Done()
	defer func() {
		e.mu.Lock()
		if cancel, ok := e.running[jobID]; ok {
			cancel()
			delete(e.running, jobID)
		}
		e.mu.Unlock()
	}()
	// The job's final write outlives a cancelled run: it records why.
	final := context.WithoutCancel(ctx)
	select {
	case e.slots <- struct{}{}:
	case <-ctx.Done():
		_, _ = e.rt.DB.UpdateJob(final, jobID, store.JobUpdate{Status: store.Cancelled, Error: "the server stopped before the evaluation started"})
		return
	}
	defer func() { <-e.slots }()
	start := time.Now()
	err := e.execute(ctx, jobID, cfg)
	switch {
	case err == nil:
		e.log.Info("evaluation job succeeded", "job_id", jobID, "model_id", cfg.ModelID, "seconds", time.Since(start).Seconds())
		return
	case errors.Is(err, context.Canceled):
		_, _ = e.rt.DB.UpdateJob(final, jobID, store.JobUpdate{Status: store.Cancelled, Error: "the server stopped before the evaluation ended"})
		e.log.Info("evaluation job cancelled", "job_id", jobID)
	default:
		_, _ = e.rt.DB.UpdateJob(final, jobID, store.JobUpdate{Status: store.Failed, Error: err.Error()})
		e.log.Warn("evaluation job failed", "job_id", jobID, "error", err.Error())
	}
}

// execute runs one evaluation job to its end and records the result.
func (e *Evaluations) execute(ctx context.Context, jobID string, cfg evaluationJobConfig) error {
	if _, err := e.rt.DB.UpdateJob(ctx, jobID, store.JobUpdate{Status: store.Running, Stage: evaluationStageEvaluate, AddAttempt: true}); err != nil {
		return err
	}
	res, err := e.rt.Evaluate(ctx, cfg.EvaluateRequest)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode evaluation %s: %w", res.EvaluationID, err)
	}
	out := EvaluationJobResult{Evaluation: raw}
	if len(cfg.CompareTo) > 0 {
		if _, err := e.rt.DB.UpdateJob(ctx, jobID, store.JobUpdate{Stage: evaluationStageCompare}); err != nil {
			return err
		}
		ids := append([]string{cfg.ModelID}, cfg.CompareTo...)
		cmp, err := e.rt.Compare(ctx, evaluation.CompareRequest{ModelIDs: ids, DatasetPath: cfg.DatasetPath,
			TargetColumn: cfg.TargetColumn, PositiveClass: cfg.PositiveClass, BootstrapResamples: cfg.BootstrapResamples, Seed: cfg.Seed})
		if err != nil {
			return fmt.Errorf("compare %s: %w", strings.Join(ids, ", "), err)
		}
		out.Comparison = cmp
	}
	b, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("encode evaluation job %s result: %w", jobID, err)
	}
	_, err = e.rt.DB.UpdateJob(ctx, jobID, store.JobUpdate{Status: store.Succeeded, Result: b})
	return err
}

// EvaluationMetrics returns the model's latest evaluation (see
// Runtime.EvaluationMetrics).
func (e *Evaluations) EvaluationMetrics(ctx context.Context, modelID string) (json.RawMessage, error) {
	return e.rt.EvaluationMetrics(ctx, modelID)
}

// Close refuses new evaluations, cancels the running ones (each is marked
// CANCELLED) and waits for them to end or ctx to be done.
func (e *Evaluations) Close(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	for _, cancel := range e.running {
		cancel()
	}
	e.mu.Unlock()
	done := make(chan struct{})
	go func() {
		e.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close evaluations: still stopping: %w", ctx.Err())
	}
}
