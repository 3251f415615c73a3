package pipeline_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
	"github.com/orrery-ml/orrery/shared/pipeline/asl/asltest"
)

// queueDelay is how long the simulated Batch job waits RUNNABLE: longer
// than any heartbeat interval a hung trainer could be caught by (the 15
// minutes the Batch tasks once had), well inside the tasks' TimeoutSeconds.
const queueDelay = 2 * time.Hour

// queuedBatchJob is a Batch submitJob.sync handler that behaves as AWS Batch
// does with a job submitted to a queue scaled to zero: the job waits
// RUNNABLE for queueDelay (the executor's clock moves on, no heartbeat:
// nothing of the trainer runs yet), then its container starts and
// heartbeats every minute for ten minutes, then the job SUCCEEDS. It stops
// when the task ends under it, as Step Functions terminates the job then.
func queuedBatchJob(clock *asltest.Clock) asl.Handler {
	return func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
		var job struct{ JobName string }
		if err := json.Unmarshal(raw, &job); err != nil {
			return nil, err
		}
		clock.Advance(queueDelay)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for range 10 {
			asl.Heartbeat(ctx)
			clock.Advance(time.Minute)
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		return json.Marshal(map[string]any{"JobId": "job-" + job.JobName, "JobName": job.JobName, "Status": "SUCCEEDED"})
	}
}

// withHeartbeat returns def with HeartbeatSeconds set on its Batch tasks (in
// nested machines too): the definition this test must tell apart from the
// shipped one.
func withHeartbeat(def asl.Definition, seconds int) asl.Definition {
	var set func(states map[string]asl.State) map[string]asl.State
	set = func(states map[string]asl.State) map[string]asl.State {
		out := make(map[string]asl.State, len(states))
		for name, st := range states {
			if st.Type == asl.TypeTask && st.Resource == pipeline.BatchSubmitJobSync {
				st.HeartbeatSeconds = seconds
			}
			if st.ItemProcessor != nil {
				m := *st.ItemProcessor
				m.States = set(m.States)
				st.ItemProcessor = &m
			}
			out[name] = st
		}
		return out
	}
	def.States = set(def.States)
	return def
}

