package batchjob

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// ErrTaskGone is what a Heartbeat returns (wrapped) when the Train task no
// longer waits for this run — Step Functions says the task timed out or does
// not exist: the execution has moved on (to MarkFailed), so training stops
// and is not retried.
var ErrTaskGone = fault.New(fault.Conflict, "batchjob: the state machine's task is gone")

// DefaultHeartbeatEvery is how often a task sends a heartbeat. The Batch
// tasks set no HeartbeatSeconds (shared/pipeline's batch.go says why): a
// heartbeat's answer tells the run that its task no longer waits for it, so
// the interval bounds how long a run outlives its stopped execution.
const DefaultHeartbeatEvery = time.Minute

// RunTrainStage is the training state machine's Train task: it runs the
// TrainModel stage of task.StageRefs' job with the runner's backend and
// returns the stage's Refs. TrainModel also saves those Refs with the
// job (jobs/<job>/refs/train.json in the artifact store), where the Evaluate
// stage reads them: a Batch job's result, as Step Functions passes it on,
// is the job's description, never what the container computed.
//
// Checkpoints go to the artifact store after every epoch, under the
// backend's key, and a later attempt resumes from them. While the stage
// runs, heartbeats go to the Train task when task has a token and the
// runner a Heartbeat; a heartbeat answered with ErrTaskGone stops training
// with that error (exit 1). The job record is not marked FAILED here on an error:
// the state machine's MarkFailed does that once the task has failed;
// ExitCode(err) still tells Batch whether to retry.
func (r *Runner) RunTrainStage(ctx context.Context, task Task) (training.Refs, error) {
	if task.StageRefs == nil {
		return training.Refs{}, fmt.Errorf("train stage: %w: %s is not set", ErrSpec, config.EnvStageRefs)
	}
	refs := *task.StageRefs
	if r.NewTrainer == nil {
		return refs, fmt.Errorf("train stage of job %s: %w: %s", refs.JobID, ErrBackendUnavailable, r.Backend)
	}
	p := &training.TrainingPipeline{Jobs: r.Jobs, Models: r.Models, Artifacts: r.Artifacts, Recorder: r.Recorder,
		Retry: r.Retry, NewTrainer: r.NewTrainer, Backend: r.Backend, Large: r.Large}
	if r.ReadData != nil {
		p.ReadTable = r.ReadData
	} else {
		p.ReadTable = readLocal
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if task.Token != "" && r.Heartbeat != nil {
		stop := r.heartbeats(ctx, cancel, refs.JobID, task.Token)
		defer stop()
	}
	out, err := p.TrainModel(ctx, refs)
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, ErrTaskGone) {
			err = fmt.Errorf("%w (%w)", cause, err)
		}
		err = fmt.Errorf("train stage of job %s (attempt %d, %s backend): %w", refs.JobID, task.Attempt, r.Backend, err)
		if fault.CodeOf(err) != fault.Conflict {
			// (A conflict: the job has finished or the execution moved on,
			// and nothing will read a reason.)
			r.recordFailure(ctx, p, refs.JobID, task.Attempt, err)
		}
		return refs, err
	}
	r.recordFailure(ctx, p, refs.JobID, task.Attempt, nil)
	return out, nil
}

// recordFailureTimeout bounds saving a run's failure, which outlives the
// run's own context (a SIGTERM has cancelled it).
const recordFailureTimeout = 30 * time.Second

// recordFailure saves why this run failed (nil: that the stage succeeded,
// removing an earlier attempt's reason) where MarkFailed finds it
// (training.RecordTrainFailure): Batch tells the state machine only that
// the container exited.
func (r *Runner) recordFailure(ctx context.Context, p *training.TrainingPipeline, jobID string, attempt int, runErr error) {
	r.saveOutcome(ctx, jobID, func(ctx context.Context) error { return p.RecordTrainFailure(ctx, jobID, attempt, runErr) })
}

// saveOutcome runs save, which records how this run ended for the state
// machine's MarkFailed, with a context that outlives the run's own (a
// SIGTERM has cancelled it) by at most recordFailureTimeout. It is best
// effort: a failure to save is reported to the Recorder and changes
// neither the run's outcome nor its exit status.
func (r *Runner) saveOutcome(ctx context.Context, jobID string, save func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordFailureTimeout)
	defer cancel()
	if err := save(ctx); err != nil && r.Recorder != nil {
		_ = r.Recorder.Record(ctx, tracking.Event{JobID: jobID, Kind: tracking.Log,
			Message: "could not save how this run ended for MarkFailed", Err: err.Error(), Time: time.Now()})
	}
}

// heartbeats sends a heartbeat now (before training starts) and then every
// HeartbeatEvery until the returned stop is called. A heartbeat failing with
// ErrTaskGone cancels training through gone; any other failure is logged to
// the Recorder and training goes on (Step Functions times the task out on
// its own, and the checkpoint keeps the work for a later run).
func (r *Runner) heartbeats(ctx context.Context, gone context.CancelCauseFunc, jobID, token string) (stop func()) {
	every := r.HeartbeatEvery
	if every <= 0 {
		every = DefaultHeartbeatEvery
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	beat := func() {
		err := r.Heartbeat(ctx, token)
		switch {
		case err == nil || ctx.Err() != nil:
		case errors.Is(err, ErrTaskGone):
			gone(fmt.Errorf("task heartbeat: %w", err))
		case r.Recorder != nil:
			_ = r.Recorder.Record(ctx, tracking.Event{JobID: jobID, Kind: tracking.Log, Stage: training.StageTrain,
				Message: "task heartbeat failed: " + err.Error(), Time: time.Now().UTC()})
		}
	}
	beat()
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				beat()
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
