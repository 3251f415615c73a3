package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/embedded"
	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/trainer/batchjob"
)

// TestEvaluationFoldTask runs the trainer's fold mode as the evaluation
// machine's RunFold task starts the container, once per fold of a planned
// heavy evaluation on an embedded home (ORRERY_EVALUATION_FOLD,
// ORRERY_HOME); the Reduce step then combines the folds the trainer wrote
// into the cross-validation the light path computes. A fold outside the
// split, and a job that was never planned, exit 1 (not retried).
func TestEvaluationFoldTask(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three folds on HTRU2")
	}
	clearTrainerEnv(t)
	ctx := t.Context()
	rt, err := embedded.Open(ctx, filepath.Join(t.TempDir(), "home"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	cfg := training.Defaults()
	cfg.DatasetPath, cfg.TargetColumn, cfg.PositiveClass = "../events/data/htru2.csv", "class", "1"
	cfg.Epochs, cfg.HiddenLayers = 2, []int{8}
	trained, err := pipeline.RunTraining(ctx, rt.Pipeline, cfg)
	require.NoError(t, err)

	svc := rt.EvaluationService()
	svc.Offload = evaluationjob.Offload{Fits: 3}
	req := evaluation.EvaluateRequest{ModelID: trained.ModelID, CVFolds: 3, BootstrapResamples: 20}
	job, err := svc.Submit(ctx, evaluationjob.Config{EvaluateRequest: req})
	require.NoError(t, err)
	fold := func(jobID string, n int) (int, string) {
		t.Setenv(config.EnvHome, rt.Home)
		t.Setenv(config.EnvEvaluationFold, fmt.Sprintf(`{"job_id":%q,"fold":%d}`, jobID, n))
		var logs bytes.Buffer
		return run(&logs, nil), logs.String()
	}

	code, logs := fold(job.ID, 0)
	assert.Equal(t, batchjob.ExitApplication, code, "a job that was never planned has no folds to run")
	assert.Contains(t, logs, "not RUNNING")

	plan, err := svc.Plan(ctx, job.ID)
	require.NoError(t, err)
	require.True(t, plan.Heavy, plan.Reason)
	require.Equal(t, []int{0, 1, 2}, plan.Folds)
	for _, n := range plan.Folds {
		code, logs := fold(job.ID, n)
		require.Equal(t, batchjob.ExitOK, code, logs)
		assert.Contains(t, logs, "evaluation fold finished")
	}
	code, logs = fold(job.ID, 3)
	assert.Equal(t, batchjob.ExitApplication, code)
	assert.Contains(t, logs, "fold 3 is not one of the 3 folds")

	out, err := svc.Reduce(ctx, job.ID)
	require.NoError(t, err)
	assert.Equal(t, string(store.Succeeded), out.Status)
	got, err := rt.DB.GetJob(ctx, job.ID)
	require.NoError(t, err)
	var res evaluationjob.Result
	require.NoError(t, json.Unmarshal(got.Result, &res))
	var ev evaluation.EvaluationResult
	require.NoError(t, json.Unmarshal(res.Evaluation, &ev))
	require.NotNil(t, ev.CrossValidation)

	var stored evaluationjob.Config
	require.NoError(t, json.Unmarshal(job.Config, &stored))
	light, err := rt.Evaluate(ctx, stored.EvaluateRequest)
	require.NoError(t, err)
	assert.Equal(t, light.CrossValidation.Summary, ev.CrossValidation.Summary, "the folds the trainer trained are the light path's")
	assert.Equal(t, light.CrossValidation.OutOfFoldMetrics, ev.CrossValidation.OutOfFoldMetrics)
}
