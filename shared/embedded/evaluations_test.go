package embedded

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/evaluationjob/evaluationapi"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/store"
)

// TestEvaluationsMapRequests checks what an API request becomes: the job's
// Config is the evaluation.EvaluateRequest it runs.
func TestEvaluationsMapRequests(t *testing.T) {
	ctx := context.Background()
	rt := openTest(t, nil)
	data := writeCSV(t, t.TempDir(), "syn.csv", synthetic(400, 3))
	trained, err := rt.Pipeline.Train(ctx, quickConfig(data))
	require.NoError(t, err)
	evals := rt.NewEvaluations(nil)
	t.Cleanup(func() { require.NoError(t, evals.Close(context.Background())) })

	off := false
	tests := []struct {
		name string
		req  api.EvaluationRequest
		want evaluation.EvaluateRequest
	}{
		{"defaults from the manifest", api.EvaluationRequest{ModelID: trained.ModelID, DecisionThreshold: "model"},
			evaluation.EvaluateRequest{ModelID: trained.ModelID, DatasetPath: data, TargetColumn: "label"}},
		{"every option", api.EvaluationRequest{ModelID: trained.ModelID, DatasetPath: data, TargetColumn: "label", DecisionThreshold: "youden",
			CrossValidation: &api.CrossValidation{Folds: 3, Stratified: &off, Seed: 7}, Bootstrap: &api.Bootstrap{Iterations: 200, Confidence: 0.9}},
			evaluation.EvaluateRequest{ModelID: trained.ModelID, DatasetPath: data, TargetColumn: "label", SaveThreshold: "youden",
				CVFolds: 3, CVStrategy: evaluation.CVKFold, Seed: 7, BootstrapResamples: 200, Confidence: 0.9}},
		{"fixed threshold", api.EvaluationRequest{ModelID: trained.ModelID, DecisionThreshold: "0.25"},
			evaluation.EvaluateRequest{ModelID: trained.ModelID, DatasetPath: data, TargetColumn: "label", Threshold: 0.25}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := evaluationapi.JobConfig(ctx, rt.EvaluationService(), tc.req)
			require.NoError(t, err)
			assert.Equal(t, tc.want, cfg.EvaluateRequest)
		})
	}

	refused := []struct {
		name string
		req  api.EvaluationRequest
		want error
	}{
		{"unknown model", api.EvaluationRequest{ModelID: "mdl-absent"}, store.ErrNotFound},
		{"unknown model to compare", api.EvaluationRequest{ModelID: trained.ModelID, CompareTo: []string{"mdl-absent"}}, store.ErrNotFound},
		{"compared with itself", api.EvaluationRequest{ModelID: trained.ModelID, CompareTo: []string{trained.ModelID}}, store.ErrInvalid},
		{"threshold zero", api.EvaluationRequest{ModelID: trained.ModelID, DecisionThreshold: "0"}, evaluation.ErrInvalidRequest},
		{"threshold one", api.EvaluationRequest{ModelID: trained.ModelID, DecisionThreshold: "1"}, store.ErrInvalid},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			before, err := rt.DB.ListJobs(ctx, 0)
			require.NoError(t, err)
			_, err = evals.Evaluate(ctx, tc.req)
			require.ErrorIs(t, err, tc.want)
			after, err := rt.DB.ListJobs(ctx, 0)
			require.NoError(t, err)
			assert.Len(t, after, len(before), "a refused request stores no job")
		})
	}

	t.Run("a job at a fixed threshold runs to SUCCEEDED at that threshold", func(t *testing.T) {
		acc, err := evals.Evaluate(ctx, api.EvaluationRequest{ModelID: trained.ModelID, DecisionThreshold: "0.25", Bootstrap: &api.Bootstrap{Iterations: 100}})
		require.NoError(t, err)
		assert.Equal(t, store.Queued, acc.Status)
		var job store.Job
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			job, err = rt.DB.GetJob(ctx, acc.JobID)
			require.NoError(t, err)
			if job.Status.Terminal() {
				break
			}
		}
		require.Equal(t, store.Succeeded, job.Status, job.Error)
		var res EvaluationJobResult
		require.NoError(t, json.Unmarshal(job.Result, &res))
		var ev evaluation.EvaluationResult
		require.NoError(t, json.Unmarshal(res.Evaluation, &ev))
		assert.Equal(t, 0.25, ev.DecisionThreshold)
		assert.Equal(t, evaluation.ThresholdFromRequest, ev.ThresholdSource)
		assert.Equal(t, 0.25, ev.Metrics.Threshold)
		assert.Empty(t, ev.DerivedModelID)
	})

	t.Run("a job runs to SUCCEEDED and Close refuses more", func(t *testing.T) {
		acc, err := evals.Evaluate(ctx, api.EvaluationRequest{ModelID: trained.ModelID, Bootstrap: &api.Bootstrap{Iterations: 100}})
		require.NoError(t, err)
		assert.Equal(t, api.JobKindEvaluation, acc.Kind)
		assert.Equal(t, store.Queued, acc.Status)
		var job store.Job
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			job, err = rt.DB.GetJob(ctx, acc.JobID)
			require.NoError(t, err)
			if job.Status.Terminal() {
				break
			}
		}
		require.Equal(t, store.Succeeded, job.Status, job.Error)
		var res EvaluationJobResult
		require.NoError(t, json.Unmarshal(job.Result, &res))
		assert.Nil(t, res.Comparison)
		latest, err := evals.EvaluationMetrics(ctx, trained.ModelID)
		require.NoError(t, err)
		assert.JSONEq(t, string(res.Evaluation), string(latest), "the job's result is the stored latest evaluation")

		require.NoError(t, evals.Close(ctx))
		_, err = evals.Evaluate(ctx, api.EvaluationRequest{ModelID: trained.ModelID})
		require.ErrorIs(t, err, ErrClosed)
	})

	t.Run("Close cancels a job that has not finished", func(t *testing.T) {
		evals := rt.NewEvaluations(nil)
		acc, err := evals.Evaluate(ctx, api.EvaluationRequest{ModelID: trained.ModelID, CrossValidation: &api.CrossValidation{Folds: 5}})
		require.NoError(t, err)
		require.NoError(t, evals.Close(ctx))
		job, err := rt.DB.GetJob(ctx, acc.JobID)
		require.NoError(t, err)
		assert.Equal(t, store.Cancelled, job.Status)
		assert.Contains(t, job.Error, "the server stopped before the evaluation")
	})
}
