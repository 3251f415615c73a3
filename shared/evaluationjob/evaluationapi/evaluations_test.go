package evaluationapi_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/embedded"
	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/evaluationjob/evaluationapi"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store"
)

// startFunc is an Executions that calls a function.
type startFunc func(ctx context.Context, jobID string) error

func (f startFunc) StartEvaluation(ctx context.Context, jobID string) error { return f(ctx, jobID) }

// trainedModel opens an embedded runtime (SQLite and a directory: the
// stores the service is given) and trains a small model on a synthetic
// file.
func trainedModel(t *testing.T) (*embedded.Runtime, string) {
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
	res, err := pipeline.RunTraining(t.Context(), rt.Pipeline, training.TrainingConfig{DatasetPath: data, TargetColumn: "label", PositiveClass: "pulsar",
		Epochs: 3, HiddenLayers: []int{4}, BatchSize: 32, LearningRate: 0.01})
	require.NoError(t, err)
	return rt, res.ModelID
}

func TestJobKindIsTheAPIs(t *testing.T) {
	assert.Equal(t, api.JobKindEvaluation, evaluationjob.JobKind)
}

// TestEvaluationsStartsTheStoredJob: the job is stored QUEUED before its
// execution starts, the execution is started with its id, and an
// execution that cannot start leaves the job FAILED with the reason and
// answers api.ErrUnavailable (503). A refused request stores nothing and
// starts nothing.
func TestEvaluationsStartsTheStoredJob(t *testing.T) {
	ctx := t.Context()
	rt, modelID := trainedModel(t)
	svc := rt.EvaluationService()
	var started []string
	var startErr error
	evals := &evaluationapi.Evaluations{Service: svc, Executions: startFunc(func(ctx context.Context, jobID string) error {
		job, err := svc.Jobs.GetJob(ctx, jobID)
		require.NoError(t, err, "the job exists before its execution starts")
		assert.Equal(t, store.Queued, job.Status)
		started = append(started, jobID)
		return startErr
	})}

	acc, err := evals.Evaluate(ctx, api.EvaluationRequest{ModelID: modelID})
	require.NoError(t, err)
	assert.Equal(t, []string{acc.JobID}, started)
	assert.Equal(t, api.EvaluationStatusURL(acc.JobID), acc.StatusURL)
	assert.Equal(t, store.Queued, acc.Status)

	_, err = evals.Evaluate(ctx, api.EvaluationRequest{ModelID: "mdl-absent"})
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.Len(t, started, 1, "nothing started for a refused request")

	startErr = errors.New("ThrottlingException: slow down")
	_, err = evals.Evaluate(ctx, api.EvaluationRequest{ModelID: modelID})
	require.ErrorIs(t, err, api.ErrUnavailable)
	require.Len(t, started, 2)
	job, err := svc.Jobs.GetJob(ctx, started[1])
	require.NoError(t, err)
	assert.Equal(t, store.Failed, job.Status)
	assert.Contains(t, job.Error, "slow down")

	// The job that did start runs to the end through the service's steps.
	out, err := svc.Step(ctx, evaluationjob.Request{JobID: acc.JobID})
	require.NoError(t, err)
	assert.Equal(t, "SUCCEEDED", out.Status)
	latest, err := evals.EvaluationMetrics(ctx, modelID)
	require.NoError(t, err)
	assert.Contains(t, string(latest), out.EvaluationID)
}
