package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
)

// ErrClosed is returned by Executions.StartTraining after Close.
var ErrClosed = fault.New(fault.Unavailable, "embedded: executions closed")

// Executions runs training jobs in background goroutines of this process, at
// most Parallel at a time, each calling TrainingPipeline.Run; it is the
// api.Executions of `orrery serve`. This is the seam where the local
// state-machine executor (shared/pipeline) takes over: an implementation of
// api.Executions that runs the `training` state machine instead of calling
// Run directly needs no other change to the API or to `orrery serve`.
type Executions struct {
	// Run executes one job to its end (TrainingPipeline.Run by default;
	// Runtime.RunTrainingStateMachine runs the job through the local
	// state-machine executor instead). Set it before the first
	// StartTraining.
	Run func(ctx context.Context, jobID string) (*training.Result, error)

	jobs  store.JobStore
	log   *slog.Logger
	slots chan struct{}

	mu      sync.Mutex
	running map[string]*execution
	closed  bool
	wg      sync.WaitGroup
}

var _ api.Executions = (*Executions)(nil)

// execution is one job started by StartTraining.
type execution struct {
	cancel  context.CancelFunc
	started bool // it holds a slot and has called Run
}

// NewExecutions returns Executions over the runtime's pipeline. parallel
// bounds the jobs that train at once (0: half the CPUs, at least one); jobs
// beyond it wait, QUEUED, for a slot. log receives one record per finished
// job (nil: none).
func (r *Runtime) NewExecutions(parallel int, log *slog.Logger) *Executions {
	if parallel <= 0 {
		parallel = max(1, runtime.NumCPU()/2)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Executions{Run: r.Pipeline.Run, jobs: r.DB, log: log, slots: make(chan struct{}, parallel),
		running: map[string]*execution{}}
}

// StartTraining starts running the job in the background and returns at
// once. The job runs with a context of its own, not ctx: it outlives the
// request that started it, until it ends, StopTraining or Close. Starting a
// job that is already running here does nothing.
func (e *Executions) StartTraining(_ context.Context, jobID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("start training job %s: %w", jobID, ErrClosed)
	}
	if _, ok := e.running[jobID]; ok {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	ex := &execution{cancel: cancel}
	e.running[jobID] = ex
	e.wg.Add(1)
	go e.run(ctx, jobID, ex)
	return nil
}

func (e *Executions) run(ctx context.Context, jobID string, ex *execution) {
	defer e.wg.Done()
	defer func() {
		e.mu.Lock()
		delete(e.running, jobID)
		e.mu.Unlock()
		ex.cancel()
	}()
	select {
	case e.slots <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-e.slots }()
	e.mu.Lock()
	ex.started = true
	e.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	res, err := e.Run(ctx, jobID)
	switch {
	case err == nil:
		e.log.Info("training job succeeded", "job_id", jobID, "model_id", res.ModelID,
			"auc_roc", res.Metrics.AUCROC, "epochs", res.Training.EpochsRun)
	case errors.Is(err, context.Canceled):
		e.log.Info("training job cancelled", "job_id", jobID)
	default:
		e.log.Warn("training job failed", "job_id", jobID, "error", err.Error())
	}
}

// StopTraining cancels the job's context: a running pipeline stops at its
// next check, removes what it had half-written and finds its job already
// CANCELLED; a job still waiting for a slot never starts. Stopping a job not
// running here does nothing.
func (e *Executions) StopTraining(_ context.Context, jobID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ex, ok := e.running[jobID]; ok {
		ex.cancel()
	}
	return nil
}

// Running returns the number of jobs started here that have not ended.
func (e *Executions) Running() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.running)
}

// Close refuses new jobs, cancels the running ones (the pipeline marks them
// CANCELLED), marks those still waiting for a slot CANCELLED with the reason,
// and waits for every goroutine to end or ctx to be done.
func (e *Executions) Close(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	var waiting []string
	for id, ex := range e.running {
		if !ex.started {
			waiting = append(waiting, id)
		}
		ex.cancel()
	}
	e.mu.Unlock()
	var errs []error
	for _, id := range waiting {
		_, err := e.jobs.UpdateJob(ctx, id, store.JobUpdate{Status: store.Cancelled,
			Error: "the server stopped before the job started"})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			errs = append(errs, fmt.Errorf("close executions: cancel waiting job %s: %w", id, err))
		}
	}
	done := make(chan struct{})
	go func() {
		e.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("close executions: %d jobs still stopping: %w", e.Running(), ctx.Err()))
	}
	return errors.Join(errs...)
}