// TestBatchTasksOutwaitTheQueue runs the shipped training, optimization and
// evaluation (heavy path: a fold, a bootstrap range and a comparison range)
// machines on the local executor with a Batch job that waits RUNNABLE for
// two hours before its trainer starts heartbeating: the executions
// succeed. The same machines with a 15-minute HeartbeatSeconds on their
// Batch tasks fail with States.HeartbeatTimeout, which shows the test's
// clock drives the task timers.
func TestBatchTasksOutwaitTheQueue(t *testing.T) {
	training, err := pipeline.Training(pipeline.LocalResources())
	require.NoError(t, err)
	opt, err := pipeline.Optimization(pipeline.LocalOptimizationResources())
	require.NoError(t, err)
	// The evaluation's and the optimization's Maps run one item at a time
	// here: the fake clock is shared, so items waiting RUNNABLE side by side
	// would add their two hours up against one another's timers (three
	// items reach the 6-hour fold timeout; a trial that fails by heartbeat
	// sees its MarkFailed time out while the other trial still advances the
	// clock), whenever the scheduler lets one start late.
	evalResources := pipeline.LocalEvaluationResources()
	evalResources.FoldParallel = 1
	eval, err := pipeline.Evaluation(evalResources)
	require.NoError(t, err)

	stages := asl.HandlerFunc(func(_ context.Context, req struct {
		Stage string          `json:"stage"`
		Refs  json.RawMessage `json:"refs"`
		Error json.RawMessage `json:"error"`
	}) (json.RawMessage, error) {
		return req.Refs, nil
	})
	steps := func(_ context.Context, raw json.RawMessage) (json.RawMessage, error) {
		var req struct {
			Step string `json:"step"`
		}
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, err
		}
		switch req.Step {
		case optimization.StepSuggest:
			return json.RawMessage(`{"trials":[0,1],"exhausted":false,"wait_seconds":0}`), nil
		case optimization.StepTell:
			return json.RawMessage(`{"continue":false,"stop_reason":"trials"}`), nil
		case optimization.StepFinalize:
			return json.RawMessage(`{"trials":2}`), nil
		}
		return json.RawMessage(`{}`), nil
	}
	evalSteps := func(_ context.Context, raw json.RawMessage) (json.RawMessage, error) {
		var req struct {
			Evaluation evaluationjob.Request `json:"evaluation"`
		}
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, err
		}
		if req.Evaluation.Step == evaluationjob.StepPlan {
			return json.Marshal(evaluationjob.Output{JobID: "evj-1", Status: "RUNNING", Heavy: true, Folds: []int{0}, Tasks: []evaluationjob.FoldTask{
				{JobID: "evj-1", Fold: 0, Name: "fold-0"},
				{JobID: "evj-1", Name: "bootstrap-0", Bootstrap: &evaluationjob.BootstrapShard{Shard: 0, From: 0, To: 100}},
				{JobID: "evj-1", Name: "compare-0", Compare: &evaluationjob.BootstrapShard{Shard: 0, From: 0, To: 100}},
			}})
		}
		return json.RawMessage(`{"job_id":"evj-1","status":"SUCCEEDED"}`), nil
	}
	machines := []struct {
		name      string
		def       asl.Definition
		resources func(clock *asltest.Clock) map[string]asl.Handler
		input     json.RawMessage
		failure   string
	}{
		{"training", training, func(clock *asltest.Clock) map[string]asl.Handler {
			return map[string]asl.Handler{pipeline.LocalResources().StagesFunction: stages, pipeline.BatchSubmitJobSync: queuedBatchJob(clock)}
		}, pipeline.TrainingInput{JobID: "job-1"}.JSON(), pipeline.ErrorTrainingFailed},
		{"optimization", opt, func(clock *asltest.Clock) map[string]asl.Handler {
			return map[string]asl.Handler{pipeline.LocalOptimizationResources().StepsFunction: steps, pipeline.BatchSubmitJobSync: queuedBatchJob(clock)}
		}, pipeline.OptimizationInput{StudyID: "study-1", MaxParallel: 1}.JSON(), pipeline.ErrorOptimizationFailed},
		{"evaluation", eval, func(clock *asltest.Clock) map[string]asl.Handler {
			return map[string]asl.Handler{pipeline.LocalEvaluationResources().StagesFunction: evalSteps, pipeline.BatchSubmitJobSync: queuedBatchJob(clock)}
		}, pipeline.EvaluationInput{JobID: "evj-1"}.JSON(), pipeline.ErrorEvaluationFailed},
	}
	for _, m := range machines {
		for _, tc := range []struct {
			name      string
			heartbeat int
		}{{"as shipped", 0}, {"with a 15-minute heartbeat", 15 * 60}} {
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				def := m.def
				if tc.heartbeat > 0 {
					def = withHeartbeat(def, tc.heartbeat)
				}
				clock := &asltest.Clock{}
				x := asl.Executor{Resources: m.resources(clock), AfterFunc: clock.AfterFunc}
				_, err := x.Execute(t.Context(), def, asl.Execution{Name: m.name, Input: m.input})
				if tc.heartbeat == 0 {
					require.NoError(t, err, "a job that waits RUNNABLE is not a dead trainer")
					return
				}
				var e *asl.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, m.failure, e.Name)
				assert.True(t, strings.HasPrefix(e.Cause, asl.ErrorHeartbeatTimeout), e.Cause)
			})
		}
	}
}

// TestBatchTasksHaveNoHeartbeat: no shipped machine puts HeartbeatSeconds on
// a Batch task (see batch.go), and all submit their jobs with
// BatchJobRetryStrategy.
func TestBatchTasksHaveNoHeartbeat(t *testing.T) {
	training, err := pipeline.Training(pipeline.Placeholders())
	require.NoError(t, err)
	opt, err := pipeline.Optimization(pipeline.OptimizationPlaceholders())
	require.NoError(t, err)
	eval, err := pipeline.Evaluation(pipeline.EvaluationPlaceholders())
	require.NoError(t, err)
	want, err := json.Marshal(pipeline.BatchJobRetryStrategy().Map())
	require.NoError(t, err)
	for name, st := range map[string]asl.State{
		"Train":    training.States[pipeline.StateTrain],
		"RunTrial": opt.States[pipeline.StateRunTrials].ItemProcessor.States[pipeline.StateRunTrial],
		"RunFold":  eval.States[pipeline.StateRunFolds].ItemProcessor.States[pipeline.StateRunFold],
	} {
		require.Equal(t, pipeline.BatchSubmitJobSync, st.Resource, name)
		assert.Zero(t, st.HeartbeatSeconds, name)
		assert.Empty(t, st.HeartbeatSecondsPath, name)
		assert.Positive(t, st.TimeoutSeconds, "%s: bounds queue time and all attempts", name)
		got, err := json.Marshal(st.Parameters.(map[string]any)["RetryStrategy"])
		require.NoError(t, err)
		assert.JSONEq(t, string(want), string(got), name)
	}
	s := pipeline.BatchJobRetryStrategy()
	assert.Equal(t, []string{"RETRY", "RETRY", "RETRY", "EXIT"}, []string{s.EvaluateOnExit[0].Action, s.EvaluateOnExit[1].Action,
		s.EvaluateOnExit[2].Action, s.EvaluateOnExit[3].Action})
	assert.Equal(t, "*", s.EvaluateOnExit[3].OnExitCode, "any other exit ends the job")
	assert.Equal(t, "75", s.EvaluateOnExit[2].OnExitCode)
}
