package evaluationjob_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/store"
)

// TestMarkFailedSaysWhyAFoldJobFailed: a fold job's failure reaches
// MarkFailed as the Batch job's description, which says only that the
// container exited; MarkFailed puts the reason the lowest failed fold saved
// (RecordFoldFailure) first in the job's error and removes it with the
// outcomes. A fold that succeeded on a later attempt leaves no reason.
func TestMarkFailedSaysWhyAFoldJobFailed(t *testing.T) {
	ctx := t.Context()
	rt, modelID := trainedModel(t)
	svc := rt.EvaluationService()
	const batchCause = `{"JobId":"b-2","JobName":"orrery-eval-x-fold-2","Status":"FAILED","StatusReason":"Essential container in task exited"}`
	for _, tc := range []struct {
		name string
		save map[int][]error // per fold, RecordFoldFailure's errors in order
		want string
	}{
		{"the lowest failed fold's reason, then Batch's", map[int][]error{
			2: {fmt.Errorf("evaluation fold (attempt 1): %w", evaluation.ErrInvalidRequest)},
			1: {fmt.Errorf("evaluation fold (attempt 1): the data changed"), nil},
		}, "fold 2: evaluation fold (attempt 1): " + evaluation.ErrInvalidRequest.Error() +
			" (States.TaskFailed: batch job: Essential container in task exited)"},
		{"no reason saved", nil, "States.TaskFailed: batch job: Essential container in task exited"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job, err := svc.Submit(ctx, evaluationjob.Config{EvaluateRequest: evaluation.EvaluateRequest{ModelID: modelID}})
			require.NoError(t, err)
			for fold, errs := range tc.save {
				for i, err := range errs {
					require.NoError(t, svc.RecordFoldFailure(ctx, evaluationjob.FoldTask{JobID: job.ID, Fold: fold, Name: fmt.Sprintf("fold-%d", fold)}, i+1, err))
				}
			}
			out, err := svc.Step(ctx, evaluationjob.Request{JobID: job.ID, Step: evaluationjob.StepMarkFailed,
				Failure: &fault.Failure{Error: "States.TaskFailed", Cause: batchCause}})
			require.NoError(t, err)
			assert.Equal(t, "FAILED", out.Status)
			got, err := rt.DB.GetJob(ctx, job.ID)
			require.NoError(t, err)
			assert.Equal(t, store.Failed, got.Status)
			assert.Equal(t, tc.want, got.Error)
			keys, err := rt.Artifacts.List(ctx, "evaluation-jobs/"+job.ID)
			require.NoError(t, err)
			assert.Empty(t, keys, "the reasons go with the outcomes")
		})
	}
}
