package evaluationjob_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/embedded"
	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store"
)

// trainedModel opens an embedded runtime (SQLite and a directory: the
// stores the service is given) and trains a small model on a synthetic
// file.
func trainedModel(t *testing.T) (*embedded.Runtime, string) {
	t.Helper()
	rt, ids := trainedModels(t, 1)
	return rt, ids[0]
}

// trainedModels is trainedModel with n models of 4, 6, 8... hidden units,
// trained on the same file with the same split: a comparison scores their
// common test split.
func trainedModels(t *testing.T, n int) (*embedded.Runtime, []string) {
	t.Helper()
	rt, err := embedded.Open(t.Context(), filepath.Join(t.TempDir(), "home"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	r := rand.New(rand.NewPCG(5, 1))
	var b strings.Builder
	b.WriteString("a,b,label\n")
	for range 300 {
		a, bb := r.Float64(), r.Float64()
		label := "star"
		if a+bb+0.1*r.NormFloat64() > 1.3 {
			label = "pulsar"
		}
		fmt.Fprintf(&b, "%.6f,%.6f,%s\n", a, bb, label)
	}
	data := filepath.Join(t.TempDir(), "syn.csv")
	require.NoError(t, os.WriteFile(data, []byte(b.String()), 0o644))
	var ids []string
	for i := range n {
		cfg := training.TrainingConfig{DatasetPath: data, TargetColumn: "label", PositiveClass: "pulsar",
			Epochs: 3, HiddenLayers: []int{4 + 2*i}, BatchSize: 32, LearningRate: 0.01}
		res, err := pipeline.RunTraining(t.Context(), rt.Pipeline, cfg)
		require.NoError(t, err)
		ids = append(ids, res.ModelID)
	}
	return rt, ids
}

// TestStepRefuses: the steps' own refusals, with the names a state machine
// sees.
func TestStepRefuses(t *testing.T) {
	ctx := t.Context()
	rt, modelID := trainedModel(t)
	svc := rt.EvaluationService()
	training0, err := rt.DB.ListJobs(ctx, 1)
	require.NoError(t, err)
	require.Len(t, training0, 1)

	for _, tc := range []struct {
		name string
		req  evaluationjob.Request
		want string
	}{
		{"no job id", evaluationjob.Request{}, fault.Invalid.Name()},
		{"unknown step", evaluationjob.Request{JobID: "evj-1", Step: "deploy"}, fault.Invalid.Name()},
		{"unknown job", evaluationjob.Request{JobID: "evj-absent"}, fault.NotFound.Name()},
		{"a training job", evaluationjob.Request{JobID: training0[0].ID}, fault.Invalid.Name()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Step(ctx, tc.req)
			require.Error(t, err)
			assert.Equal(t, tc.want, fault.CodeOf(err).Name(), "%v", err)
		})
	}

	t.Run("model files missing from the artifact store", func(t *testing.T) {
		job, err := svc.Submit(ctx, evaluationjob.Config{EvaluateRequest: evaluation.EvaluateRequest{ModelID: modelID}})
		require.NoError(t, err)
		m, err := rt.DB.GetModel(ctx, modelID)
		require.NoError(t, err)
		require.NoError(t, rt.Artifacts.DeletePrefix(ctx, m.ArtifactKey))
		_, err = svc.Step(ctx, evaluationjob.Request{JobID: job.ID})
		require.Error(t, err)
		assert.Equal(t, fault.NotFound.Name(), fault.CodeOf(err).Name(), "%v", err)
		out, err := svc.Step(ctx, evaluationjob.Request{JobID: job.ID, Step: evaluationjob.StepMarkFailed,
			Failure: &fault.Failure{Error: fault.CodeOf(err).Name(), Cause: err.Error()}})
		require.NoError(t, err)
		assert.Equal(t, "FAILED", out.Status)
		got, err := rt.DB.GetJob(ctx, job.ID)
		require.NoError(t, err)
		assert.Equal(t, store.Failed, got.Status)
		assert.Contains(t, got.Error, modelID)
		keys, err := rt.Artifacts.List(ctx, "evaluations/")
		require.NoError(t, err)
		assert.Empty(t, keys, "nothing half-written")
	})
}
