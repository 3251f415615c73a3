package training

import (
	"context"
	"errors"
	"fmt"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/store"
)

// TrainFailure is why a run of the train stage outside the state machine's
// own process failed (the trainer's AWS Batch container), as that run saw
// it. The state machine's Catch hands MarkFailed only the Batch job's
// description, whose StatusReason says the container exited and with what
// code, never why; the trainer saves this beside the job's artifacts, and
// MarkFailed puts it into the job's error.
type TrainFailure struct {
	// Error is the name of the failure's fault code (Orrery.DataChanged).
	Error string `json:"error"`
	// Message is the error's text.
	Message string `json:"message"`
	// Attempt is the Batch attempt that failed (1 for the first).
	Attempt int `json:"attempt,omitempty"`
}

// trainFailureKey is where a job's TrainFailure is kept.
func trainFailureKey(jobID string) string { return jobKey(jobID, "refs/train_failure.json") }

// RecordTrainFailure saves err as the reason the train stage of job jobID
// failed on attempt, replacing the one an earlier attempt saved; a nil err
// removes it (a later attempt succeeded). Returns the artifact store's
// error.
func (p *TrainingPipeline) RecordTrainFailure(ctx context.Context, jobID string, attempt int, err error) error {
	key := trainFailureKey(jobID)
	if err == nil {
		if derr := p.Artifacts.DeletePrefix(ctx, key); derr != nil {
			return fmt.Errorf("remove %s: %w", key, derr)
		}
		return nil
	}
	return p.putJSON(ctx, key, TrainFailure{Error: fault.CodeOf(err).Name(), Message: err.Error(), Attempt: attempt})
}

// batchFailureMessage returns the job error for f when f is a Batch job's
// failure (its cause the job's description) and the trainer saved why it
// failed: that reason, then what Batch said ("... (batch job: Essential
// container in task exited (exit code 1))"). ok is false otherwise.
func (p *TrainingPipeline) batchFailureMessage(ctx context.Context, jobID string, f fault.Failure) (msg string, ok bool) {
	if !f.BatchJob() {
		return "", false
	}
	var saved TrainFailure
	if err := p.getJSON(ctx, trainFailureKey(jobID), &saved); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return fmt.Sprintf("%s (the trainer's reason could not be read: %v)", f.Message(), err), true
		}
		return "", false
	}
	return fmt.Sprintf("%s (%s)", saved.Message, f.Message()), true
}
