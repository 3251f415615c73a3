package training_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store/filestore"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
)

// TestMarkFailedSaysWhyTheTrainerFailed: a Batch job's failure reaches
// MarkFailed as the job's description, which says only that the container
// exited; MarkFailed puts the reason the trainer saved (RecordTrainFailure)
// into the job's error, and uses the failure as it came when nothing was
// saved, when a later attempt removed it, or for a failure that is not a
// Batch job's.
func TestMarkFailedSaysWhyTheTrainerFailed(t *testing.T) {
	const batchCause = `{"JobId":"b-1","JobName":"orrery-train-x","Status":"FAILED","StatusReason":"Essential container in task exited"}`
	dataChanged := fmt.Errorf("train stage of job x (attempt 2, gonum backend): %w: d.csv had SHA-256 a when validated, b now",
		training.ErrDataChanged)
	for _, tc := range []struct {
		name    string
		save    []error // RecordTrainFailure's errors, in order (nil removes)
		failure fault.Failure
		want    string
	}{
		{"the trainer's reason, then Batch's", []error{dataChanged}, fault.Failure{Error: "States.TaskFailed", Cause: batchCause},
			dataChanged.Error() + " (States.TaskFailed: batch job: Essential container in task exited)"},
		{"nothing saved", nil, fault.Failure{Error: "States.TaskFailed", Cause: batchCause},
			"States.TaskFailed: batch job: Essential container in task exited"},
		{"removed by a later attempt", []error{dataChanged, nil}, fault.Failure{Error: "States.TaskFailed", Cause: batchCause},
			"States.TaskFailed: batch job: Essential container in task exited"},
		{"a stage Lambda's failure", []error{dataChanged},
			fault.Failure{Error: "Orrery.InvalidInput", Cause: `{"errorMessage":"evaluate: column nope is not in the data","errorType":"Orrery.InvalidInput"}`},
			"evaluate: column nope is not in the data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			dir := t.TempDir()
			files, err := filestore.New(filepath.Join(dir, "artifacts"))
			require.NoError(t, err)
			db, err := sqlitestore.Open(ctx, filepath.Join(dir, "orrery.db"))
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			p := &training.TrainingPipeline{Jobs: db, Models: db, Artifacts: files}
			cfg := training.Defaults()
			cfg.DatasetPath, cfg.TargetColumn = "d.csv", "y"
			job, err := p.Submit(ctx, cfg)
			require.NoError(t, err)
			for i, err := range tc.save {
				require.NoError(t, p.RecordTrainFailure(ctx, job.ID, i+1, err))
			}
			_, err = p.MarkFailed(ctx, training.Refs{JobID: job.ID}, tc.failure)
			require.NoError(t, err)
			got, err := db.GetJob(ctx, job.ID)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.Error)
		})
	}
}
