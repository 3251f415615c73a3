package evaluationjob_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/embedded"
	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/evaluationjob/evaluationapi"
	"github.com/orrery-ml/orrery/shared/finitejson"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store"
)

// modelFiles returns the content of every file of a registered model's
// directory, by name.
func modelFiles(t *testing.T, rt *embedded.Runtime, modelID string) map[string]string {
	t.Helper()
	dir, err := rt.ModelDir(t.Context(), modelID)
	require.NoError(t, err)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	out := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		out[e.Name()] = string(b)
	}
	require.Contains(t, out, nn.ManifestFile)
	return out
}

// TestEvaluateAtRequestedThreshold: a request's threshold is the operating
// point of the metrics, the bootstrap intervals and the slices (what the
// MetricsCalculator computes on the same scores at that threshold), the
// result says so, and the model is left as it was.
func TestEvaluateAtRequestedThreshold(t *testing.T) {
	ctx := t.Context()
	rt, modelID := trainedModel(t)
	svc := rt.EvaluationService()
	before := modelFiles(t, rt, modelID)
	modelsBefore, err := rt.DB.ListModels(ctx)
	require.NoError(t, err)

	// Another file than the training one: every row is scored, so the
	// expected metrics are computed here on the same rows.
	r := rand.New(rand.NewPCG(11, 3))
	var b strings.Builder
	b.WriteString("a,b,label\n")
	for range 200 {
		a, bb := r.Float64(), r.Float64()
		label := "star"
		if a+bb+0.1*r.NormFloat64() > 1.3 {
			label = "pulsar"
		}
		fmt.Fprintf(&b, "%.6f,%.6f,%s\n", a, bb, label)
	}
	data := filepath.Join(t.TempDir(), "other.csv")
	require.NoError(t, os.WriteFile(data, []byte(b.String()), 0o644))

	dir, err := rt.ModelDir(ctx, modelID)
	require.NoError(t, err)
	model, err := nn.LoadDir(dir)
	require.NoError(t, err)
	table, err := dataset.Read(ctx, data)
	require.NoError(t, err)
	d, err := table.Select(dataset.SelectOptions{Target: "label", Positive: "pulsar", Features: model.Manifest.Features})
	require.NoError(t, err)
	proba, err := model.PredictProba(ctx, d.X, d.Rows)
	require.NoError(t, err)
	calc, err := embedded.Metrics.Calculator()
	require.NoError(t, err)
	col, ok := table.Column("a")
	require.True(t, ok)
	keys := evaluation.BinLabels(col.Num, 3)

	eval := func(threshold float64) *evaluation.EvaluationResult {
		t.Helper()
		res, err := svc.Evaluate(ctx, evaluation.EvaluateRequest{ModelID: modelID, DatasetPath: data, TargetColumn: "label",
			BootstrapResamples: 200, SliceColumn: "a", SliceBins: 3, Threshold: threshold})
		require.NoError(t, err)
		require.Equal(t, d.Rows, res.Rows, "every row of a file the model was not trained on")
		return res
	}
	results := map[float64]*evaluation.EvaluationResult{}
	for _, threshold := range []float64{0.2, 0.8} {
		res := eval(threshold)
		results[threshold] = res
		in := evaluation.Input{Y: d.Y, Proba: proba, Classes: d.Classes, Positive: d.Positive, Threshold: threshold}
		want, err := calc.Calculate(in)
		require.NoError(t, err)
		wantJSON, err := json.Marshal(want)
		require.NoError(t, err)
		gotJSON, err := json.Marshal(res.Metrics)
		require.NoError(t, err)
		assert.JSONEq(t, string(wantJSON), string(gotJSON), "metrics at %v", threshold)
		assert.Equal(t, threshold, res.Metrics.Threshold)

		assert.Equal(t, threshold, res.DecisionThreshold)
		assert.Equal(t, evaluation.ThresholdFromRequest, res.ThresholdSource)
		assert.Equal(t, model.Manifest.Threshold, res.ModelThreshold)

		for _, name := range []string{"recall", "precision", "accuracy", "f1_score"} {
			v, ok := evaluation.MetricValue(want, name)
			require.True(t, ok, name)
			assert.Equal(t, v, res.ConfidenceIntervals[name].Estimate, "the %s interval is at %v", name, threshold)
		}
		wantSlices, err := calc.Slices(in, keys)
		require.NoError(t, err)
		wantSliceJSON, err := finitejson.Marshal(wantSlices)
		require.NoError(t, err)
		gotSliceJSON, err := finitejson.Marshal(res.Slices)
		require.NoError(t, err)
		assert.JSONEq(t, string(wantSliceJSON), string(gotSliceJSON), "slices at %v", threshold)

		// What GET /ml/evaluation/{model_id}/metrics serves, and the page.
		latest, err := svc.EvaluationMetrics(ctx, modelID)
		require.NoError(t, err)
		var stored map[string]any
		require.NoError(t, json.Unmarshal(latest, &stored))
		assert.Equal(t, threshold, stored["decision_threshold"])
		assert.Equal(t, "request", stored["threshold_source"])
		assert.Equal(t, threshold, stored["metrics"].(map[string]any)["decision_threshold"])
		rc, err := rt.Artifacts.Get(ctx, "evaluations/"+modelID+"/"+res.EvaluationID+"/report.html")
		require.NoError(t, err)
		page, err := io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err)
		assert.Contains(t, string(page), fmt.Sprintf("decision threshold %.4f (requested for this evaluation; the model&#39;s own is %.4f)",
			threshold, model.Manifest.Threshold))
	}
	low, high := results[0.2], results[0.8]
	assert.Greater(t, low.Metrics.Recall, high.Metrics.Recall, "a lower threshold finds more of the positives")
	assert.Greater(t, low.ConfidenceIntervals["recall"].Estimate, high.ConfidenceIntervals["recall"].Estimate)

	// Without a threshold the model's own is used, and said.
	own := eval(0)
	assert.Equal(t, model.Manifest.Threshold, own.DecisionThreshold)
	assert.Equal(t, evaluation.ThresholdFromModel, own.ThresholdSource)
	assert.Equal(t, model.Manifest.Threshold, own.Metrics.Threshold)

	assert.Equal(t, before, modelFiles(t, rt, modelID), "the model's directory is unchanged")
	modelsAfter, err := rt.DB.ListModels(ctx)
	require.NoError(t, err)
	assert.Len(t, modelsAfter, len(modelsBefore), "evaluating at a threshold registers no model")

	t.Run("with save_threshold", func(t *testing.T) {
		res, err := svc.Evaluate(ctx, evaluation.EvaluateRequest{ModelID: modelID, DatasetPath: data, TargetColumn: "label",
			BootstrapResamples: 100, Threshold: 0.2, SaveThreshold: "f1"})
		require.NoError(t, err)
		assert.Equal(t, 0.2, res.Metrics.Threshold, "the metrics are at the requested threshold")
		require.NotEmpty(t, res.DerivedModelID)
		require.NotNil(t, res.Thresholds)
		derivedDir, err := rt.ModelDir(ctx, res.DerivedModelID)
		require.NoError(t, err)
		derived, err := nn.LoadDir(derivedDir)
		require.NoError(t, err)
		assert.Equal(t, res.Thresholds.F1.Threshold, derived.Manifest.Threshold, "the new version carries the F1 method's threshold")
		assert.Equal(t, before, modelFiles(t, rt, modelID))
	})
}

