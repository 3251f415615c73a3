package embedded

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/synthetic"
)

// TestHugeFeatureValuesFailAtValidation: a feature value of 1e308 (finite,
// but its square is not) is refused at validation naming the column and
// row, instead of training to +Inf; the failed job leaves its record and
// validation report, and no network weights, checkpoint or model.
func TestHugeFeatureValuesFailAtValidation(t *testing.T) {
	ctx := context.Background()
	rt := openTest(t, nil)
	csv := synthetic.TwoClassCSV(300, 7)
	lines := strings.Split(csv, "\n")
	cells := strings.Split(lines[5], ",")
	cells[0] = "1e308"
	lines[5] = strings.Join(cells, ",")
	header := strings.Split(lines[0], ",")
	data := writeCSV(t, t.TempDir(), "huge.csv", strings.Join(lines, "\n"))
	_, err := train(ctx, t, rt, quickConfig(data))
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("column '%s'", header[0]))
	assert.Contains(t, err.Error(), "row 5")
	assert.Contains(t, err.Error(), "too large to train on")
	jobs, err := rt.DB.ListJobs(ctx, 0)
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	assert.Equal(t, store.Failed, jobs[0].Status)
	keys, err := rt.Artifacts.List(ctx, "")
	require.NoError(t, err)
	for _, k := range keys {
		assert.NotContains(t, k, "network.safetensors")
		assert.False(t, strings.HasPrefix(k, "checkpoints/"), k)
		assert.False(t, strings.HasPrefix(k, "models/"), k)
	}
	assert.NotEmpty(t, modelFilesOf(keys, "jobs/"+jobs[0].ID+"/validation_report"), "the report stays: %v", keys)
}

// TestMarkFailedRemovesTrainedState: a job that fails after Train wrote its
// weights and checkpoint keeps neither; its reports stay.
func TestMarkFailedRemovesTrainedState(t *testing.T) {
	ctx := context.Background()
	rt := openTest(t, nil)
	job, err := training.NewJob("trn-fail-1", training.TrainingConfig{DatasetPath: "d.csv", TargetColumn: "y"}, time.Now())
	require.NoError(t, err)
	require.NoError(t, rt.DB.CreateJob(ctx, job))
	for _, k := range []string{"jobs/trn-fail-1/network.safetensors", "jobs/trn-fail-1/history.json",
		"checkpoints/trn-fail-1/latest.ckpt", "jobs/trn-fail-10/network.safetensors"} {
		require.NoError(t, rt.Artifacts.Put(ctx, k, bytes.NewReader([]byte("x"))))
	}
	f := fault.Failure{Error: fault.Diverged.Name(), Cause: "loss is +Inf at epoch 1"}
	_, err = rt.Pipeline.MarkFailed(ctx, training.Refs{JobID: "trn-fail-1"}, f)
	require.NoError(t, err)
	keys, err := rt.Artifacts.List(ctx, "")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"jobs/trn-fail-1/history.json", "jobs/trn-fail-10/network.safetensors"}, keys)
	got, err := rt.DB.GetJob(ctx, "trn-fail-1")
	require.NoError(t, err)
	assert.Equal(t, store.Failed, got.Status)
}

func modelFilesOf(keys []string, prefix string) []string {
	var out []string
	for _, k := range keys {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}
