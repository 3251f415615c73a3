package batchjob

import (
	"context"
	"errors"
	"fmt"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/fault"
)

// RunEvaluationFold is one iteration of the evaluation machine's RunFolds
// Map (its RunFold task), the trainer's fold mode: it reads the heavy
// evaluation job's request from the job store, its model from the registry
// and artifact store and its data set (ReadData, so s3:// paths work),
// cuts the request's cross-validation folds, trains and scores fold
// task.EvaluationFold.Fold with the gonum trainer — the one the evaluate
// step's cross-validation uses, so the fold is the one the light path
// would have trained — and writes its outcome to the artifact store, where
// the Reduce step combines the folds (evaluationjob.Service.RunFold). A
// bootstrap task (task.EvaluationFold.Bootstrap) scores the model on the
// data instead and writes its range of the bootstrap's replicates, which
// the Reduce step combines into the confidence intervals; a comparison
// task (task.EvaluationFold.Compare) loads the job's model and its
// compare_to models, scores each once on the comparison's rows and writes
// its range of the paired bootstrap's replicates, which the Reduce step
// combines into the comparison. A
// retried attempt trains the fold again and rewrites the same outcome.
// While it runs, heartbeats go to the RunFold task as in RunTrainStage.
// Errors are RunFold's: ExitCode tells Batch whether to retry.
func (r *Runner) RunEvaluationFold(ctx context.Context, task Task) (evaluationjob.FoldOutput, error) {
	if task.EvaluationFold == nil {
		return evaluationjob.FoldOutput{}, fmt.Errorf("evaluation fold: %w: %s is not set", ErrSpec, config.EnvEvaluationFold)
	}
	in := *task.EvaluationFold
	if r.Jobs == nil || r.Models == nil || r.Artifacts == nil {
		return evaluationjob.FoldOutput{JobID: in.JobID, Fold: in.Fold},
			fmt.Errorf("evaluation job %s fold %d: %w: the job, model and artifact stores are required", in.JobID, in.Fold, ErrSpec)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if task.Token != "" && r.Heartbeat != nil {
		stop := r.heartbeats(ctx, cancel, in.JobID, task.Token)
		defer stop()
	}
	read := r.ReadData
	if read == nil {
		read = readLocal
	}
	svc := &evaluationjob.Service{Jobs: r.Jobs, Models: r.Models, Artifacts: r.Artifacts, ReadTable: read}
	out, err := svc.RunFold(ctx, in)
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, ErrTaskGone) {
			err = fmt.Errorf("%w (%w)", cause, err)
		}
		err = fmt.Errorf("evaluation fold (attempt %d): %w", task.Attempt, err)
		if fault.CodeOf(err) == fault.Conflict {
			// The job has finished (or the execution moved on): nothing
			// will read a reason.
			return out, err
		}
		r.saveOutcome(ctx, in.JobID, func(ctx context.Context) error {
			return svc.RecordFoldFailure(ctx, in, task.Attempt, err)
		})
		return out, err
	}
	r.saveOutcome(ctx, in.JobID, func(ctx context.Context) error {
		return svc.RecordFoldFailure(ctx, in, task.Attempt, nil)
	})
	return out, nil
}
