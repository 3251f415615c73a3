package pipeline_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
)

func TestOptimizationDefinition(t *testing.T) {
	def, err := pipeline.Optimization(pipeline.OptimizationPlaceholders())
	require.NoError(t, err)
	body, err := def.JSON()
	require.NoError(t, err)
	text := string(body)
	for _, want := range []string{"${StagesFunctionArn}", "${TrainJobQueueArn}", "${TrainJobDefinitionArn}", "${AlertTopicArn}",
		pipeline.BatchSubmitJobSync, `"MaxConcurrencyPath": "$.max_parallel"`, `"ItemsPath": "$.round.trials"`,
		`"number.$": "$$.Map.Item.Value"`, `"BooleanEquals": true`, `"SecondsPath": "$.round.wait_seconds"`, pipeline.EnvTrialInput, `"JitterStrategy": "FULL"`,
		pipeline.EnvTaskToken, `"$$.Task.Token"`, `"OnExitCode": "75"`} {
		assert.Contains(t, text, want)
	}
	parsed, err := asl.Parse(body)
	require.NoError(t, err, "what ships parses back")
	again, err := parsed.JSON()
	require.NoError(t, err)
	assert.JSONEq(t, text, string(again))
	for name, st := range def.States {
		if st.Type == asl.TypeTask || st.Type == asl.TypeMap {
			if st.Type == asl.TypeTask {
				assert.NotEmpty(t, st.Retry, "%s retries transient errors", name)
				assert.Positive(t, st.TimeoutSeconds, "%s has a timeout", name)
			}
			if name != pipeline.StateMarkFailed && name != pipeline.StateAlert {
				require.Len(t, st.Catch, 1, name)
				assert.Equal(t, pipeline.StateMarkFailed, st.Catch[0].Next, name)
			}
		}
	}
	lean, err := pipeline.Optimization(pipeline.LocalOptimizationResources())
	require.NoError(t, err)
	assert.NotContains(t, lean.States, pipeline.StateAlert)

	for name, r := range map[string]pipeline.OptimizationResources{
		"no steps function": {JobQueue: "arn:q", JobDefinition: "arn:d"},
		"no job definition": {StepsFunction: "arn:f", JobQueue: "arn:q"},
		"not an arn":        {StepsFunction: "steps", JobQueue: "arn:q", JobDefinition: "arn:d"},
		"trial too long":    {StepsFunction: "arn:f", JobQueue: "arn:q", JobDefinition: "arn:d", TrialTimeoutSeconds: 60, StudyTimeoutSeconds: 60},
	} {
		_, err := pipeline.Optimization(r)
		require.ErrorIs(t, err, pipeline.ErrResources, name)
	}
}

// TestOptimizationLoopOnTheExecutor runs the machine with its tasks bound
// to the step functions over a real store and a cheap objective: three
// rounds of at most two trials, five trials in all, at most two at once.
func TestOptimizationLoopOnTheExecutor(t *testing.T) {
	ctx := t.Context()
	st := newStudy(t, "loop", 2)
	var mu sync.Mutex
	running, most := 0, 0
	obj := optimization.ObjectiveFunc(func(ctx context.Context, tr optimization.Trial, report optimization.ReportFunc) (optimization.Outcome, error) {
		mu.Lock()
		running++
		most = max(most, running)
		mu.Unlock()
		defer func() { mu.Lock(); running--; mu.Unlock() }()
		x, _ := tr.Params.Float("x")
		if err := report(ctx, 1, []float64{x * x}); err != nil {
			return optimization.Outcome{}, err
		}
		return optimization.Outcome{Values: []float64{x * x}, Cost: 1}, nil
	})
	steps := optimization.StepRunner{Stores: st, Objective: func(context.Context, string, optimization.StudySpec) (optimization.Objective, error) {
		return obj, nil
	}}
	res := pipeline.LocalOptimizationResources()
	def, err := pipeline.Optimization(res)
	require.NoError(t, err)
	var suggests int
	x := asl.Executor{Resources: pipeline.OptimizationHandlers(res, steps), Observer: func(e asl.StateEvent) {
		if e.State == pipeline.StateSuggest && e.Phase == "entered" {
			mu.Lock()
			suggests++
			mu.Unlock()
		}
	}}
	out, err := x.Execute(ctx, def, asl.Execution{Name: "loop", Input: pipeline.OptimizationInput{StudyID: "loop", MaxParallel: 2}.JSON()})
	require.NoError(t, err)
	var fin optimization.FinalizeOutput
	require.NoError(t, json.Unmarshal(out, &fin))
	assert.Equal(t, 5, fin.Trials)
	assert.Equal(t, optimization.StopTrials, fin.StopReason)
	require.NotNil(t, fin.BestTrial)
	assert.LessOrEqual(t, most, 2)
	assert.Equal(t, 3, suggests)
}

