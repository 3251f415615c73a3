package pipeline_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/embedded"
	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
	"github.com/orrery-ml/orrery/shared/store"
)

func TestEvaluationDefinition(t *testing.T) {
	def, err := pipeline.Evaluation(pipeline.EvaluationPlaceholders())
	require.NoError(t, err)
	body, err := def.JSON()
	require.NoError(t, err)
	text := string(body)
	for _, want := range []string{"${StagesFunctionArn}", `"JitterStrategy": "FULL"`, `"States.ALL"`, `"Lambda.ServiceException"`,
		`"job_id.$": "$.job_id"`, `"step": "mark_failed"`, `"error.$": "$.error"`, pipeline.ErrorEvaluationFailed} {
		assert.Contains(t, text, want)
	}
	parsed, err := asl.Parse(body)
	require.NoError(t, err, "what ships parses back")
	again, err := parsed.JSON()
	require.NoError(t, err)
	assert.JSONEq(t, text, string(again))
	assert.Equal(t, pipeline.StateEvaluate, def.StartAt)
	ev := def.States[pipeline.StateEvaluate]
	require.Len(t, ev.Catch, 1)
	assert.Equal(t, []string{asl.ErrorAll}, ev.Catch[0].ErrorEquals)
	assert.Equal(t, pipeline.StateMarkFailed, ev.Catch[0].Next)
	assert.Equal(t, 900, ev.TimeoutSeconds, "a Lambda runs 15 minutes at most")
	for _, name := range []string{pipeline.StateEvaluate, pipeline.StateMarkFailed} {
		st := def.States[name]
		require.NotEmpty(t, st.Retry, name)
		assert.Equal(t, "FULL", st.Retry[0].JitterStrategy, name)
		assert.Positive(t, st.Retry[0].BackoffRate, name)
	}
	assert.Equal(t, pipeline.StateFailed, def.States[pipeline.StateMarkFailed].Next)
	assert.Empty(t, def.States[pipeline.StateMarkFailed].Catch, "MarkFailed's own failure fails the execution")

	for name, r := range map[string]pipeline.EvaluationResources{
		"no stages function": {},
		"not an arn":         {StagesFunction: "stages"},
		"negative timeout":   {StagesFunction: "arn:f", TimeoutSeconds: -1},
	} {
		_, err := pipeline.Evaluation(r)
		require.ErrorIs(t, err, pipeline.ErrResources, name)
	}
}

// evaluationEnv is an embedded runtime with a trained model and the
// evaluation machine bound to its evaluation service.
type evaluationEnv struct {
	rt      *embedded.Runtime
	svc     *evaluationjob.Service
	modelID string
	def     asl.Definition
	exec    asl.Executor
}

