package evaluationapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/store"
)

// Config maps the body of POST /ml/evaluation/evaluate to an evaluation
// job's Config (before evaluationjob.Service.Prepare fills in the
// manifest's defaults): decision_threshold f1 or youden saves that
// threshold into a new model version (model directories are immutable, so
// the evaluated model stays as it is), cross_validation and bootstrap
// become the request's folds, strategy, seed and resamples. A numeric
// decision_threshold in (0, 1) is the request's Threshold: the model is
// evaluated at that operating point and stays as it is; any other value is
// store.ErrInvalid wrapping evaluation.ErrInvalidRequest.
func Config(req api.EvaluationRequest) (evaluationjob.Config, error) {
	out := evaluationjob.Config{CompareTo: req.CompareTo}
	r := &out.EvaluateRequest
	r.ModelID, r.DatasetPath, r.TargetColumn = req.ModelID, req.DatasetPath, req.TargetColumn
	switch t := req.DecisionThreshold; t {
	case "", "model":
	case "f1", "youden":
		r.SaveThreshold = t
	default:
		v, err := strconv.ParseFloat(t, 64)
		if err != nil || !(v > 0 && v < 1) {
			return out, fmt.Errorf("%w: %w: decision_threshold: %q is not model, f1, youden or a number in (0, 1)",
				store.ErrInvalid, evaluation.ErrInvalidRequest, t)
		}
		r.Threshold = v
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
	return out, nil
}

// JobConfig is the Config Submit stores for req: Config, then
// svc.Prepare (defaults from the model's manifest, the models checked).
func JobConfig(ctx context.Context, svc *evaluationjob.Service, req api.EvaluationRequest) (evaluationjob.Config, error) {
	cfg, err := Config(req)
	if err != nil {
		return cfg, err
	}
	return svc.Prepare(ctx, cfg)
}

// Submit stores a QUEUED evaluation job for req (svc.Submit of its
// Config): the one path from request to job of every runtime.
// req.DatasetPath, when set, is already resolved against the data roots.
// Errors: store.ErrNotFound for an unknown model (or compare_to model),
// store.ErrInvalid for a request the evaluation refuses (a numeric
// decision_threshold for a multi-class model among them); nothing is
// stored then.
func Submit(ctx context.Context, svc *evaluationjob.Service, req api.EvaluationRequest) (store.Job, error) {
	cfg, err := Config(req)
	if err != nil {
		return store.Job{}, err
	}
	return svc.Submit(ctx, cfg)
}

// Executions starts the executions of evaluation jobs
// (pipeline.Flows over Step Functions or the local executor).
type Executions interface {
	// StartEvaluation starts executing the QUEUED job jobID and returns once the
	// execution is accepted, not when it ends; the execution moves the job
	// through its states. Starting a job that already has an execution
	// starts nothing and is not an error.
	StartEvaluation(ctx context.Context, jobID string) error
}

// Evaluations is the api.Evaluations of a runtime whose executions start
// elsewhere: Evaluate stores the QUEUED job (Submit) and starts its
// execution; EvaluationMetrics reads the stores. Both fields are required.
type Evaluations struct {
	Service    *evaluationjob.Service
	Executions Executions
}

var _ api.Evaluations = (*Evaluations)(nil)

// Evaluate stores a QUEUED evaluation job for req and starts its execution
// (errors of Submit). If the execution cannot be started the job is marked
// FAILED with the reason and api.ErrUnavailable is returned.
func (e *Evaluations) Evaluate(ctx context.Context, req api.EvaluationRequest) (api.Accepted, error) {
	job, err := Submit(ctx, e.Service, req)
	if err != nil {
		return api.Accepted{}, err
	}
	if err := e.Executions.StartEvaluation(ctx, job.ID); err != nil {
		reason := fmt.Sprintf("could not start the execution: %v", err)
		_, _ = e.Service.Jobs.UpdateJob(context.WithoutCancel(ctx), job.ID, store.JobUpdate{Status: store.Failed, Error: reason})
		return api.Accepted{}, fmt.Errorf("start evaluation job %s: %v: %w", job.ID, err, api.ErrUnavailable)
	}
	return api.Accepted{JobID: job.ID, Kind: job.Kind, Status: job.Status,
		StatusURL: api.EvaluationStatusURL(job.ID), CreatedAt: job.CreatedAt}, nil
}

// EvaluationMetrics returns the model's latest evaluation (see
// evaluationjob.Service.EvaluationMetrics).
func (e *Evaluations) EvaluationMetrics(ctx context.Context, modelID string) (json.RawMessage, error) {
	return e.Service.EvaluationMetrics(ctx, modelID)
}