// TestRunTrialRetriesAsTrain: a trial's Batch job is retried exactly as the
// training machine's Train job is (Spot reclaim and the trainer's exit 75),
// and carries the task token for heartbeats the same way.
func TestRunTrialRetriesAsTrain(t *testing.T) {
	opt, err := pipeline.Optimization(pipeline.OptimizationPlaceholders())
	require.NoError(t, err)
	train, err := pipeline.Training(pipeline.Placeholders())
	require.NoError(t, err)
	trial := opt.States[pipeline.StateRunTrials].ItemProcessor.States[pipeline.StateRunTrial]
	trainState := train.States[pipeline.StateTrain]
	params := func(st asl.State) map[string]any { return st.Parameters.(map[string]any) }
	assert.Equal(t, params(trainState)["RetryStrategy"], params(trial)["RetryStrategy"])
	assert.Equal(t, trainState.HeartbeatSeconds, trial.HeartbeatSeconds)
	env := func(st asl.State) map[string]any {
		out := map[string]any{}
		for _, e := range params(st)["ContainerOverrides"].(map[string]any)["Environment"].([]any) {
			m := e.(map[string]any)
			out[m["Name"].(string)] = m["Value.$"]
		}
		return out
	}
	assert.Equal(t, "$$.Task.Token", env(trial)[pipeline.EnvTaskToken])
	assert.Equal(t, env(trainState)[pipeline.EnvTaskToken], env(trial)[pipeline.EnvTaskToken])
}

// TestCancelledStudyEndsWithoutAnAlert cancels the study while its first
// trial runs and sends no stop, as when the stop has not arrived yet: the
// next step finds the study CANCELLED, and the execution ends with
// Orrery.Cancelled through MarkFailed (which leaves the study CANCELLED,
// with the cancel's reason) without publishing an alert. A failure that
// is not a cancellation still alerts.
func TestCancelledStudyEndsWithoutAnAlert(t *testing.T) {
	for _, cancel := range []bool{true, false} {
		t.Run(map[bool]string{true: "cancelled", false: "failed"}[cancel], func(t *testing.T) {
			ctx := t.Context()
			st := newStudy(t, "cx", 1)
			obj := optimization.ObjectiveFunc(func(ctx context.Context, tr optimization.Trial, _ optimization.ReportFunc) (optimization.Outcome, error) {
				if _, err := optimization.CancelStudy(ctx, st, "cx", "enough"); err != nil {
					return optimization.Outcome{}, err
				}
				return optimization.Outcome{Values: []float64{1}, Cost: 1}, nil
			})
			steps := optimization.StepRunner{Stores: st, Objective: func(context.Context, string, optimization.StudySpec) (optimization.Objective, error) {
				return obj, nil
			}}
			res := pipeline.LocalOptimizationResources()
			res.AlertTopic = "arn:aws:sns:eu-west-1:123456789012:alerts"
			def, err := pipeline.Optimization(res)
			require.NoError(t, err)
			handlers := pipeline.OptimizationHandlers(res, steps)
			if !cancel {
				handlers[pipeline.BatchSubmitJobSync] = func(context.Context, json.RawMessage) (json.RawMessage, error) {
					return nil, &asl.Error{Name: fault.Internal.Name(), Cause: "the trial's machine broke"}
				}
			}
			var alerts int
			handlers[pipeline.SNSPublish] = func(context.Context, json.RawMessage) (json.RawMessage, error) {
				alerts++
				return json.RawMessage(`{}`), nil
			}
			x := asl.Executor{Resources: handlers}
			_, err = x.Execute(ctx, def, asl.Execution{Name: "cx", Input: pipeline.OptimizationInput{StudyID: "cx", MaxParallel: 1}.JSON()})
			var e *asl.Error
			require.ErrorAs(t, err, &e)
			if !cancel {
				assert.Equal(t, pipeline.ErrorOptimizationFailed, e.Name)
				assert.Equal(t, 1, alerts, "a failure is an incident")
				return
			}
			assert.Equal(t, fault.Cancelled.Name(), e.Name, "%v", e)
			assert.Contains(t, e.Cause, "cancelled")
			assert.Zero(t, alerts, "a user's cancel is not an incident")
			rec, err := st.Studies.GetStudy(ctx, "cx")
			require.NoError(t, err)
			assert.Equal(t, store.Cancelled, rec.Status)
			res2, err := optimization.Results(ctx, st, "cx")
			require.NoError(t, err)
			assert.Contains(t, res2.Error, "enough", "the cancel's reason stays")
		})
	}
}

// newStudy creates, over a fresh store, a random-search study of one
// float in [-2, 2], minimised, of five trials, parallel at once.
func newStudy(t *testing.T, id string, parallel int) optimization.Stores {
	t.Helper()
	db, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "orrery.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	st := optimization.Stores{Studies: db, Trials: db}
	spec := optimization.StudySpec{Space: optimization.Space{Dimensions: []optimization.Dimension{{Name: "x", Kind: optimization.Float, Low: -2, High: 2}}},
		Directions: []optimization.Direction{optimization.Minimize}, Strategy: "random", Parallel: parallel, Budget: optimization.Budget{Trials: 5}}
	require.NoError(t, optimization.CreateStudy(t.Context(), st, id, "", spec))
	return st
}
