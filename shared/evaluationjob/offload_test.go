package evaluationjob_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/store"
)

// TestPlanSortsLightFromHeavy applies the Offload rule to jobs of the
// 300-row model: by the number of fits, by rows × fits, and never for an
// evaluation without cross-validation.
func TestPlanSortsLightFromHeavy(t *testing.T) {
	ctx := t.Context()
	rt, modelID := trainedModel(t)
	for _, tc := range []struct {
		name    string
		offload evaluationjob.Offload
		req     evaluation.EvaluateRequest
		heavy   bool
		reason  string
	}{
		{"no cross-validation", evaluationjob.Offload{Fits: 1}, evaluation.EvaluateRequest{BootstrapResamples: 5000}, false, "no cross-validation"},
		{"few fits, few rows", evaluationjob.Offload{}, evaluation.EvaluateRequest{CVFolds: 5}, false, "is light"},
		{"10 folds of few rows", evaluationjob.Offload{}, evaluation.EvaluateRequest{CVFolds: 10}, false, "300 rows × 10 fits is light"},
		{"fits at the bound", evaluationjob.Offload{}, evaluation.EvaluateRequest{CVFolds: 5, CVStrategy: evaluation.CVRepeatedStratified, CVRepeats: 5},
			true, "25 model fits, at least 25"},
		{"repeats count", evaluationjob.Offload{Fits: 6}, evaluation.EvaluateRequest{CVFolds: 3, CVStrategy: evaluation.CVRepeatedStratified, CVRepeats: 2},
			true, "6 model fits"},
		{"rows × fits above the bound", evaluationjob.Offload{Fits: -1, RowFits: 899}, evaluation.EvaluateRequest{CVFolds: 3}, true, "300 rows × 3 fits is above 899"},
		{"rows × fits at the bound", evaluationjob.Offload{Fits: -1, RowFits: 900}, evaluation.EvaluateRequest{CVFolds: 3}, false, "is light"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := rt.EvaluationService()
			svc.Offload = tc.offload
			tc.req.ModelID = modelID
			job, err := svc.Submit(ctx, evaluationjob.Config{EvaluateRequest: tc.req})
			require.NoError(t, err)
			out, err := svc.Step(ctx, evaluationjob.Request{JobID: job.ID, Step: evaluationjob.StepPlan})
			require.NoError(t, err)
			assert.Equal(t, tc.heavy, out.Heavy)
			assert.Contains(t, out.Reason, tc.reason)
			got, err := rt.DB.GetJob(ctx, job.ID)
			require.NoError(t, err)
			if !tc.heavy {
				assert.Empty(t, out.Folds)
				assert.Equal(t, store.Queued, got.Status, "a light job is left for the evaluate step")
				return
			}
			assert.Len(t, out.Folds, max(tc.req.CVFolds*max(tc.req.CVRepeats, 1), 0), "one fold job per fit")
			for i, f := range out.Folds {
				assert.Equal(t, i, f)
			}
			assert.Equal(t, store.Running, got.Status)
			assert.Equal(t, evaluationjob.StageCrossValidate, got.Stage)
			assert.Equal(t, 1, got.Attempts)
		})
	}
}

