package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/evaluationjob/evaluationapi"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
	"github.com/orrery-ml/orrery/shared/store"
)

// Evaluations runs the evaluations of POST /ml/evaluation/evaluate as jobs
// of Kind api.JobKindEvaluation in background goroutines of this process,
// one at a time (an evaluation already uses every core for its bootstrap
// and cross-validation); it is the api.Evaluations of `orrery serve`.
//
// A job's Config is the evaluation.EvaluateRequest it runs (with compare_to);
// its Result, once SUCCEEDED, is an EvaluationJobResult. Each job runs
// through the `evaluation` state machine (RunEvaluationStateMachine), its
// tasks the shared/evaluationjob steps over the runtime's stores, and GET
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
type EvaluationJobResult = evaluationjob.Result

// NewEvaluations returns the runtime's evaluation service. log receives one
// record per finished job (nil: none).
func (r *Runtime) NewEvaluations(log *slog.Logger) *Evaluations {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Evaluations{rt: r, log: log, slots: make(chan struct{}, 1), running: map[string]context.CancelFunc{}}
}

// Evaluate stores a QUEUED evaluation job for req
// (evaluationapi.Submit, the path AWS shares) and starts it in the
// background. Errors: those of Submit, ErrClosed after Close.
func (e *Evaluations) Evaluate(ctx context.Context, req api.EvaluationRequest) (api.Accepted, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return api.Accepted{}, fmt.Errorf("evaluate model %s: %w", req.ModelID, ErrClosed)
	}
	job, err := evaluationapi.Submit(ctx, e.rt.EvaluationService(), req)
	if err != nil {
		return api.Accepted{}, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	e.running[job.ID] = cancel
	e.wg.Add(1)
	go e.run(runCtx, job.ID)
	return api.Accepted{JobID: job.ID, Kind: job.Kind, Status: job.Status,
		StatusURL: api.EvaluationStatusURL(job.ID), CreatedAt: job.CreatedAt}, nil
}

func (e *Evaluations) run(ctx context.Context, jobID string) {
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
	out, err := e.rt.RunEvaluationStateMachine(ctx, jobID)
	switch {
	case err == nil:
		e.log.Info("evaluation job succeeded", "job_id", jobID, "model_id", out.ModelID, "seconds", time.Since(start).Seconds())
	case errors.Is(err, context.Canceled):
		e.log.Info("evaluation job cancelled", "job_id", jobID)
	default:
		e.log.Warn("evaluation job failed", "job_id", jobID, "error", err.Error())
	}
}

// RunEvaluationStateMachine runs the QUEUED evaluation job jobID through
// the `evaluation` state machine — the definition that ships to Step
// Functions — with the local executor, its Evaluate and MarkFailed tasks
// bound to the runtime's evaluation service (shared/evaluationjob, the code
// the `stages` Lambda runs). On failure the job is FAILED with the reason
// (by the MarkFailed state); on cancellation of ctx it is CANCELLED; the
// error is returned either way.
func (r *Runtime) RunEvaluationStateMachine(ctx context.Context, jobID string) (evaluationjob.Output, error) {
	res := pipeline.LocalEvaluationResources()
	def, err := pipeline.Evaluation(res)
	if err != nil {
		return evaluationjob.Output{}, fmt.Errorf("run evaluation job %s: %w", jobID, err)
	}
	svc := r.EvaluationService()
	x := asl.Executor{Resources: pipeline.EvaluationHandlers(res, svc)}
	out, err := x.Execute(ctx, def, asl.Execution{Name: jobID, StateMachine: "evaluation", Input: pipeline.EvaluationInput{JobID: jobID}.JSON()})
	if err != nil {
		if ctx.Err() != nil {
			// The execution stopped before its Catch: mark the job here, as
			// MarkFailed would have.
			_, _ = svc.MarkFailed(context.WithoutCancel(ctx), jobID,
				fault.Failure{Error: fault.Cancelled.Name(), Cause: "the server stopped before the evaluation ended"})
			return evaluationjob.Output{}, fmt.Errorf("run evaluation job %s: %w", jobID, ctx.Err())
		}
		var e *asl.Error
		if errors.As(err, &e) {
			return evaluationjob.Output{}, fmt.Errorf("run evaluation job %s: %s", jobID, e.Cause)
		}
		return evaluationjob.Output{}, fmt.Errorf("run evaluation job %s: %w", jobID, err)
	}
	var o evaluationjob.Output
	if err := json.Unmarshal(out, &o); err != nil {
		return o, fmt.Errorf("run evaluation job %s: decode the execution's output: %w", jobID, err)
	}
	return o, nil
}

// EvaluationMetrics returns the model's latest evaluation (see
// Runtime.EvaluationMetrics).
func (e *Evaluations) EvaluationMetrics(ctx context.Context, modelID string) (json.RawMessage, error) {
	return e.rt.EvaluationService().EvaluationMetrics(ctx, modelID)
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
