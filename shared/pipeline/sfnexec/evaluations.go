package sfnexec

import "context"

// Start starts the execution named jobID with input {"job_id": jobID}, with
// StartTraining's contract: it is how any job whose state machine reads
// its work from the job record is started — the evaluation machine's
// executions (the Executions port of shared/evaluationjob) as well as the
// training machine's.
func (e *Executions) Start(ctx context.Context, jobID string) error {
	return e.StartTraining(ctx, jobID)
}