// TestHeavyStepsRefuse: what the plan, fold and reduce steps refuse.
func TestHeavyStepsRefuse(t *testing.T) {
	ctx := t.Context()
	rt, modelID := trainedModel(t)
	svc := rt.EvaluationService()
	svc.Offload = evaluationjob.Offload{Fits: 2}

	t.Run("a split the data cannot give fails the plan", func(t *testing.T) {
		job, err := svc.Submit(ctx, evaluationjob.Config{EvaluateRequest: evaluation.EvaluateRequest{ModelID: modelID, CVFolds: 299}})
		require.NoError(t, err)
		_, err = svc.Plan(ctx, job.ID)
		require.ErrorIs(t, err, evaluation.ErrSplit)
		got, err := rt.DB.GetJob(ctx, job.ID)
		require.NoError(t, err)
		assert.Equal(t, store.Queued, got.Status, "nothing started")
	})

	job, err := svc.Submit(ctx, evaluationjob.Config{EvaluateRequest: evaluation.EvaluateRequest{ModelID: modelID, CVFolds: 3}})
	require.NoError(t, err)
	t.Run("reduce before plan", func(t *testing.T) {
		_, err := svc.Reduce(ctx, job.ID)
		require.ErrorIs(t, err, store.ErrConflict)
	})
	plan, err := svc.Plan(ctx, job.ID)
	require.NoError(t, err)
	require.True(t, plan.Heavy)
	t.Run("a fold outside the split", func(t *testing.T) {
		_, err := svc.RunFold(ctx, evaluationjob.FoldTask{JobID: job.ID, Fold: 3})
		require.ErrorIs(t, err, evaluationjob.ErrInvalidJob)
	})
	t.Run("reduce with a fold missing names it", func(t *testing.T) {
		_, err := svc.RunFold(ctx, evaluationjob.FoldTask{JobID: job.ID, Fold: 0})
		require.NoError(t, err)
		_, err = svc.Reduce(ctx, job.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		assert.ErrorContains(t, err, "fold 1")
	})
	t.Run("mark_failed removes the outcomes", func(t *testing.T) {
		keys, err := rt.Artifacts.List(ctx, "evaluation-jobs/"+job.ID)
		require.NoError(t, err)
		require.NotEmpty(t, keys)
		_, err = svc.Step(ctx, evaluationjob.Request{JobID: job.ID, Step: evaluationjob.StepMarkFailed})
		require.NoError(t, err)
		keys, err = rt.Artifacts.List(ctx, "evaluation-jobs/"+job.ID)
		require.NoError(t, err)
		assert.Empty(t, keys)
	})
	t.Run("a finished job has no folds to run and is not planned again", func(t *testing.T) {
		_, err := svc.RunFold(ctx, evaluationjob.FoldTask{JobID: job.ID, Fold: 1})
		require.ErrorIs(t, err, store.ErrConflict)
		_, err = svc.Plan(ctx, job.ID)
		require.ErrorIs(t, err, store.ErrConflict)
	})
}

// TestHeavyBootstrapRunsAsShards: a bootstrap of many resamples × rows is
// heavy even without cross-validation; Plan cuts its replicates into
// ranges (with a cross-validation, after the folds), each range runs as a
// fold task, and Reduce combines them into exactly the intervals the light
// evaluate step computes. A missing range is named; the outcomes are
// removed once the job has succeeded.
func TestHeavyBootstrapRunsAsShards(t *testing.T) {
	ctx := t.Context()
	rt, modelID := trainedModel(t)
	intervals := func(jobID string) string {
		got, err := rt.DB.GetJob(ctx, jobID)
		require.NoError(t, err)
		require.Equal(t, store.Succeeded, got.Status, got.Error)
		var res evaluationjob.Result
		require.NoError(t, json.Unmarshal(got.Result, &res))
		var ev evaluation.EvaluationResult
		require.NoError(t, json.Unmarshal(res.Evaluation, &ev))
		require.NotEmpty(t, ev.ConfidenceIntervals)
		return fmt.Sprint(ev.ConfidenceIntervals) // NaN-safe comparison
	}
	for _, tc := range []struct {
		name  string
		req   evaluation.EvaluateRequest
		folds int
		stage string
	}{
		{"no cross-validation", evaluation.EvaluateRequest{ModelID: modelID, BootstrapResamples: 150, Seed: 4}, 0, evaluationjob.StageBootstrap},
		{"with a light cross-validation", evaluation.EvaluateRequest{ModelID: modelID, BootstrapResamples: 150, Seed: 4, CVFolds: 3}, 3, evaluationjob.StageCrossValidate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			light := rt.EvaluationService()
			lightJob, err := light.Submit(ctx, evaluationjob.Config{EvaluateRequest: tc.req})
			require.NoError(t, err)
			plan, err := light.Plan(ctx, lightJob.ID)
			require.NoError(t, err)
			require.False(t, plan.Heavy, plan.Reason)
			assert.Contains(t, plan.Reason, "bootstrap: 150 resamples")
			_, err = light.Run(ctx, lightJob.ID)
			require.NoError(t, err)

			heavy := rt.EvaluationService()
			// 150 resamples × the test rows (tens of them), 3000 of that
			// work per shard: a few shards, 2 at least.
			heavy.Offload = evaluationjob.Offload{ResampleRows: 3000}
			job, err := heavy.Submit(ctx, evaluationjob.Config{EvaluateRequest: tc.req})
			require.NoError(t, err)
			plan, err = heavy.Plan(ctx, job.ID)
			require.NoError(t, err)
			require.True(t, plan.Heavy, plan.Reason)
			assert.Contains(t, plan.Reason, "bootstrap: 150 resamples")
			assert.Len(t, plan.Folds, tc.folds)
			require.Greater(t, len(plan.Tasks), tc.folds+1)
			assert.LessOrEqual(t, len(plan.Tasks), tc.folds+evaluationjob.MaxBootstrapShards)
			next := 0
			for i, task := range plan.Tasks {
				assert.Equal(t, job.ID, task.JobID)
				if i < tc.folds {
					assert.Equal(t, evaluationjob.FoldTask{JobID: job.ID, Fold: i, Name: fmt.Sprintf("fold-%d", i)}, task)
					continue
				}
				require.NotNil(t, task.Bootstrap, "task %d", i)
				assert.Equal(t, fmt.Sprintf("bootstrap-%d", i-tc.folds), task.Name)
				assert.Equal(t, next, task.Bootstrap.From, "the ranges follow each other")
				assert.Greater(t, task.Bootstrap.To, task.Bootstrap.From)
				next = task.Bootstrap.To
			}
			assert.Equal(t, 150, next, "the ranges cover every replicate")
			got, err := rt.DB.GetJob(ctx, job.ID)
			require.NoError(t, err)
			assert.Equal(t, tc.stage, got.Stage)

			last := plan.Tasks[len(plan.Tasks)-1]
			for _, task := range plan.Tasks[:len(plan.Tasks)-1] {
				out, err := heavy.RunFold(ctx, task)
				require.NoError(t, err, task.Name)
				assert.Equal(t, task.Name, out.Name)
			}
			_, err = heavy.Reduce(ctx, job.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
			assert.ErrorContains(t, err, fmt.Sprintf("bootstrap shard %d", last.Bootstrap.Shard))
			_, err = heavy.RunFold(ctx, last)
			require.NoError(t, err)
			_, err = heavy.Reduce(ctx, job.ID)
			require.NoError(t, err)
			assert.Equal(t, intervals(lightJob.ID), intervals(job.ID), "the shards' intervals are the evaluate step's")
			keys, err := rt.Artifacts.List(ctx, "evaluation-jobs/"+job.ID)
			require.NoError(t, err)
			assert.Empty(t, keys, "the outcomes are removed")
		})
	}
	t.Run("a range outside the bootstrap", func(t *testing.T) {
		svc := rt.EvaluationService()
		job, err := svc.Submit(ctx, evaluationjob.Config{EvaluateRequest: evaluation.EvaluateRequest{ModelID: modelID, BootstrapResamples: 150}})
		require.NoError(t, err)
		_, err = rt.DB.UpdateJob(ctx, job.ID, store.JobUpdate{Status: store.Running})
		require.NoError(t, err)
		for _, sh := range []evaluationjob.BootstrapShard{{Shard: 0, From: 100, To: 151}, {Shard: 0, From: 3, To: 3}, {Shard: -1, From: 0, To: 1}} {
			_, err = svc.RunFold(ctx, evaluationjob.FoldTask{JobID: job.ID, Name: "bootstrap-0", Bootstrap: &sh})
			assert.ErrorIs(t, err, evaluationjob.ErrInvalidJob, "%+v", sh)
		}
	})
}

// TestHeavyComparisonRunsAsShards: the paired bootstrap of compare_to
// (champion against challenger) is heavy when its resamples × the frozen
// rows × the models exceed ResampleRows — even when the evaluation's own
// bootstrap is light — and runs as comparison shards after the folds and
// the evaluation's bootstrap shards; Reduce combines them into exactly
// the comparison the light evaluate step records, bit for bit (the JSON
// of every float is its shortest exact form). A missing shard is named.
func TestHeavyComparisonRunsAsShards(t *testing.T) {
	ctx := t.Context()
	rt, ids := trainedModels(t, 2)
	champion, challenger := ids[0], ids[1]
	type recorded struct {
		Evaluation json.RawMessage `json:"evaluation"`
		Comparison json.RawMessage `json:"comparison"`
	}
	result := func(jobID string) (recorded, evaluation.EvaluationResult, evaluation.ComparisonResult) {
		got, err := rt.DB.GetJob(ctx, jobID)
		require.NoError(t, err)
		require.Equal(t, store.Succeeded, got.Status, got.Error)
		var res recorded
		require.NoError(t, json.Unmarshal(got.Result, &res))
		var ev evaluation.EvaluationResult
		require.NoError(t, json.Unmarshal(res.Evaluation, &ev))
		var cmp evaluation.ComparisonResult
		require.NoError(t, json.Unmarshal(res.Comparison, &cmp))
		return res, ev, cmp
	}
	base := evaluation.EvaluateRequest{ModelID: champion, BootstrapResamples: 150, Seed: 4}
	cfg := evaluationjob.Config{EvaluateRequest: base, CompareTo: []string{challenger}}

	light := rt.EvaluationService()
	lightJob, err := light.Submit(ctx, cfg)
	require.NoError(t, err)
	plan, err := light.Plan(ctx, lightJob.ID)
	require.NoError(t, err)
	require.False(t, plan.Heavy, plan.Reason)
	assert.Contains(t, plan.Reason, "compare: 150 resamples")
	assert.Contains(t, plan.Reason, "× 2 models is light")
	_, err = light.Run(ctx, lightJob.ID)
	require.NoError(t, err)
	want, wantEval, wantCmp := result(lightJob.ID)
	rows := int64(wantCmp.Rows)
	require.Positive(t, rows)
	require.Len(t, wantCmp.Tests, 4)

	for _, tc := range []struct {
		name  string
		cfg   evaluationjob.Config
		bound int64
		// folds and bootstrap shards before the comparison's; the stage.
		folds, boot bool
		stage       string
	}{
		// The evaluation's bootstrap (150 × rows) fits the bound, the
		// comparison's (150 × rows × 2) does not: two shards.
		{"only the comparison", cfg, 300*rows - 1, false, false, evaluationjob.StageCompare},
		{"with folds and the evaluation's bootstrap",
			evaluationjob.Config{EvaluateRequest: func() evaluation.EvaluateRequest { r := base; r.CVFolds = 3; return r }(), CompareTo: []string{challenger}},
			40 * rows, true, true, evaluationjob.StageCrossValidate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			heavy := rt.EvaluationService()
			heavy.Offload = evaluationjob.Offload{ResampleRows: tc.bound}
			job, err := heavy.Submit(ctx, tc.cfg)
			require.NoError(t, err)
			plan, err := heavy.Plan(ctx, job.ID)
			require.NoError(t, err)
			require.True(t, plan.Heavy, plan.Reason)
			assert.Contains(t, plan.Reason, fmt.Sprintf("compare: 150 resamples × %d rows × 2 models is above %d", rows, tc.bound))
			var compare []evaluationjob.FoldTask
			var kinds []string
			for _, task := range plan.Tasks {
				assert.Equal(t, job.ID, task.JobID)
				kind := "fold"
				switch {
				case task.Bootstrap != nil:
					kind = "bootstrap"
				case task.Compare != nil:
					kind = "compare"
					assert.Equal(t, fmt.Sprintf("compare-%d", len(compare)), task.Name)
					compare = append(compare, task)
				}
				if len(kinds) == 0 || kinds[len(kinds)-1] != kind {
					kinds = append(kinds, kind)
				}
			}
			wantKinds := []string{"compare"}
			if tc.boot {
				wantKinds = []string{"fold", "bootstrap", "compare"}
			}
			assert.Equal(t, wantKinds, kinds, "folds, then the evaluation's shards, then the comparison's")
			require.GreaterOrEqual(t, len(compare), 2)
			if !tc.boot {
				assert.Len(t, compare, 2, "twice the bound's work, less one: two shards")
			}
			next := 0
			for _, task := range compare {
				assert.Equal(t, next, task.Compare.From, "the ranges follow each other")
				next = task.Compare.To
			}
			assert.Equal(t, 150, next, "the ranges cover every replicate")
			got, err := rt.DB.GetJob(ctx, job.ID)
			require.NoError(t, err)
			assert.Equal(t, tc.stage, got.Stage)

			last := plan.Tasks[len(plan.Tasks)-1]
			for _, task := range plan.Tasks[:len(plan.Tasks)-1] {
				out, err := heavy.RunFold(ctx, task)
				require.NoError(t, err, task.Name)
				assert.Equal(t, task.Name, out.Name)
			}
			_, err = heavy.Reduce(ctx, job.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
			assert.ErrorContains(t, err, fmt.Sprintf("comparison shard %d", last.Compare.Shard))
			out, err := heavy.RunFold(ctx, last)
			require.NoError(t, err)
			assert.Contains(t, out.Key, "/compare/")
			_, err = heavy.Reduce(ctx, job.ID)
			require.NoError(t, err)
			res, ev, cmp := result(job.ID)
			assert.JSONEq(t, string(want.Comparison), string(res.Comparison), "the shards' comparison is the evaluate step's")
			assert.Equal(t, string(want.Comparison), string(res.Comparison), "byte for byte")
			assert.Equal(t, wantCmp.Ranking, cmp.Ranking)
			assert.Equal(t, fmt.Sprint(wantEval.ConfidenceIntervals), fmt.Sprint(ev.ConfidenceIntervals))
			keys, err := rt.Artifacts.List(ctx, "evaluation-jobs/"+job.ID)
			require.NoError(t, err)
			assert.Empty(t, keys, "the outcomes are removed")
		})
	}

	t.Run("refused", func(t *testing.T) {
		svc := rt.EvaluationService()
		with, err := svc.Submit(ctx, cfg)
		require.NoError(t, err)
		without, err := svc.Submit(ctx, evaluationjob.Config{EvaluateRequest: base})
		require.NoError(t, err)
		for _, id := range []string{with.ID, without.ID} {
			_, err = rt.DB.UpdateJob(ctx, id, store.JobUpdate{Status: store.Running})
			require.NoError(t, err)
		}
		for _, tc := range []struct {
			name string
			task evaluationjob.FoldTask
		}{
			{"a range outside the replicates", evaluationjob.FoldTask{JobID: with.ID, Name: "compare-0", Compare: &evaluationjob.BootstrapShard{From: 100, To: 151}}},
			{"an empty range", evaluationjob.FoldTask{JobID: with.ID, Name: "compare-0", Compare: &evaluationjob.BootstrapShard{From: 3, To: 3}}},
			{"both ranges", evaluationjob.FoldTask{JobID: with.ID, Name: "compare-0", Compare: &evaluationjob.BootstrapShard{To: 3},
				Bootstrap: &evaluationjob.BootstrapShard{To: 3}}},
			{"a job that compares with nothing", evaluationjob.FoldTask{JobID: without.ID, Name: "compare-0", Compare: &evaluationjob.BootstrapShard{To: 3}}},
		} {
			_, err := svc.RunFold(ctx, tc.task)
			assert.ErrorIs(t, err, evaluationjob.ErrInvalidJob, tc.name)
		}
	})
}
