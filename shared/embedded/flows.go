package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/deploymentjob/deploymentapi"
	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/evaluationjob/evaluationapi"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/optimizationjob"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
	"github.com/orrery-ml/orrery/shared/pipeline/localexec"
	"github.com/orrery-ml/orrery/shared/procid"
	"github.com/orrery-ml/orrery/shared/store"
)

// EvaluationJobResult is the Result of a SUCCEEDED evaluation job.
type EvaluationJobResult = evaluationjob.Result

// Service returns the HTTP API's service over the runtime's stores with
// every flow started through x: the same services the `api` Lambda uses
// over DynamoDB and Step Functions (evaluationapi.Evaluations,
// optimizationjob.Studies), with the local executions in Step Functions'
// place.
func (r *Runtime) Service(x *localexec.Executions, roots api.DataRoots) *api.Service {
	flows := pipeline.Flows{Executions: x}
	return &api.Service{
		Jobs: r.DB, Models: r.DB, Executions: flows, DataRoots: roots, Artifacts: r.Artifacts,
		Evaluations:   &evaluationapi.Evaluations{Service: r.EvaluationService(), Executions: flows},
		Optimizations: &optimizationjob.Studies{Stores: r.OptimizationStores(), Executions: flows},
		Endpoints:     r.Serving().Endpoints,
		Retraining:    r.DB,
		Deployments:   &deploymentapi.Deployments{Service: r.DeploymentService(flows, nil, nil)},
		Tracking:      r.apiTrackingOf(),
		Reports:       r.Reports(),
	}
}

// ErrInterrupted is wrapped by an *Interrupted.
var ErrInterrupted = fault.New(fault.Unavailable, "embedded: interrupted")

// Interrupted is returned by Train and ResumeTraining when ctx ends (or the
// executions close) while the job runs: the job stays RUNNING, journaled,
// and resumes with ResumeTraining, or when `orrery serve` starts on the same
// home.
type Interrupted struct{ JobID string }

func (e *Interrupted) Error() string { return "training job " + e.JobID + ": interrupted" }
func (e *Interrupted) Unwrap() error { return ErrInterrupted }

// Train stores a QUEUED training job for cfg and runs it through the
// training state machine on x, waiting for its end: the result of a job
// that SUCCEEDED, or the reason it did not. When ctx ends first the
// execution is left to resume (ErrInterrupted, with the job's id).
func (r *Runtime) Train(ctx context.Context, x *localexec.Executions, cfg training.TrainingConfig) (*training.Result, error) {
	job, err := r.Pipeline.Submit(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := (pipeline.Flows{Executions: x}).StartTraining(ctx, job.ID); err != nil {
		return nil, err
	}
	return r.awaitTraining(ctx, x, job.ID)
}

// ResumeTraining continues the interrupted training job jobID on x and
// waits for its end, as Train does. An execution that has ended is
// localexec.ErrEnded, one a live process runs localexec.ErrBusy.
func (r *Runtime) ResumeTraining(ctx context.Context, x *localexec.Executions, jobID string) (*training.Result, error) {
	if err := x.ResumeExecution(ctx, pipeline.MachineTraining, jobID); err != nil {
		return nil, err
	}
	return r.awaitTraining(ctx, x, jobID)
}

func (r *Runtime) awaitTraining(ctx context.Context, x *localexec.Executions, jobID string) (*training.Result, error) {
	d, err := x.Wait(ctx, pipeline.MachineTraining, jobID)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &Interrupted{JobID: jobID}
		}
		return nil, err
	}
	switch d.Status {
	case pipeline.StatusSucceeded:
		var out training.Refs
		if err := json.Unmarshal(d.Output, &out); err != nil {
			return nil, fmt.Errorf("training job %s: decode the execution's output: %w", jobID, err)
		}
		return r.Pipeline.LoadResult(ctx, out)
	case pipeline.StatusRunning:
		// Wait returned without the execution ending: it was interrupted
		// (Close) before ctx.
		return nil, &Interrupted{JobID: jobID}
	}
	code := pipeline.CodeOf(&asl.Error{Name: d.Error, Cause: d.Cause})
	job, err := r.DB.GetJob(ctx, jobID)
	if err == nil && job.Error != "" {
		return nil, fmt.Errorf("training job %s %s: %w", jobID, job.Status, fault.New(code, job.Error))
	}
	return nil, fmt.Errorf("training job %s: execution %s: %w", jobID, d.Status, fault.New(code, d.Error+": "+d.Cause))
}

// Interrupted reports whether the job's execution (training or evaluation,
// by the job's kind) is journaled RUNNING while no process runs it any
// more: its owner is gone, or a shutdown gave it back. Such a job's record
// still says QUEUED or RUNNING; `orrery train --resume` or `orrery serve`
// continues it.
func (r *Runtime) Interrupted(ctx context.Context, job store.Job) (bool, error) {
	if job.Status.Terminal() {
		return false, nil
	}
	m := pipeline.MachineTraining
	if job.Kind == evaluationjob.JobKind {
		m = pipeline.MachineEvaluation
	}
	x, err := r.DB.GetExecution(ctx, string(m), job.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return x.Status == store.ExecutionRunning && (x.Owner == "" || procid.Gone(x.Owner)), nil
}
