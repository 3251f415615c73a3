package pipeline_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
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
	for _, want := range []string{"${StagesFunctionArn}", "${EvalJobQueueArn}", "${EvalJobDefinitionArn}", `"JitterStrategy": "FULL"`,
		`"States.ALL"`, `"Lambda.ServiceException"`, `"Batch.AWSBatchException"`, pipeline.BatchSubmitJobSync, pipeline.EnvEvaluationFold,
		`"job_id.$": "$.job_id"`, `"step": "mark_failed"`, `"step": "plan"`, `"step": "reduce"`, `"error.$": "$.error"`, pipeline.ErrorEvaluationFailed} {
		assert.Contains(t, text, want)
	}
	parsed, err := asl.Parse(body)
	require.NoError(t, err, "what ships parses back")
	again, err := parsed.JSON()
	require.NoError(t, err)
	assert.JSONEq(t, text, string(again))
	assert.Equal(t, pipeline.StatePlan, def.StartAt)
	for _, name := range []string{pipeline.StatePlan, pipeline.StateEvaluate, pipeline.StateRunFolds, pipeline.StateReduce} {
		ev := def.States[name]
		require.Len(t, ev.Catch, 1, name)
		assert.Equal(t, []string{asl.ErrorAll}, ev.Catch[0].ErrorEquals, name)
		assert.Equal(t, pipeline.StateMarkFailed, ev.Catch[0].Next, name)
	}
	for _, name := range []string{pipeline.StatePlan, pipeline.StateEvaluate, pipeline.StateReduce} {
		assert.Equal(t, 900, def.States[name].TimeoutSeconds, "%s: a Lambda runs 15 minutes at most", name)
	}
	// Plan -> IsHeavy: heavy to the Map of Batch fold jobs, else the one
	// evaluate step.
	assert.Equal(t, pipeline.StateIsHeavy, def.States[pipeline.StatePlan].Next)
	choice := def.States[pipeline.StateIsHeavy]
	assert.Equal(t, asl.TypeChoice, choice.Type)
	assert.Equal(t, pipeline.StateEvaluate, choice.Default)
	require.Len(t, choice.Choices, 1)
	assert.Equal(t, pipeline.StateRunFolds, choice.Choices[0].Next)
	folds := def.States[pipeline.StateRunFolds]
	assert.Equal(t, asl.TypeMap, folds.Type)
	assert.Equal(t, "$.plan.tasks", folds.ItemsPath)
	assert.Nil(t, folds.ItemSelector, "each item is an evaluationjob.FoldTask, its job id included")
	assert.Equal(t, 10, folds.MaxConcurrency)
	assert.Equal(t, pipeline.StateReduce, folds.Next)
	fold := folds.ItemProcessor.States[pipeline.StateRunFold]
	assert.Equal(t, pipeline.BatchSubmitJobSync, fold.Resource)
	params, ok := fold.Parameters.(map[string]any)
	require.True(t, ok)
	assert.Equal(t, "${EvalJobQueueArn}", params["JobQueue"])
	assert.Equal(t, pipeline.BatchJobRetryStrategy().Map(), params["RetryStrategy"])
	assert.Zero(t, fold.HeartbeatSeconds, "queue time must not count against a heartbeat (batch.go)")
	assert.Equal(t, 6*3600, fold.TimeoutSeconds)
	assert.NotContains(t, params, "Parameters", "no job_id parameter: the events function would take a fold job for a training job")
	assert.Equal(t, pipeline.StateSucceeded, def.States[pipeline.StateReduce].Next)
	for _, name := range []string{pipeline.StatePlan, pipeline.StateEvaluate, pipeline.StateReduce, pipeline.StateMarkFailed} {
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
		"negative timeout":   {StagesFunction: "arn:f", FoldJobQueue: "arn:q", FoldJobDefinition: "arn:d", TimeoutSeconds: -1},
		"no fold queue":      {StagesFunction: "arn:f", FoldJobDefinition: "arn:d"},
		"no fold definition": {StagesFunction: "arn:f", FoldJobQueue: "arn:q"},
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
	assert.Equal(t, []string{pipeline.StatePlan, pipeline.StateIsHeavy, pipeline.StateEvaluate, pipeline.StateSucceeded}, entered)
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
		// Plan reads the data and the model to size the job, so a request
		// they refuse fails there, before any evaluation or fold job runs.
		assert.Equal(t, []string{pipeline.StatePlan, pipeline.StateMarkFailed, pipeline.StateFailed}, entered)
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
		assert.EqualValues(t, 4, calls.Load(), "Plan twice (throttled), then Plan and Evaluate")
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

// volatile drops what differs between two runs of one evaluation: ids,
// times, timings and where the report went.
func volatile(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range []string{"evaluation_id", "created_at", "seconds", "workers", "report", "latency"} {
			delete(x, k)
		}
		for k, e := range x {
			x[k] = volatile(e)
		}
	case []any:
		for i, e := range x {
			x[i] = volatile(e)
		}
	}
	return v
}

