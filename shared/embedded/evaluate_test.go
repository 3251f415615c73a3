package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/evaluationjob"
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

// TestHeavyEvaluationThroughTheJournaledExecutor runs a 5-fold
// cross-validation as the local executions run every evaluation job, once
// light, once heavy (each fold a RunFold task) and once with the bootstrap
// offloaded too (each range of its replicates a RunFold task): the journal
// shows the fold tasks, and the cross-validation's figures and the
// confidence intervals agree.
func TestHeavyEvaluationThroughTheJournaledExecutor(t *testing.T) {
	ctx := t.Context()
	rt := openTest(t, nil)
	data := writeCSV(t, t.TempDir(), "syn.csv", synthetic.TwoClassCSV(400, 8))
	trained, err := pipeline.RunTraining(ctx, rt.Pipeline, quickConfig(data))
	require.NoError(t, err)
	req := evaluationjob.Config{EvaluateRequest: evaluation.EvaluateRequest{ModelID: trained.ModelID, CVFolds: 5, BootstrapResamples: 50}}

	run := func(offload evaluationjob.Offload) (evaluation.EvaluationResult, []string) {
		x, err := rt.Executions(ExecutionOptions{EvaluationOffload: offload})
		require.NoError(t, err)
		defer func() { require.NoError(t, x.Close(context.Background())) }()
		svc := rt.EvaluationService()
		job, err := svc.Submit(ctx, req)
		require.NoError(t, err)
		require.NoError(t, pipeline.Flows{Executions: x}.StartEvaluation(ctx, job.ID))
		d, err := x.Wait(ctx, pipeline.MachineEvaluation, job.ID)
		require.NoError(t, err)
		require.Equal(t, pipeline.StatusSucceeded, d.Status, d.Cause)
		got, err := rt.DB.GetJob(ctx, job.ID)
		require.NoError(t, err)
		require.Equal(t, store.Succeeded, got.Status, got.Error)
		var res evaluationjob.Result
		require.NoError(t, json.Unmarshal(got.Result, &res))
		var ev evaluation.EvaluationResult
		require.NoError(t, json.Unmarshal(res.Evaluation, &ev))
		require.NotNil(t, ev.CrossValidation)
		require.NotEmpty(t, ev.ConfidenceIntervals)
		history, err := rt.DB.History(ctx, string(pipeline.MachineEvaluation), job.ID)
		require.NoError(t, err)
		var states []string
		for _, raw := range history {
			var e struct{ Type, State string }
			require.NoError(t, json.Unmarshal(raw, &e))
			if e.Type == "StateEntered" {
				states = append(states, e.State)
			}
		}
		return ev, states
	}
	lightEval, lightStates := run(evaluationjob.Offload{})
	heavyEval, heavyStates := run(evaluationjob.Offload{Fits: 5})
	// 50 resamples × about 80 test rows, about 1000 of that work per
	// range: 4 ranges.
	bootEval, bootStates := run(evaluationjob.Offload{Fits: 5, ResampleRows: 1000})
	light, heavy := lightEval.CrossValidation, heavyEval.CrossValidation
	assert.NotContains(t, lightStates, pipeline.StateRunFold)
	assert.Contains(t, lightStates, pipeline.StateEvaluate)
	assert.NotContains(t, heavyStates, pipeline.StateEvaluate)
	n := 0
	for _, s := range heavyStates {
		if s == pipeline.StateRunFold {
			n++
		}
	}
	assert.Equal(t, 5, n, "one RunFold task per fold: %v", heavyStates)
	assert.Contains(t, heavyStates, pipeline.StateReduce)
	n = 0
	for _, s := range bootStates {
		if s == pipeline.StateRunFold {
			n++
		}
	}
	assert.Greater(t, n, 6, "one RunFold task per fold and per range of replicates (at least 2): %v", bootStates)
	assert.Equal(t, fmt.Sprint(lightEval.ConfidenceIntervals), fmt.Sprint(bootEval.ConfidenceIntervals),
		"the offloaded bootstrap's intervals are the evaluate step's")
	assert.Equal(t, fmt.Sprint(lightEval.ConfidenceIntervals), fmt.Sprint(heavyEval.ConfidenceIntervals))
	assert.Equal(t, light.Summary, bootEval.CrossValidation.Summary)

	assert.Equal(t, light.Splitter, heavy.Splitter)
	assert.Equal(t, light.Summary, heavy.Summary)
	assert.Equal(t, light.OutOfFoldMetrics, heavy.OutOfFoldMetrics)
	require.Len(t, heavy.Folds, 5)
	for i := range light.Folds {
		l, h := light.Folds[i], heavy.Folds[i]
		l.Seconds, h.Seconds = 0, 0
		assert.Equal(t, l, h, "fold %d", i)
	}
}

