package embedded

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/optimizationjob"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store"
)

func optimizationRequest(t *testing.T, data string, trials, parallel int) api.OptimizationRequest {
	t.Helper()
	body := fmt.Sprintf(`{"name": "syn", "base_config": {"dataset_path": %q, "target_column": "label", "positive_class": "pulsar",
	  "epochs": 4, "batch_size": 32, "hidden_layers": [8]},
	 "search_space": [{"name": "learning_rate", "kind": "float", "low": 0.001, "high": 0.1, "log": true},
	                  {"name": "hidden_layers", "kind": "categorical", "choices": [[4], [8, 4]]}],
	 "strategy": "random", "pruner": "asha", "budget": {"max_trials": %d, "max_parallel": %d}}`, data, trials, parallel)
	req, err := api.DecodeOptimizationRequest([]byte(body))
	require.NoError(t, err)
	return req
}

func TestRunOptimizationStateMachine(t *testing.T) {
	ctx := context.Background()
	rt := openTest(t, nil)
	req := optimizationRequest(t, writeCSV(t, t.TempDir(), "syn.csv", synthetic(300, 21)), 5, 2)
	spec, err := optimizationjob.SpecFromRequest(req)
	require.NoError(t, err)
	assert.Equal(t, []any{"4", "8-4"}, spec.Space.Dimensions[1].Choices)
	st := rt.OptimizationStores()
	require.NoError(t, optimization.CreateStudy(ctx, st, "hpo-sm", "syn", spec))

	fin, err := rt.RunOptimizationStateMachine(ctx, pipeline.OptimizationInput{StudyID: "hpo-sm", MaxParallel: 2})
	require.NoError(t, err)
	assert.Equal(t, optimization.StopTrials, fin.StopReason)
	assert.Equal(t, 5, fin.Trials)
	require.NotNil(t, fin.BestTrial)
	assert.Greater(t, *fin.Best, 0.5, "the best trial learned something (val AUC-PR)")

	res, err := optimization.Results(ctx, st, "hpo-sm")
	require.NoError(t, err)
	assert.Equal(t, store.Succeeded, res.Status)
	require.Len(t, res.Trials, 5)
	for _, tr := range res.Trials {
		assert.True(t, tr.State.Finished(), "trial %d is %s", tr.Number, tr.State)
		assert.Contains(t, []any{"4", "8-4"}, tr.Params["hidden_layers"])
	}
	path, err := rt.Artifacts.Path(res.ReportKey)
	require.NoError(t, err)
	html, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(html), "hpo-sm")
}

func TestOptimizationStateMachineMarksFailures(t *testing.T) {
	ctx := context.Background()
	rt := openTest(t, nil)
	req := optimizationRequest(t, writeCSV(t, t.TempDir(), "syn.csv", synthetic(100, 22)), 2, 1)
	spec, err := optimizationjob.SpecFromRequest(req)
	require.NoError(t, err)
	spec.Base.TargetColumn = "no_such_column"
	require.NoError(t, optimization.CreateStudy(ctx, rt.OptimizationStores(), "hpo-bad", "", spec))
	_, err = rt.RunOptimizationStateMachine(ctx, pipeline.OptimizationInput{StudyID: "hpo-bad", MaxParallel: 1})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no_such_column")
	res, err := optimization.Results(ctx, rt.OptimizationStores(), "hpo-bad")
	require.NoError(t, err)
	assert.Equal(t, store.Failed, res.Status)
	// A target that is not a column is bad input (dataset.ErrMissingColumn).
	assert.True(t, strings.HasPrefix(res.Error, fault.Invalid.Name()+": "), res.Error)

	_, err = rt.RunOptimizationStateMachine(ctx, pipeline.OptimizationInput{StudyID: "hpo-missing"})
	require.Error(t, err, "an unknown study fails the execution")
}

func TestStudiesCloseCancelsARunningStudy(t *testing.T) {
	ctx := context.Background()
	rt := openTest(t, nil)
	req := optimizationRequest(t, writeCSV(t, t.TempDir(), "syn.csv", synthetic(300, 23)), 50, 1)
	req.BaseConfig.Epochs = 200
	off := false
	req.BaseConfig.EarlyStop.Enabled = &off
	req.Pruner = "none"
	studies := rt.NewStudies(nil)
	acc, err := studies.StartOptimization(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, optimizationjob.ResultsURL(acc.JobID), acc.StatusURL)
	require.Eventually(t, func() bool {
		ts, err := rt.DB.ListTrials(ctx, acc.JobID)
		return err == nil && len(ts) > 0
	}, time.Minute, 5*time.Millisecond, "a trial starts")
	require.NoError(t, studies.Close(ctx))
	res, err := optimization.Results(ctx, rt.OptimizationStores(), acc.JobID)
	require.NoError(t, err)
	assert.Equal(t, store.Failed, res.Status)
	assert.Contains(t, res.Error, "Cancelled")
	_, err = studies.StartOptimization(ctx, req)
	require.ErrorIs(t, err, ErrClosed, "a closed runner starts nothing")
}
