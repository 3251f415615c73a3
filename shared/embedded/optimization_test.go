package embedded

import (
	"context"
	"encoding/json"
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
	"github.com/orrery-ml/orrery/shared/pipeline/localexec"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/synthetic"
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

// executions returns the runtime's local executions, closed at the end of
// the test.
func executions(t *testing.T, rt *Runtime) *localexec.Executions {
	t.Helper()
	x, err := rt.Executions(ExecutionOptions{Parallel: 1})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, x.Close(context.Background())) })
	return x
}

// runStudy runs the optimization execution of study id to its end.
func runStudy(t *testing.T, x *localexec.Executions, id string, parallel int) pipeline.Description {
	t.Helper()
	require.NoError(t, pipeline.Flows{Executions: x}.StartStudy(t.Context(), pipeline.OptimizationInput{StudyID: id, MaxParallel: parallel}))
	d, err := x.Wait(t.Context(), pipeline.MachineOptimization, id)
	require.NoError(t, err)
	return d
}

func TestOptimizationStateMachine(t *testing.T) {
	ctx := context.Background()
	rt := openTest(t, nil)
	x := executions(t, rt)
	req := optimizationRequest(t, writeCSV(t, t.TempDir(), "syn.csv", synthetic.TwoClassCSV(300, 21)), 5, 2)
	spec, err := optimizationjob.SpecFromRequest(req)
	require.NoError(t, err)
	assert.Equal(t, []any{"4", "8-4"}, spec.Space.Dimensions[1].Choices)
	st := rt.OptimizationStores()
	require.NoError(t, optimization.CreateStudy(ctx, st, "hpo-sm", "syn", spec))

	d := runStudy(t, x, "hpo-sm", 2)
	require.Equal(t, pipeline.StatusSucceeded, d.Status, d.Cause)
	var fin optimization.FinalizeOutput
	require.NoError(t, json.Unmarshal(d.Output, &fin))
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
	stored, err := rt.DB.ListTrials(ctx, "hpo-sm")
	require.NoError(t, err)
	for _, tr := range stored {
		assert.True(t, strings.HasPrefix(tr.Worker, "local:"), "trials are claimed under this process's id: %q", tr.Worker)
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
	x := executions(t, rt)
	req := optimizationRequest(t, writeCSV(t, t.TempDir(), "syn.csv", synthetic.TwoClassCSV(100, 22)), 2, 1)
	spec, err := optimizationjob.SpecFromRequest(req)
	require.NoError(t, err)
	spec.Base.TargetColumn = "no_such_column"
	require.NoError(t, optimization.CreateStudy(ctx, rt.OptimizationStores(), "hpo-bad", "", spec))
	d := runStudy(t, x, "hpo-bad", 1)
	assert.Equal(t, pipeline.StatusFailed, d.Status)
	assert.Contains(t, d.Cause, "no_such_column")
	res, err := optimization.Results(ctx, rt.OptimizationStores(), "hpo-bad")
	require.NoError(t, err)
	assert.Equal(t, store.Failed, res.Status)
	// A target that is not a column is bad input (dataset.ErrMissingColumn).
	assert.True(t, strings.HasPrefix(res.Error, fault.Invalid.Name()+": "), res.Error)

	d = runStudy(t, x, "hpo-missing", 1)
	assert.Equal(t, pipeline.StatusFailed, d.Status, "an unknown study fails the execution")
}

// longStudy starts a study whose trials train long enough to be caught
// running, and waits until its first trial has reported an epoch.
func longStudy(t *testing.T, rt *Runtime, x *localexec.Executions) string {
	t.Helper()
	ctx := t.Context()
	req := optimizationRequest(t, writeCSV(t, t.TempDir(), "syn.csv", synthetic.TwoClassCSV(300, 23)), 3, 1)
	req.BaseConfig.Epochs = 400
	off := false
	req.BaseConfig.EarlyStop.Enabled = &off
	req.Pruner = "none"
	studies := rt.Service(x, api.DataRoots{}).Optimizations
	acc, err := studies.StartOptimization(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, optimizationjob.ResultsURL(acc.JobID), acc.StatusURL)
	require.Eventually(t, func() bool {
		ts, err := rt.DB.ListTrials(ctx, acc.JobID)
		return err == nil && len(ts) > 0 && len(ts[0].Intermediate) > 2
	}, time.Minute, 5*time.Millisecond, "a trial reports")
	return acc.JobID
}

func TestStoppingAStudyMarksItCancelled(t *testing.T) {
	rt := openTest(t, nil)
	x := executions(t, rt)
	id := longStudy(t, rt, x)
	require.NoError(t, pipeline.Flows{Executions: x}.StopStudy(t.Context(), id, "stopped by the test"))
	d, err := x.Wait(t.Context(), pipeline.MachineOptimization, id)
	require.NoError(t, err)
	assert.Equal(t, pipeline.StatusAborted, d.Status)
	res, err := optimization.Results(t.Context(), rt.OptimizationStores(), id)
	require.NoError(t, err)
	assert.Equal(t, store.Failed, res.Status)
	assert.Contains(t, res.Error, "Cancelled")
}

func TestAnInterruptedStudyResumesItsRunningTrial(t *testing.T) {
	rt := openTest(t, nil)
	first, err := rt.Executions(ExecutionOptions{})
	require.NoError(t, err)
	id := longStudy(t, rt, first)
	require.NoError(t, first.Close(t.Context()), "a shutdown interrupts the study")
	ts, err := rt.DB.ListTrials(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, store.TrialRunning, ts[0].State, "the interrupted trial stays RUNNING, its lease held")
	reported := len(ts[0].Intermediate)

	next := executions(t, rt)
	resumed, err := next.Resume(t.Context())
	require.NoError(t, err)
	require.Len(t, resumed, 1)
	d, err := next.Wait(t.Context(), pipeline.MachineOptimization, id)
	require.NoError(t, err)
	require.Equal(t, pipeline.StatusSucceeded, d.Status, d.Cause)
	res, err := optimization.Results(t.Context(), rt.OptimizationStores(), id)
	require.NoError(t, err)
	require.Len(t, res.Trials, 3, "the study ends with the trials it was asked for")
	assert.Equal(t, 2, res.Trials[0].Attempts, "the interrupted trial is claimed again at once, not after its lease")
	assert.GreaterOrEqual(t, len(res.Trials[0].Intermediate), reported)
	for _, tr := range res.Trials {
		assert.Equal(t, store.TrialComplete, tr.State)
	}
}
