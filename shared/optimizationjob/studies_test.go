package optimizationjob_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
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
	"github.com/orrery-ml/orrery/shared/store/filestore"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
)

func request(t *testing.T, trials, parallel int) api.OptimizationRequest {
	t.Helper()
	body := fmt.Sprintf(`{"base_config": {"dataset_path": "s3://data/incoming/syn.csv", "target_column": "label",
	  "positive_class": "pulsar", "epochs": 4},
	 "search_space": [{"name": "learning_rate", "kind": "float", "low": 0.001, "high": 0.1, "log": true},
	                  {"name": "hidden_layers", "kind": "categorical", "choices": [[4], [8, 4]]}],
	 "strategy": "random", "budget": {"max_trials": %d, "max_parallel": %d}}`, trials, parallel)
	req, err := api.DecodeOptimizationRequest([]byte(body))
	require.NoError(t, err)
	return req
}

func TestSpecFromRequest(t *testing.T) {
	spec, err := optimizationjob.SpecFromRequest(request(t, 6, 3))
	require.NoError(t, err)
	assert.Equal(t, []any{"4", "8-4"}, spec.Space.Dimensions[1].Choices, "layer widths as categorical values")
	assert.Equal(t, 6, spec.Budget.Trials)
	assert.Equal(t, 3, spec.Parallel)
	assert.Equal(t, "s3://data/incoming/syn.csv", spec.Base.DatasetPath)

	req := request(t, 2, 1)
	req.SearchSpace[1].Choices = []any{"wide"}
	_, err = optimizationjob.SpecFromRequest(req)
	require.ErrorIs(t, err, optimization.ErrInvalidSpace)
	req = request(t, 2, 1)
	req.SearchSpace[1].Choices = []any{[]any{0.5}}
	_, err = optimizationjob.SpecFromRequest(req)
	require.ErrorIs(t, err, optimization.ErrInvalidSpace)
}

// executions records the studies started, or refuses them with err.
type executions struct {
	err     error
	started []pipeline.OptimizationInput
}

func (e *executions) StartStudy(_ context.Context, in pipeline.OptimizationInput) error {
	if e.err != nil {
		return e.err
	}
	e.started = append(e.started, in)
	return nil
}

func (e *executions) StopStudy(context.Context, string, string) error { return e.err }

func stores(t *testing.T) optimization.Stores {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlitestore.Open(t.Context(), filepath.Join(dir, "orrery.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	files, err := filestore.New(filepath.Join(dir, "artifacts"))
	require.NoError(t, err)
	return optimization.Stores{Studies: db, Trials: db, Artifacts: files}
}

// TestStudies: a start stores the RUNNING study and starts its execution
// named after it, with max_parallel from the budget; the results render
// the study (self link; the report link once Finalize wrote it); an
// execution that cannot start leaves the study FAILED and answers
// ErrUnavailable; a bad search space is a 400 and starts nothing.
func TestStudies(t *testing.T) {
	ctx := t.Context()
	st := stores(t)
	exec := &executions{}
	now := time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC)
	s := &optimizationjob.Studies{Stores: st, Executions: exec, Now: func() time.Time { return now }}

	acc, err := s.StartOptimization(ctx, request(t, 4, 2))
	require.NoError(t, err)
	assert.Equal(t, "optimization", acc.Kind)
	assert.Equal(t, store.Running, acc.Status)
	assert.Equal(t, optimizationjob.ResultsURL(acc.JobID), acc.StatusURL)
	assert.Equal(t, now, acc.CreatedAt)
	require.Equal(t, []pipeline.OptimizationInput{{StudyID: acc.JobID, MaxParallel: 2}}, exec.started)
	rec, err := st.Studies.GetStudy(ctx, acc.JobID)
	require.NoError(t, err)
	assert.Equal(t, store.Running, rec.Status)
	assert.Equal(t, "syn.csv", rec.Name, "named after the data file")

	raw, err := s.OptimizationResults(ctx, acc.JobID)
	require.NoError(t, err)
	var res optimizationjob.Result
	require.NoError(t, json.Unmarshal(raw, &res))
	assert.Equal(t, acc.JobID, res.StudyID)
	assert.Equal(t, store.Running, res.Status)
	assert.Empty(t, res.Trials)
	assert.Equal(t, map[string]string{"self": optimizationjob.ResultsURL(acc.JobID)}, res.Links)
	assert.Equal(t, 4, res.Spec.Budget.Trials)

	// The machine's steps run: one round, two trials, finalize.
	round, err := optimization.Suggest(ctx, st, optimization.SuggestInput{StudyID: acc.JobID})
	require.NoError(t, err)
	obj := optimization.ObjectiveFunc(func(_ context.Context, tr optimization.Trial, _ optimization.ReportFunc) (optimization.Outcome, error) {
		lr, _ := tr.Params.Float("learning_rate")
		return optimization.Outcome{Values: []float64{lr}}, nil
	})
	for _, n := range round.Trials {
		_, err := optimization.RunTrial(ctx, st, obj, optimization.TrialInput{StudyID: acc.JobID, Number: n})
		require.NoError(t, err)
	}
	_, err = optimization.Finalize(ctx, st, optimization.FinalizeInput{StudyID: acc.JobID, StopReason: optimization.StopTrials})
	require.NoError(t, err)
	raw, err = s.OptimizationResults(ctx, acc.JobID)
	require.NoError(t, err)
	res = optimizationjob.Result{}
	require.NoError(t, json.Unmarshal(raw, &res))
	assert.Equal(t, store.Succeeded, res.Status)
	assert.Len(t, res.Trials, 2)
	require.NotNil(t, res.BestTrial)
	assert.Equal(t, st.Artifacts.URI(optimization.ReportKey(acc.JobID)), res.Links["report"])

	_, err = s.OptimizationResults(ctx, "hpo-absent")
	require.ErrorIs(t, err, store.ErrNotFound)

	exec.err = errors.New("throttled")
	_, err = s.StartOptimization(ctx, request(t, 4, 2))
	require.ErrorIs(t, err, api.ErrUnavailable)
	all, err := st.Studies.ListStudies(ctx, 0)
	require.NoError(t, err)
	require.Len(t, all, 2)
	for _, study := range all {
		if study.ID != acc.JobID {
			assert.Equal(t, store.Failed, study.Status, "the study whose execution never started")
			raw, err := s.OptimizationResults(ctx, study.ID)
			require.NoError(t, err)
			var failed optimizationjob.Result
			require.NoError(t, json.Unmarshal(raw, &failed))
			assert.True(t, strings.HasPrefix(failed.Error, fault.Unavailable.Name()+": start study "+study.ID+": throttled"), failed.Error)
		}
	}

	exec.err = nil
	bad := request(t, 4, 2)
	bad.SearchSpace[1].Choices = []any{"wide"}
	_, err = s.StartOptimization(ctx, bad)
	var re *api.RequestError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "search_space", re.Fields[0].Field)
	assert.Len(t, exec.started, 1, "nothing started")
}
