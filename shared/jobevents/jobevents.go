package jobevents

import (
	"context"
	"errors"
	"fmt"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/store"
)

// ErrUnknownStatus is returned (wrapped) for a status this package does not
// know; such an event is permanent trouble and goes to the dead-letter queue.
var ErrUnknownStatus = fault.New(fault.Invalid, "jobevents: unknown status")

// Step Functions execution statuses.
const (
	ExecutionRunning   = "RUNNING"
	ExecutionSucceeded = "SUCCEEDED"
	ExecutionFailed    = "FAILED"
	ExecutionTimedOut  = "TIMED_OUT"
	ExecutionAborted   = "ABORTED"
	// ExecutionPendingRedrive is reported when a failed execution is redriven.
	ExecutionPendingRedrive = "PENDING_REDRIVE"
)

// AWS Batch job statuses.
const (
	BatchSubmitted = "SUBMITTED"
	BatchPending   = "PENDING"
	BatchRunnable  = "RUNNABLE"
	BatchStarting  = "STARTING"
	BatchRunning   = "RUNNING"
	BatchSucceeded = "SUCCEEDED"
	BatchFailed    = "FAILED"
)

// ExecutionChange is a Step Functions execution status change.
type ExecutionChange struct {
	JobID        string
	ExecutionARN string
	Status       string
	// Error and Cause explain FAILED and TIMED_OUT.
	Error string
	Cause string
}

// BatchJobChange is an AWS Batch job state change of a training job.
type BatchJobChange struct {
	JobID        string
	BatchJobID   string
	Status       string
	StatusReason string
}

// Outcome says what an event did.
type Outcome string

// Outcomes.
const (
	// Applied: the job record changed.
	Applied Outcome = "applied"
	// Stale: the store refused the change (late, duplicated or out of
	// order); nothing changed.
	Stale Outcome = "stale"
	// NoJob: no job record has that id (not an Orrery job, or none of this
	// deployment's); nothing changed.
	NoJob Outcome = "no_job"
	// Skipped: the status changes nothing in the record.
	Skipped Outcome = "skipped"
)

// Service applies events to job records.
type Service struct {
	Jobs store.JobStore
	// Ended, when set, is called with the id an execution event names
	// (a job's, a study's, a deployment's) for every event reporting an
	// execution's end — SUCCEEDED, FAILED, TIMED_OUT, ABORTED — after the
	// job record was written or found already finished, so that the MLflow
	// mirror queues what ended (mlflowmirror.Queue.ExecutionEnded; a
	// duplicated event queues it twice, which sends nothing twice). Its
	// error is Execution's: the event is retried, and finds the record
	// written (Stale).
	Ended func(ctx context.Context, subject string) error
}

// Execution applies an execution status change: RUNNING starts the job,
// SUCCEEDED finishes it, FAILED and TIMED_OUT fail it with the error and
// cause (the state machine's MarkFailed usually came first, and then the
// event is Stale), ABORTED cancels it. Errors other than ErrUnknownStatus
// come from the store and are worth a retry.
func (s *Service) Execution(ctx context.Context, c ExecutionChange) (Outcome, error) {
	var u store.JobUpdate
	switch c.Status {
	case ExecutionRunning:
		u = store.JobUpdate{Status: store.Running}
	case ExecutionSucceeded:
		u = store.JobUpdate{Status: store.Succeeded}
	case ExecutionFailed, ExecutionTimedOut:
		reason := "execution " + c.Status
		if c.Error != "" {
			reason += ": " + c.Error
		}
		if c.Cause != "" {
			reason += ": " + c.Cause
		}
		u = store.JobUpdate{Status: store.Failed, Error: reason}
	case ExecutionAborted:
		u = store.JobUpdate{Status: store.Cancelled, Error: "execution aborted"}
	case ExecutionPendingRedrive:
		return Skipped, nil
	default:
		return "", fmt.Errorf("execution %s of job %s: status %q: %w", c.ExecutionARN, c.JobID, c.Status, ErrUnknownStatus)
	}
	out, err := s.apply(ctx, c.JobID, u)
	if err != nil || c.Status == ExecutionRunning || s.Ended == nil || c.JobID == "" {
		return out, err
	}
	if err := s.Ended(ctx, c.JobID); err != nil {
		return "", fmt.Errorf("execution %s of %s ended: %w", c.ExecutionARN, c.JobID, err)
	}
	return out, nil
}

// BatchJob applies a Batch job state change: RUNNING starts the job (if
// still QUEUED) in stage "train"; FAILED counts an attempt (the state
// machine decides whether to retry, for example after a Spot reclaim, and
// marks the job failed when it gives up); the other statuses change nothing.
func (s *Service) BatchJob(ctx context.Context, c BatchJobChange) (Outcome, error) {
	switch c.Status {
	case BatchRunning:
		out, err := s.apply(ctx, c.JobID, store.JobUpdate{Status: store.Running, Stage: "train"})
		if out != Stale || err != nil {
			return out, err
		}
		// Already RUNNING (the execution's event came first): the stage
		// alone may still change while the job is not finished.
		return s.apply(ctx, c.JobID, store.JobUpdate{Stage: "train"})
	case BatchFailed:
		return s.apply(ctx, c.JobID, store.JobUpdate{AddAttempt: true})
	case BatchSubmitted, BatchPending, BatchRunnable, BatchStarting, BatchSucceeded:
		return Skipped, nil
	default:
		return "", fmt.Errorf("batch job %s of job %s: status %q: %w", c.BatchJobID, c.JobID, c.Status, ErrUnknownStatus)
	}
}

// apply writes u and sorts the store's refusals into outcomes.
func (s *Service) apply(ctx context.Context, jobID string, u store.JobUpdate) (Outcome, error) {
	if jobID == "" {
		return NoJob, nil
	}
	_, err := s.Jobs.UpdateJob(ctx, jobID, u)
	switch {
	case err == nil:
		return Applied, nil
	case errors.Is(err, store.ErrConflict):
		return Stale, nil
	case errors.Is(err, store.ErrNotFound):
		return NoJob, nil
	default:
		return "", fmt.Errorf("apply event to job %s: %w", jobID, err)
	}
}
