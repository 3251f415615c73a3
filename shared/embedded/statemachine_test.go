package embedded

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/tracking"
)

func TestRunTrainingStateMachine(t *testing.T) {
	ctx := context.Background()
	rt := openTest(t, nil)
	job, err := rt.Pipeline.Submit(ctx, quickConfig(writeCSV(t, t.TempDir(), "syn.csv", synthetic(400, 11))))
	require.NoError(t, err)
	res, err := rt.RunTrainingStateMachine(ctx, job.ID)
	require.NoError(t, err)
	assert.NotEmpty(t, res.ModelID)
	assert.Greater(t, res.Metrics.AUCROC, 0.9)
	got, err := rt.DB.GetJob(ctx, job.ID)
	require.NoError(t, err)
	assert.Equal(t, store.Succeeded, got.Status)
	assert.Equal(t, res.ModelID, got.ModelID)
}

func TestRunTrainingStateMachineCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	rec := tracking.RecorderFunc(func(_ context.Context, e tracking.Event) error {
		if e.Kind == tracking.Progress && e.Step == 2 {
			cancel()
		}
		return nil
	})
	rt := openTest(t, rec)
	cfg := quickConfig(writeCSV(t, t.TempDir(), "syn.csv", synthetic(300, 12)))
	cfg.Epochs = 50
	job, err := rt.Pipeline.Submit(context.Background(), cfg)
	require.NoError(t, err)
	_, err = rt.RunTrainingStateMachine(ctx, job.ID)
	require.ErrorIs(t, err, context.Canceled)
	got, err := rt.DB.GetJob(context.Background(), job.ID)
	require.NoError(t, err)
	assert.Equal(t, store.Cancelled, got.Status)
	assert.Empty(t, modelFiles(t, rt))
}
