package optimization_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
)

// TestTreeTrialsReportIterations: a gradient_boosting trial takes the tree
// parameters of DefaultTreeSpace, reports its validation metric every few
// boosting iterations (what the pruner reads), and a pruned report stops
// it.
func TestTreeTrialsReportIterations(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on HTRU2")
	}
	base, err := training.DecodeConfig(bytes.NewReader([]byte(`{"model_type": "gradient_boosting", "max_iter": 50}`)))
	require.NoError(t, err)
	data, err := optimization.PrepareData(context.Background(), "../../../events/data/htru2.csv", "class", "1", base)
	require.NoError(t, err)
	space := optimization.DefaultTreeSpace(training.ModelGradientBoosting)
	require.NoError(t, space.Validate())
	require.NoError(t, optimization.DefaultTreeSpace(training.ModelRandomForest).Validate())
	obj := optimization.TrainingObjective{Data: data, Base: base, StudyID: "hpo-trees"}
	params := optimization.Params{"learning_rate": 0.2, "max_leaves": 16, "min_samples_leaf": 10, "l2_regularization": 0.1,
		"subsample": 0.8, "colsample": 0.9}
	cfg, err := obj.Config(params)
	require.NoError(t, err)
	assert.Equal(t, 16, cfg.MaxLeaves)
	assert.Equal(t, 0.8, cfg.Subsample)

	var steps []int
	out, err := obj.Evaluate(context.Background(), optimization.Trial{Number: 1, Params: params},
		func(_ context.Context, step int, values []float64) error {
			steps = append(steps, step)
			require.Len(t, values, 1)
			assert.Greater(t, values[0], 0.5)
			return nil
		})
	require.NoError(t, err)
	require.Len(t, out.Values, 1)
	assert.Greater(t, out.Values[0], 0.8, "validation AUC-PR")
	assert.Greater(t, len(steps), 5)
	assert.Equal(t, "gonum", out.Attrs["backend"])

	pruned := 0
	_, err = obj.Evaluate(context.Background(), optimization.Trial{Number: 2, Params: params},
		func(_ context.Context, step int, _ []float64) error {
			pruned++
			if step >= 3 {
				return optimization.ErrPruned
			}
			return nil
		})
	require.ErrorIs(t, err, optimization.ErrPruned)
	assert.Less(t, pruned, 10, "the trial stops soon after it is pruned")
}