// TestHeavyEvaluationFansOutFolds runs one 5-fold cross-validation through
// the light path (the evaluate step trains every fold) and through the
// heavy one (Plan -> a Map of RunFold Batch tasks, bound locally to the
// fold mode run in-process -> Reduce): the figures are the same.
func TestHeavyEvaluationFansOutFolds(t *testing.T) {
	env := newEvaluationEnv(t)
	req := evaluation.EvaluateRequest{ModelID: env.modelID, CVFolds: 5, BootstrapResamples: 100}
	figures := func(job store.Job) map[string]any {
		var res evaluationjob.Result
		require.NoError(t, json.Unmarshal(job.Result, &res))
		var ev map[string]any
		require.NoError(t, json.Unmarshal(res.Evaluation, &ev))
		require.Contains(t, ev, "cross_validation")
		return volatile(ev).(map[string]any)
	}

	var entered []string
	env.exec.Observer = func(e asl.StateEvent) {
		if e.Phase == "entered" {
			entered = append(entered, e.State)
		}
	}
	light, _, err := env.run(t, req)
	require.NoError(t, err)
	require.Equal(t, store.Succeeded, light.Status, light.Error)
	assert.Equal(t, []string{pipeline.StatePlan, pipeline.StateIsHeavy, pipeline.StateEvaluate, pipeline.StateSucceeded}, entered,
		"5 fits of 400 rows is light by the default rule")

	heavySvc := env.rt.EvaluationService()
	heavySvc.Offload = evaluationjob.Offload{Fits: 5}
	res := pipeline.LocalEvaluationResources()
	var folds []int
	var foldsMu sync.Mutex
	handlers := pipeline.EvaluationHandlers(res, heavySvc)
	runFold := handlers[pipeline.BatchSubmitJobSync]
	handlers[pipeline.BatchSubmitJobSync] = func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
		var in struct {
			JobQueue, JobDefinition string
			ContainerOverrides      struct {
				Environment []struct{ Name, Value string }
			}
		}
		require.NoError(t, json.Unmarshal(raw, &in))
		assert.Equal(t, res.FoldJobQueue, in.JobQueue)
		assert.Equal(t, res.FoldJobDefinition, in.JobDefinition)
		for _, e := range in.ContainerOverrides.Environment {
			if e.Name == pipeline.EnvEvaluationFold {
				var ft evaluationjob.FoldTask
				require.NoError(t, json.Unmarshal([]byte(e.Value), &ft))
				foldsMu.Lock()
				folds = append(folds, ft.Fold)
				foldsMu.Unlock()
			}
		}
		return runFold(ctx, raw)
	}
	entered = nil
	x := asl.Executor{Resources: handlers, Observer: env.exec.Observer}
	job, err := heavySvc.Submit(t.Context(), evaluationjob.Config{EvaluateRequest: req})
	require.NoError(t, err)
	_, err = x.Execute(t.Context(), env.def, asl.Execution{Name: job.ID, StateMachine: "evaluation",
		Input: pipeline.EvaluationInput{JobID: job.ID}.JSON()})
	require.NoError(t, err)
	heavy, err := env.rt.DB.GetJob(t.Context(), job.ID)
	require.NoError(t, err)
	require.Equal(t, store.Succeeded, heavy.Status, heavy.Error)
	assert.Equal(t, 1, heavy.Attempts)
	assert.ElementsMatch(t, []int{0, 1, 2, 3, 4}, folds, "one Batch job per fold")
	count := map[string]int{}
	for _, s := range entered {
		count[s]++
	}
	assert.Equal(t, map[string]int{pipeline.StatePlan: 1, pipeline.StateIsHeavy: 1, pipeline.StateRunFolds: 1,
		pipeline.StateRunFold: 5, pipeline.StateReduce: 1, pipeline.StateSucceeded: 1}, count)

	assert.Equal(t, figures(light), figures(heavy), "the heavy path's figures are the light path's")
	keys, err := env.rt.Artifacts.List(t.Context(), "evaluation-jobs/"+job.ID)
	require.NoError(t, err)
	assert.Empty(t, keys, "the fold outcomes are removed once combined")

	t.Run("a failed fold job fails the evaluation through MarkFailed", func(t *testing.T) {
		handlers[pipeline.BatchSubmitJobSync] = func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
			return nil, &asl.Error{Name: asl.ErrorTaskFailed, Cause: "fold job exited 1"}
		}
		entered = nil
		job, err := heavySvc.Submit(t.Context(), evaluationjob.Config{EvaluateRequest: req})
		require.NoError(t, err)
		_, err = x.Execute(t.Context(), env.def, asl.Execution{Name: job.ID, Input: pipeline.EvaluationInput{JobID: job.ID}.JSON()})
		var pe *asl.Error
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, pipeline.ErrorEvaluationFailed, pe.Name)
		assert.Contains(t, entered, pipeline.StateMarkFailed)
		assert.NotContains(t, entered, pipeline.StateReduce)
		got, err := env.rt.DB.GetJob(t.Context(), job.ID)
		require.NoError(t, err)
		assert.Equal(t, store.Failed, got.Status)
		assert.Contains(t, got.Error, "fold job exited 1")
	})
}
