package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/synthetic"
)

func TestEvaluateRegisteredModel(t *testing.T) {
	ctx := context.Background()
	rt := openTest(t, nil)
	data := writeCSV(t, t.TempDir(), "syn.csv", synthetic.TwoClassCSV(600, 5))
	trained, err := pipeline.RunTraining(ctx, rt.Pipeline, quickConfig(data))
	require.NoError(t, err)

	req := evaluation.EvaluateRequest{ModelID: trained.ModelID, DatasetPath: data, TargetColumn: "label",
		CVFolds: 3, BootstrapResamples: 100, Calibration: evaluation.CalibrationIsotonic,
		SliceColumn: "noise", SliceBins: 3, SaveThreshold: "fpr:0.02"}
	res, err := rt.Evaluate(ctx, req)
	require.NoError(t, err)

	// The training file is recognised: its own test split is scored, and
	// the metrics are those the pipeline measured on it.
	assert.Contains(t, res.Split, "test split")
	assert.Equal(t, trained.Metrics.Support, res.Rows)
	assert.InDelta(t, trained.Metrics.AUCROC, res.Metrics.AUCROC, 1e-12)
	assert.Len(t, res.TestSetHash, 64)
	for _, name := range []string{"accuracy", "auc_roc", "auc_pr", "f1_score", evaluation.MetricCompleteness} {
		iv := res.ConfidenceIntervals[name]
		assert.LessOrEqual(t, iv.Lower, iv.Upper, name)
	}
	require.NotNil(t, res.CrossValidation)
	assert.Len(t, res.CrossValidation.Folds, 3)
	assert.Equal(t, 3, res.CrossValidation.Summary["auc_roc"].Folds)
	require.NotNil(t, res.Thresholds)
	require.NotNil(t, res.Calibration)
	require.NotNil(t, res.Calibration.After, "isotonic calibration applied out of sample")
	assert.Len(t, res.Slices, 3)
	require.NotNil(t, res.Latency)
	assert.Greater(t, res.Latency.Parameters, 0)
	assert.Greater(t, res.Latency.ModelBytes, int64(0))
	assert.Contains(t, res.Report, "report.html")
	assert.Contains(t, res.Report, "roc.svg")

	// The JSON a client sees.
	b, err := json.Marshal(res)
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(b, &raw))
	for _, key := range []string{"metrics", "confidence_intervals", "cross_validation", "thresholds", "calibration", "report"} {
		assert.NotNil(t, raw[key], key)
	}

	// Report files are stored under evaluations/<model_id>/<evaluation_id>/.
	keys, err := rt.Artifacts.List(ctx, "evaluations/"+trained.ModelID+"/"+res.EvaluationID+"/")
	require.NoError(t, err)
	assert.Contains(t, keys, "evaluations/"+trained.ModelID+"/"+res.EvaluationID+"/report.html")
	assert.Contains(t, keys, "evaluations/"+trained.ModelID+"/"+res.EvaluationID+"/evaluation.json")

	got, err := rt.EvaluationMetrics(ctx, trained.ModelID)
	require.NoError(t, err)
	var latest map[string]any
	require.NoError(t, json.Unmarshal(got, &latest))
	assert.Equal(t, res.EvaluationID, latest["evaluation_id"])

	// The chosen threshold lives in a new model version.
	require.NotEmpty(t, res.DerivedModelID)
	dir, err := rt.ModelDir(ctx, res.DerivedModelID)
	require.NoError(t, err)
	derived, err := nn.LoadDir(dir)
	require.NoError(t, err)
	point, ok := res.Thresholds.Named("fpr:0.02")
	require.True(t, ok)
	assert.Equal(t, point.Threshold, derived.Manifest.Threshold)
	require.NotNil(t, derived.Manifest.DerivedFrom)
	assert.Equal(t, trained.ModelID, derived.Manifest.DerivedFrom.ModelID)
	assert.Equal(t, res.EvaluationID, derived.Manifest.DerivedFrom.EvaluationID)
	origDir, err := rt.ModelDir(ctx, trained.ModelID)
	require.NoError(t, err)
	orig, err := nn.LoadDir(origDir)
	require.NoError(t, err)
	assert.Equal(t, trained.Threshold, orig.Manifest.Threshold, "the evaluated model is unchanged")

	// Two models on the same frozen test set.
	cmp, err := rt.Compare(ctx, evaluation.CompareRequest{ModelIDs: []string{trained.ModelID, res.DerivedModelID},
		DatasetPath: data, TargetColumn: "label", BootstrapResamples: 50})
	require.NoError(t, err)
	assert.Equal(t, res.TestSetHash, cmp.TestSetHash)
	require.Len(t, cmp.Ranking, 2)
	assert.Equal(t, 1, cmp.Ranking[0].Rank)
	assert.Equal(t, 1, cmp.Ranking[1].Rank, "same weights: equal AUC, a tie")
}

func TestEvaluateRefuses(t *testing.T) {
	ctx := context.Background()
	rt := openTest(t, nil)
	data := writeCSV(t, t.TempDir(), "syn.csv", synthetic.TwoClassCSV(200, 6))
	tests := []struct {
		name string
		req  evaluation.EvaluateRequest
		want error
	}{
		{"no model", evaluation.EvaluateRequest{DatasetPath: data, TargetColumn: "label"}, evaluation.ErrInvalidRequest},
		{"unknown model", evaluation.EvaluateRequest{ModelID: "mdl-nope", DatasetPath: data, TargetColumn: "label"}, store.ErrNotFound},
		{"bad cv", evaluation.EvaluateRequest{ModelID: "m", DatasetPath: data, TargetColumn: "label", CVFolds: 1}, evaluation.ErrInvalidRequest},
		{"group without column", evaluation.EvaluateRequest{ModelID: "m", DatasetPath: data, TargetColumn: "label", CVFolds: 3, CVStrategy: evaluation.CVGroup}, evaluation.ErrInvalidRequest},
		{"bad threshold method", evaluation.EvaluateRequest{ModelID: "m", DatasetPath: data, TargetColumn: "label", SaveThreshold: "fpr:2"}, evaluation.ErrInvalidRequest},
		{"unknown metric", evaluation.EvaluateRequest{ModelID: "m", DatasetPath: data, TargetColumn: "label", Metrics: []string{"nope"}}, evaluation.ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rt.Evaluate(ctx, tt.req)
			require.Error(t, err)
			assert.Truef(t, errors.Is(err, tt.want), "%v is not %v", err, tt.want)
		})
	}
	_, err := rt.EvaluationMetrics(ctx, "mdl-nope")
	require.ErrorIs(t, err, store.ErrNotFound)
	keys, err := rt.Artifacts.List(ctx, "evaluations/")
	require.NoError(t, err)
	assert.Empty(t, keys, "nothing half-written")
}
