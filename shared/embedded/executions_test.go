package embedded

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
)

// waitFor polls cond until it holds or a minute passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func jobStatus(t *testing.T, rt *Runtime, id string) store.Job {
	t.Helper()
	j, err := rt.DB.GetJob(context.Background(), id)
	require.NoError(t, err)
	return j
}

func TestExecutions(t *testing.T) {
	ctx := context.Background()
	rt := openTest(t, nil)
	data := writeCSV(t, t.TempDir(), "syn.csv", synthetic(400, 11))
	ex := rt.NewExecutions(1, nil)

	t.Run("a started job runs to the end", func(t *testing.T) {
		job, err := rt.Pipeline.Submit(ctx, quickConfig(data))
		require.NoError(t, err)
		require.NoError(t, ex.StartTraining(ctx, job.ID))
		require.NoError(t, ex.StartTraining(ctx, job.ID), "starting it twice starts nothing")
		waitFor(t, "the job to finish", func() bool { return jobStatus(t, rt, job.ID).Status.Terminal() })
		got := jobStatus(t, rt, job.ID)
		assert.Equal(t, store.Succeeded, got.Status, got.Error)
		assert.Equal(t, 1, got.Attempts, "run once")
		waitFor(t, "the goroutine to end", func() bool { return ex.Running() == 0 })
	})

	t.Run("stop cancels a running job", func(t *testing.T) {
		long := quickConfig(data)
		long.Epochs = 5000
		off := false
		long.EarlyStop.Enabled = &off
		job, err := rt.Pipeline.Submit(ctx, long)
		require.NoError(t, err)
		require.NoError(t, ex.StartTraining(ctx, job.ID))
		waitFor(t, "the job to train", func() bool { return jobStatus(t, rt, job.ID).Stage == "train" })
		require.NoError(t, ex.StopTraining(ctx, job.ID))
		waitFor(t, "the goroutine to end", func() bool { return ex.Running() == 0 })
		got := jobStatus(t, rt, job.ID)
		assert.Equal(t, store.Cancelled, got.Status)
		assert.Contains(t, got.Error, "canceled")
		require.NoError(t, ex.StopTraining(ctx, "trn-unknown"), "stopping what is not running is fine")
	})

	t.Run("close cancels a running job and marks a waiting one", func(t *testing.T) {
		long := quickConfig(data)
		long.Epochs = 5000
		off := false
		long.EarlyStop.Enabled = &off
		first, err := rt.Pipeline.Submit(ctx, long)
		require.NoError(t, err)
		second, err := rt.Pipeline.Submit(ctx, long)
		require.NoError(t, err)
		require.NoError(t, ex.StartTraining(ctx, first.ID))
		waitFor(t, "the first job to run", func() bool { return jobStatus(t, rt, first.ID).Status == store.Running })
		require.NoError(t, ex.StartTraining(ctx, second.ID))
		assert.Equal(t, 2, ex.Running())
		assert.Equal(t, store.Queued, jobStatus(t, rt, second.ID).Status, "one slot: the second waits")

		closeCtx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		require.NoError(t, ex.Close(closeCtx))
		assert.Equal(t, 0, ex.Running())
		assert.Equal(t, store.Cancelled, jobStatus(t, rt, first.ID).Status)
		waiting := jobStatus(t, rt, second.ID)
		assert.Equal(t, store.Cancelled, waiting.Status)
		assert.Contains(t, waiting.Error, "before the job started")
		require.ErrorIs(t, ex.StartTraining(ctx, "trn-x"), ErrClosed)
	})
}
