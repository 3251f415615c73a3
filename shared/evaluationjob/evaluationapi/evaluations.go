package evaluationjob

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/store"
)

// Executions starts the executions of evaluation jobs (on AWS, Step
// Functions executions of the `evaluation` state machine; see
// shared/pipeline/sfnexec).
type Executions interface {
	// Start starts executing the QUEUED job jobID and returns once the
	// execution is accepted, not when it ends; the execution moves the job
	// through its states. Starting a job that already has an execution
	// starts nothing and is not an error.
	Start(ctx context.Context, jobID string) error
}

// Evaluations is the api.Evaluations of a runtime whose executions start
// elsewhere: Evaluate stores the QUEUED job (Service.Submit) and starts its
// execution; EvaluationMetrics reads the stores. Both fields are required.
type Evaluations struct {
	Service    *Service
	Executions Executions
}

var _ api.Evaluations = (*Evaluations)(nil)

// Evaluate stores a QUEUED evaluation job for req and starts its execution
// (errors of Service.Submit). If the execution cannot be started the job is
// marked FAILED with the reason and api.ErrUnavailable is returned.
func (e *Evaluations) Evaluate(ctx context.Context, req api.EvaluationRequest) (api.Accepted, error) {
	job, err := e.Service.Submit(ctx, req)
	if err != nil {
		return api.Accepted{}, err
	}
	if err := e.Executions.Start(ctx, job.ID); err != nil {
		reason := fmt.Sprintf("could not start the execution: %v", err)
		_, _ = e.Service.Jobs.UpdateJob(context.WithoutCancel(ctx), job.ID, store.JobUpdate{Status: store.Failed, Error: reason})
		return api.Accepted{}, fmt.Errorf("start evaluation job %s: %v: %w", job.ID, err, api.ErrUnavailable)
	}
	return api.Accepted{JobID: job.ID, Kind: job.Kind, Status: job.Status,
		StatusURL: api.EvaluationStatusURL(job.ID), CreatedAt: job.CreatedAt}, nil
}

// EvaluationMetrics returns the model's latest evaluation (see
// Service.EvaluationMetrics).
func (e *Evaluations) EvaluationMetrics(ctx context.Context, modelID string) (json.RawMessage, error) {
	return e.Service.EvaluationMetrics(ctx, modelID)
}