// TestThresholdRefused: thresholds outside (0, 1), NaN, and any threshold
// for a multi-class model are refused with an error naming threshold, and
// nothing is stored.
func TestThresholdRefused(t *testing.T) {
	ctx := t.Context()
	for _, v := range []float64{1, 1.5, -0.2, math.NaN(), math.Inf(1)} {
		err := evaluation.EvaluateRequest{ModelID: "m", DatasetPath: "d.csv", TargetColumn: "y", Threshold: v}.Validate()
		require.ErrorIs(t, err, evaluation.ErrInvalidRequest, "%v", v)
		assert.Contains(t, err.Error(), "threshold", "%v", v)
	}
	require.NoError(t, evaluation.EvaluateRequest{ModelID: "m", DatasetPath: "d.csv", TargetColumn: "y", Threshold: 0.5}.Validate())

	// 0 (the model's own threshold in an EvaluateRequest) is refused where
	// a user writes a number: the API's decision_threshold.
	for _, v := range []string{"0", "1", "1.5", "NaN", "-0.1", "half"} {
		_, err := evaluationapi.Config(api.EvaluationRequest{ModelID: "m", DecisionThreshold: v})
		require.ErrorIs(t, err, store.ErrInvalid, "%q", v)
		require.ErrorIs(t, err, evaluation.ErrInvalidRequest, "%q", v)
		assert.Contains(t, err.Error(), "decision_threshold", "%q", v)
	}
	cfg, err := evaluationapi.Config(api.EvaluationRequest{ModelID: "m", DecisionThreshold: "0.35"})
	require.NoError(t, err)
	assert.Equal(t, 0.35, cfg.Threshold)
	assert.Empty(t, cfg.SaveThreshold)

	t.Run("multi-class model", func(t *testing.T) {
		rt, err := embedded.Open(ctx, filepath.Join(t.TempDir(), "home"), nil)
		require.NoError(t, err)
		t.Cleanup(func() { rt.Close() })
		r := rand.New(rand.NewPCG(7, 2))
		var b strings.Builder
		b.WriteString("a,b,label\n")
		for range 240 {
			a, bb := r.Float64(), r.Float64()
			label := "star"
			switch s := a + 0.3*r.NormFloat64(); {
			case s > 0.7:
				label = "pulsar"
			case bb+0.3*r.NormFloat64() > 0.7:
				label = "rfi"
			}
			fmt.Fprintf(&b, "%.6f,%.6f,%s\n", a, bb, label)
		}
		data := filepath.Join(t.TempDir(), "three.csv")
		require.NoError(t, os.WriteFile(data, []byte(b.String()), 0o644))
		trained, err := pipeline.RunTraining(ctx, rt.Pipeline, training.TrainingConfig{DatasetPath: data, TargetColumn: "label",
			Epochs: 2, HiddenLayers: []int{4}, BatchSize: 32, LearningRate: 0.01})
		require.NoError(t, err)
		svc := rt.EvaluationService()
		jobsBefore, err := rt.DB.ListJobs(ctx, 0)
		require.NoError(t, err)

		req := evaluation.EvaluateRequest{ModelID: trained.ModelID, DatasetPath: data, TargetColumn: "label", Threshold: 0.3}
		_, err = svc.Evaluate(ctx, req)
		require.ErrorIs(t, err, evaluation.ErrInvalidRequest)
		assert.Contains(t, err.Error(), "threshold")
		assert.Contains(t, err.Error(), "3 classes")

		_, err = svc.Submit(ctx, evaluationjob.Config{EvaluateRequest: evaluation.EvaluateRequest{ModelID: trained.ModelID, Threshold: 0.3}})
		require.ErrorIs(t, err, store.ErrInvalid)
		require.ErrorIs(t, err, evaluation.ErrInvalidRequest)
		assert.Contains(t, err.Error(), "threshold")
		jobsAfter, err := rt.DB.ListJobs(ctx, 0)
		require.NoError(t, err)
		assert.Len(t, jobsAfter, len(jobsBefore), "a refused request stores no job")
		keys, err := rt.Artifacts.List(ctx, "evaluations/")
		require.NoError(t, err)
		assert.Empty(t, keys, "nothing half-written")

		// Without a threshold the multi-class model evaluates, and its
		// result names no threshold.
		res, err := svc.Evaluate(ctx, evaluation.EvaluateRequest{ModelID: trained.ModelID, DatasetPath: data, TargetColumn: "label", BootstrapResamples: 100})
		require.NoError(t, err)
		assert.Zero(t, res.DecisionThreshold)
		assert.Empty(t, res.ThresholdSource)
	})
}
