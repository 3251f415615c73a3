package training_test

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/modelstore"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store/filestore"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// TestTreeModelTypesEndToEnd trains gradient_boosting, random_forest and
// auto on HTRU2 through the training state machine: each registers a
// model that the model store loads back as a tree ensemble (Register has
// checked the stored copy predicts bit for bit like the trained one), with
// the test metrics, the gain importance, the forest's out-of-bag score and
// auto's comparison in the result.
func TestTreeModelTypesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on HTRU2")
	}
	for _, tc := range []struct {
		name, body, kept string
	}{
		{"gradient_boosting", `{"model_type": "gradient_boosting", "max_iter": 60, "max_leaves": 15}`, training.ModelGradientBoosting},
		{"random_forest", `{"model_type": "random_forest", "n_estimators": 30, "min_samples_leaf": 2}`, training.ModelRandomForest},
		{"auto", `{"model_type": "auto", "epochs": 3, "hidden_layers": [8], "max_iter": 40}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			dir := t.TempDir()
			files, err := filestore.New(filepath.Join(dir, "artifacts"))
			require.NoError(t, err)
			db, err := sqlitestore.Open(ctx, filepath.Join(dir, "orrery.db"))
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			var events []tracking.Event
			p := &training.TrainingPipeline{Jobs: db, Models: db, Artifacts: files,
				Recorder: tracking.RecorderFunc(func(_ context.Context, e tracking.Event) error { events = append(events, e); return nil })}
			cfg, err := training.DecodeConfig(bytes.NewReader([]byte(tc.body)))
			require.NoError(t, err)
			cfg.DatasetPath, cfg.TargetColumn, cfg.PositiveClass = "../../../events/data/htru2.csv", "class", "1"

			res, err := pipeline.RunTraining(ctx, p, cfg)
			require.NoError(t, err)
			assert.Greater(t, res.Metrics.AUCROC, 0.95)
			rec, err := db.GetModel(ctx, res.ModelID)
			require.NoError(t, err)
			model, _, err := modelstore.Store{Artifacts: files}.Get(ctx, rec.ArtifactKey)
			require.NoError(t, err)
			kept := tc.kept
			if kept == "" {
				require.NotNil(t, res.Training.Auto)
				require.Len(t, res.Training.Auto.Candidates, 2)
				assert.Equal(t, "delong", res.Training.Auto.Test)
				assert.False(t, math.IsNaN(res.Training.Auto.PValue))
				kept = res.Training.Auto.Chosen
			}
			assert.Equal(t, kept, model.Manifest.ModelType)
			assert.Equal(t, kept, rec.ModelType)
			assert.Equal(t, kept, res.Training.ModelType)
			if kept == training.ModelMLP {
				return
			}
			require.NotNil(t, model.Trees)
			require.Len(t, res.Training.FeatureImportance, 8)
			sum := 0.0
			for _, v := range res.Training.FeatureImportance {
				sum += v
			}
			assert.InDelta(t, 1, sum, 1e-9)
			if kept == training.ModelRandomForest {
				require.NotNil(t, res.Training.OOB)
				assert.Greater(t, res.Training.OOB.AUCROC, 0.9)
				assert.Greater(t, res.Training.OOB.Rows, 10000)
			} else {
				progress := 0
				for _, e := range events {
					if e.Kind == tracking.Progress && e.Unit == "iteration" {
						progress++
						assert.Contains(t, e.Metrics, "val_auc_pr")
					}
				}
				assert.Positive(t, progress, "boosting reports intermediate values")
				assert.LessOrEqual(t, res.Training.BestEpoch, res.Training.EpochsRun)
			}
		})
	}
}

func TestTreeConfigRules(t *testing.T) {
	for _, tc := range []struct{ body, field string }{
		{`{"model_type": "gradient_boosting", "subsample": 0}`, "subsample"},
		{`{"model_type": "gradient_boosting", "max_iter": 0}`, "max_iter"},
		{`{"model_type": "gradient_boosting", "colsample": 1.5}`, "colsample"},
		{`{"model_type": "gradient_boosting", "n_estimators": 10}`, "n_estimators"},
		{`{"model_type": "random_forest", "max_leaves": 10}`, "max_leaves"},
		{`{"model_type": "random_forest", "max_features": "cube"}`, "max_features"},
		{`{"model_type": "random_forest", "max_features": 2.5}`, "max_features"},
		{`{"model_type": "random_forest", "n_estimators": 0}`, "n_estimators"},
		{`{"model_type": "mlp", "max_iter": 10}`, "max_iter"},
		{`{"model_type": "random_forest", "max_depth": -1}`, "max_depth"},
	} {
		_, err := training.DecodeConfig(bytes.NewReader([]byte(tc.body)))
		if err == nil {
			var cfg training.TrainingConfig
			cfg, err = training.DecodeConfig(bytes.NewReader([]byte(tc.body)))
			_, err = cfg.Normalize()
		}
		require.ErrorIs(t, err, training.ErrInvalidConfig, tc.body)
		assert.ErrorContains(t, err, tc.field, tc.body)
	}
	cfg, err := training.DecodeConfig(bytes.NewReader([]byte(`{"model_type": "gradient_boosting", "l2_regularization": 0, "max_depth": 0}`)))
	require.NoError(t, err)
	cfg.DatasetPath, cfg.TargetColumn = "x.csv", "y"
	n, err := cfg.Normalize()
	require.NoError(t, err)
	assert.Equal(t, 0.1, n.LearningRate, "boosting's own default learning rate")
	assert.Equal(t, 100, n.MaxIter)
	assert.Zero(t, n.L2Regularization)
	rf, err := training.DecodeConfig(bytes.NewReader([]byte(`{"model_type": "random_forest", "max_features": 0.5}`)))
	require.NoError(t, err)
	assert.Equal(t, 4, rf.MaxFeatures.Count(8))
	assert.Equal(t, 2, training.DefaultsFor(training.ModelRandomForest).MaxFeatures.Count(8))
}