func newEvaluationEnv(t *testing.T) *evaluationEnv {
	t.Helper()
	rt, err := embedded.Open(t.Context(), filepath.Join(t.TempDir(), "home"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	trained, err := pipeline.RunTraining(t.Context(), rt.Pipeline, quickConfig(syntheticCSV(t, 400, 3)))
	require.NoError(t, err)
	res := pipeline.LocalEvaluationResources()
	def, err := pipeline.Evaluation(res)
	require.NoError(t, err)
	svc := rt.EvaluationService()
	return &evaluationEnv{rt: rt, svc: svc, modelID: trained.ModelID, def: def,
		exec: asl.Executor{Resources: pipeline.EvaluationHandlers(res, svc)}}
}

func (e *evaluationEnv) run(t *testing.T, req evaluation.EvaluateRequest) (store.Job, json.RawMessage, error) {
	t.Helper()
	job, err := e.svc.Submit(t.Context(), evaluationjob.Config{EvaluateRequest: req})
	require.NoError(t, err)
	out, err := e.exec.Execute(t.Context(), e.def, asl.Execution{Name: job.ID, StateMachine: "evaluation",
		Input: pipeline.EvaluationInput{JobID: job.ID}.JSON()})
	got, gerr := e.rt.DB.GetJob(t.Context(), job.ID)
	require.NoError(t, gerr)
	return got, out, err
}

func TestEvaluationStateMachineRunsTheJob(t *testing.T) {
	env := newEvaluationEnv(t)
	var entered []string
	env.exec.Observer = func(e asl.StateEvent) {
		if e.Phase == "entered" {
			entered = append(entered, e.State)
		}
	}

	job, out, err := env.run(t, evaluation.EvaluateRequest{ModelID: env.modelID, BootstrapResamples: 100})
	require.NoError(t, err)
	assert.Equal(t, []string{pipeline.StateEvaluate, pipeline.StateSucceeded}, entered)
	require.Equal(t, store.Succeeded, job.Status, job.Error)
	assert.Equal(t, 1, job.Attempts)
	var o evaluationjob.Output
	require.NoError(t, json.Unmarshal(out, &o))
	assert.Equal(t, job.ID, o.JobID)
	assert.Equal(t, env.modelID, o.ModelID)
	assert.NotEmpty(t, o.EvaluationID)
	var res evaluationjob.Result
	require.NoError(t, json.Unmarshal(job.Result, &res))
	latest, err := env.svc.EvaluationMetrics(t.Context(), env.modelID)
	require.NoError(t, err)
	assert.JSONEq(t, string(res.Evaluation), string(latest), "the job's result is the stored latest evaluation")
	var ev map[string]any
	require.NoError(t, json.Unmarshal(latest, &ev))
	assert.Equal(t, o.EvaluationID, ev["evaluation_id"])

	t.Run("a failed evaluation is caught and marks the job FAILED", func(t *testing.T) {
		entered = nil
		job, _, err := env.run(t, evaluation.EvaluateRequest{ModelID: env.modelID, DatasetPath: syntheticCSV(t, 100, 4), TargetColumn: "nope"})
		var pe *asl.Error
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, pipeline.ErrorEvaluationFailed, pe.Name)
		assert.Contains(t, pe.Cause, "nope")
		assert.Equal(t, []string{pipeline.StateEvaluate, pipeline.StateMarkFailed, pipeline.StateFailed}, entered)
		assert.Equal(t, store.Failed, job.Status)
		assert.Contains(t, job.Error, "nope", "the job says why")
	})

	t.Run("Lambda service errors are retried with backoff", func(t *testing.T) {
		var calls atomic.Int32
		var waits []time.Duration
		x := env.exec
		bound := x.Resources[pipeline.LocalEvaluationResources().StagesFunction]
		x.Resources = map[string]asl.Handler{pipeline.LocalEvaluationResources().StagesFunction: func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
			if calls.Add(1) <= 2 {
				return nil, &asl.Error{Name: "Lambda.ServiceException", Cause: "throttled by the test"}
			}
			return bound(ctx, raw)
		}}
		x.Sleep = func(_ context.Context, d time.Duration) error {
			waits = append(waits, d)
			return nil
		}
		x.Observer = nil
		job, err := env.svc.Submit(t.Context(), evaluationjob.Config{EvaluateRequest: evaluation.EvaluateRequest{ModelID: env.modelID, BootstrapResamples: 100}})
		require.NoError(t, err)
		_, err = x.Execute(t.Context(), env.def, asl.Execution{Name: job.ID, Input: pipeline.EvaluationInput{JobID: job.ID}.JSON()})
		require.NoError(t, err)
		assert.EqualValues(t, 3, calls.Load())
		require.Len(t, waits, 2)
		for i, w := range waits {
			// Full jitter: anywhere from 0 to 2 s · 2^i.
			assert.LessOrEqual(t, w, time.Duration(2<<i)*time.Second, "wait %d", i)
		}
		got, err := env.rt.DB.GetJob(t.Context(), job.ID)
		require.NoError(t, err)
		assert.Equal(t, store.Succeeded, got.Status)
	})

	t.Run("a finished job is not run again, and MarkFailed leaves it as it is", func(t *testing.T) {
		_, err := env.exec.Execute(t.Context(), env.def, asl.Execution{Input: pipeline.EvaluationInput{JobID: job.ID}.JSON()})
		var pe *asl.Error
		require.ErrorAs(t, err, &pe)
		assert.Contains(t, pe.Cause, "already SUCCEEDED")
		got, err := env.rt.DB.GetJob(t.Context(), job.ID)
		require.NoError(t, err)
		assert.Equal(t, store.Succeeded, got.Status, "a late failure never moves a finished job")
		assert.Equal(t, job.Result, got.Result)
	})

	t.Run("an unknown job fails the execution as NotFound", func(t *testing.T) {
		// Evaluate fails, and so does MarkFailed: there is no job to mark.
		_, err := env.exec.Execute(t.Context(), env.def, asl.Execution{Input: pipeline.EvaluationInput{JobID: "evj-absent"}.JSON()})
		var pe *asl.Error
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, fault.NotFound.Name(), pe.Name)
		assert.Contains(t, pe.Cause, "evj-absent")
	})
}