// TestHeavyComparisonThroughTheJournaledExecutor runs an evaluation with
// compare_to (champion against challenger) as the local executions run
// every evaluation job, light and with the comparison's paired bootstrap
// offloaded (each range of its replicates a RunFold task of the same Map,
// no other task offloaded): the journal shows the shards, and the recorded
// comparison is byte for byte the light one.
func TestHeavyComparisonThroughTheJournaledExecutor(t *testing.T) {
	ctx := t.Context()
	rt := openTest(t, nil)
	data := writeCSV(t, t.TempDir(), "syn.csv", synthetic.TwoClassCSV(400, 8))
	champion, err := pipeline.RunTraining(ctx, rt.Pipeline, quickConfig(data))
	require.NoError(t, err)
	cfg := quickConfig(data)
	cfg.HiddenLayers = []int{3}
	challenger, err := pipeline.RunTraining(ctx, rt.Pipeline, cfg)
	require.NoError(t, err)
	req := evaluationjob.Config{EvaluateRequest: evaluation.EvaluateRequest{ModelID: champion.ModelID, BootstrapResamples: 60},
		CompareTo: []string{challenger.ModelID}}

	run := func(offload evaluationjob.Offload) (json.RawMessage, int) {
		x, err := rt.Executions(ExecutionOptions{EvaluationOffload: offload})
		require.NoError(t, err)
		defer func() { require.NoError(t, x.Close(context.Background())) }()
		svc := rt.EvaluationService()
		job, err := svc.Submit(ctx, req)
		require.NoError(t, err)
		require.NoError(t, pipeline.Flows{Executions: x}.StartEvaluation(ctx, job.ID))
		d, err := x.Wait(ctx, pipeline.MachineEvaluation, job.ID)
		require.NoError(t, err)
		require.Equal(t, pipeline.StatusSucceeded, d.Status, d.Cause)
		got, err := rt.DB.GetJob(ctx, job.ID)
		require.NoError(t, err)
		require.Equal(t, store.Succeeded, got.Status, got.Error)
		var res struct {
			Comparison json.RawMessage `json:"comparison"`
		}
		require.NoError(t, json.Unmarshal(got.Result, &res))
		require.NotEmpty(t, res.Comparison)
		history, err := rt.DB.History(ctx, string(pipeline.MachineEvaluation), job.ID)
		require.NoError(t, err)
		folds := 0
		for _, raw := range history {
			var e struct{ Type, State string }
			require.NoError(t, json.Unmarshal(raw, &e))
			if e.Type == "StateEntered" && e.State == pipeline.StateRunFold {
				folds++
			}
		}
		return res.Comparison, folds
	}
	light, lightFolds := run(evaluationjob.Offload{})
	var cmp evaluation.ComparisonResult
	require.NoError(t, json.Unmarshal(light, &cmp))
	require.Positive(t, cmp.Rows)
	// The evaluation's bootstrap (60 × rows) is at the bound, light; the
	// comparison's (60 × rows × 2 models) twice the bound: two ranges.
	bound := int64(60 * cmp.Rows)
	heavy, heavyFolds := run(evaluationjob.Offload{ResampleRows: bound})
	assert.Zero(t, lightFolds)
	assert.Equal(t, 2, heavyFolds, "one RunFold task per range of the comparison's replicates")
	assert.Equal(t, string(light), string(heavy), "the offloaded comparison is the evaluate step's")
}
