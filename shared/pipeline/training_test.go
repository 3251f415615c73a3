package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/embedded"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/synthetic"
	"github.com/orrery-ml/orrery/shared/tracking"
)

func TestTrainingDefinition(t *testing.T) {
	def, err := pipeline.Training(pipeline.Placeholders())
	require.NoError(t, err)
	body, err := def.JSON()
	require.NoError(t, err)
	text := string(body)
	for _, want := range []string{"${StagesFunctionArn}", "${TrainJobQueueArn}", "${TrainJobDefinitionArn}", "${DeployFunctionArn}",
		"${AlertTopicArn}", pipeline.BatchSubmitJobSync, `"JitterStrategy": "FULL"`, `"States.ALL"`,
		`"OnStatusReason": "Host EC2*"`, `"OnReason": "CannotPullContainerError:*"`, `"OnExitCode": "75"`} {
		assert.Contains(t, text, want)
	}
	parsed, err := asl.Parse(body)
	require.NoError(t, err, "what ships parses back")
	again, err := parsed.JSON()
	require.NoError(t, err)
	assert.JSONEq(t, text, string(again))
	for name, st := range def.States {
		if st.Type == asl.TypeTask {
			assert.NotEmpty(t, st.Retry, "%s retries transient errors", name)
			assert.Positive(t, st.TimeoutSeconds, "%s has a timeout", name)
			if name != pipeline.StateMarkFailed && name != pipeline.StateAlert && name != pipeline.StateDeploy {
				require.Len(t, st.Catch, 1, name)
				assert.Equal(t, pipeline.StateMarkFailed, st.Catch[0].Next, name)
			}
		}
	}
	lean, err := pipeline.Training(pipeline.LocalResources())
	require.NoError(t, err)
	assert.NotContains(t, lean.States, pipeline.StateDeploy, "no deploy function, no Deploy state")
	assert.NotContains(t, lean.States, pipeline.StateAlert)
}

func TestTrainingRefusesBadResources(t *testing.T) {
	for name, r := range map[string]pipeline.Resources{
		"no stages function": {JobQueue: "arn:q", JobDefinition: "arn:d"},
		"no job queue":       {StagesFunction: "arn:f", JobDefinition: "arn:d"},
		"not an arn":         {StagesFunction: "stages", JobQueue: "arn:q", JobDefinition: "arn:d"},
		"negative timeout":   {StagesFunction: "arn:f", JobQueue: "arn:q", JobDefinition: "arn:d", TrainTimeoutSeconds: -1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := pipeline.Training(r)
			require.ErrorIs(t, err, pipeline.ErrResources)
		})
	}
}

func syntheticCSV(t *testing.T, rows int, seed uint64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "syn.csv")
	require.NoError(t, os.WriteFile(p, []byte(synthetic.TwoClassCSV(rows, seed)), 0o644))
	return p
}

type trainingEnv struct {
	rt   *embedded.Runtime
	exec asl.Executor
	def  asl.Definition
}

func newTrainingEnv(t *testing.T, r pipeline.Resources, rec tracking.Recorder) *trainingEnv {
	t.Helper()
	rt, err := embedded.Open(t.Context(), filepath.Join(t.TempDir(), "home"), rec)
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	// The trainer's progress events are its heartbeats.
	rt.Pipeline.Recorder = tracking.Multi(rec, tracking.RecorderFunc(func(ctx context.Context, _ tracking.Event) error {
		asl.Heartbeat(ctx)
		return nil
	}))
	def, err := pipeline.Training(r)
	require.NoError(t, err)
	return &trainingEnv{rt: rt, def: def, exec: asl.Executor{Resources: pipeline.TrainingHandlers(r, rt.Pipeline)}}
}

func quickConfig(path string) training.TrainingConfig {
	return training.TrainingConfig{DatasetPath: path, TargetColumn: "label", PositiveClass: "pulsar",
		Epochs: 15, HiddenLayers: []int{8}, BatchSize: 32, LearningRate: 0.01}
}

func TestTrainingStateMachineRunsTheStages(t *testing.T) {
	ctx := t.Context()
	mem := &tracking.Memory{}
	env := newTrainingEnv(t, pipeline.LocalResources(), mem)
	var entered []string
	env.exec.Observer = func(e asl.StateEvent) {
		if e.Phase == "entered" {
			entered = append(entered, e.State)
		}
	}
	// The Batch job carries the job id as its "job_id" parameter: that is
	// how the `events` function finds the job of a Batch state change.
	var batchParameters map[string]string
	submit := env.exec.Resources[pipeline.BatchSubmitJobSync]
	env.exec.Resources[pipeline.BatchSubmitJobSync] = func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
		var in struct{ Parameters map[string]string }
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, err
		}
		batchParameters = in.Parameters
		return submit(ctx, raw)
	}
	job, err := env.rt.Pipeline.Submit(ctx, quickConfig(syntheticCSV(t, 400, 1)))
	require.NoError(t, err)
	out, err := env.exec.Execute(ctx, env.def, asl.Execution{Name: job.ID, StateMachine: "training",
		Input: pipeline.TrainingInput{JobID: job.ID}.JSON()})
	require.NoError(t, err)
	assert.Equal(t, []string{"Start", "ValidateData", "Preprocess", "Train", "Evaluate", "Register", "Succeeded"}, entered)
	assert.Equal(t, map[string]string{"job_id": job.ID}, batchParameters)

	var refs training.Refs
	require.NoError(t, json.Unmarshal(out, &refs))
	assert.Equal(t, job.ID, refs.JobID)
	require.NotEmpty(t, refs.ModelID)
	for _, s := range []string{"validate", "preprocess", "train", "evaluate", "register"} {
		assert.Contains(t, refs.StageSeconds, s)
	}
	got, err := env.rt.DB.GetJob(ctx, job.ID)
	require.NoError(t, err)
	assert.Equal(t, store.Succeeded, got.Status)
	assert.Equal(t, refs.ModelID, got.ModelID)
	var res training.Result
	require.NoError(t, json.Unmarshal(got.Result, &res))
	assert.Greater(t, res.Metrics.AUCROC, 0.9)
	assert.Equal(t, res.Training.EpochsRun, countProgress(mem.Events()))
	_, err = env.rt.DB.GetModel(ctx, refs.ModelID)
	require.NoError(t, err)

	// The same job is never run twice: a second execution fails at once
	// and leaves the finished job as it is.
	_, err = env.exec.Execute(ctx, env.def, asl.Execution{Input: pipeline.TrainingInput{JobID: job.ID}.JSON()})
	var e *asl.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, pipeline.ErrorTrainingFailed, e.Name)
	assert.True(t, strings.HasPrefix(e.Cause, fault.Conflict.Name()+": "), e.Cause)
	again, err := env.rt.DB.GetJob(ctx, job.ID)
	require.NoError(t, err)
	assert.Equal(t, store.Succeeded, again.Status)
}

func countProgress(events []tracking.Event) int {
	n := 0
	for _, e := range events {
		if e.Kind == tracking.Progress && e.Stage == training.StageTrain {
			n++
		}
	}
	return n
}

func TestTrainingStateMachineMarksFailures(t *testing.T) {
	ctx := t.Context()
	env := newTrainingEnv(t, pipeline.LocalResources(), nil)
	cfg := quickConfig(syntheticCSV(t, 300, 2))
	cfg.TargetColumn = "kind"
	job, err := env.rt.Pipeline.Submit(ctx, cfg)
	require.NoError(t, err)
	_, err = env.exec.Execute(ctx, env.def, asl.Execution{Input: pipeline.TrainingInput{JobID: job.ID}.JSON()})
	var e *asl.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, pipeline.ErrorTrainingFailed, e.Name)
	// A target that is not a column is bad input (dataset.ErrMissingColumn).
	assert.True(t, strings.HasPrefix(e.Cause, fault.Invalid.Name()+": "), e.Cause)
	got, err := env.rt.DB.GetJob(ctx, job.ID)
	require.NoError(t, err)
	assert.Equal(t, store.Failed, got.Status)
	assert.Equal(t, training.StageValidate, got.Stage)
	assert.Contains(t, got.Error, "kind")
}

func TestTrainingStateMachineDeploysOnRequest(t *testing.T) {
	r := pipeline.LocalResources()
	r.DeployFunction = "arn:aws:lambda:local:000000000000:function:orrery-deploy"
	env := newTrainingEnv(t, r, nil)
	var deployed atomic.Int32
	env.exec.Resources[r.DeployFunction] = func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		deployed.Add(1)
		var req struct {
			ModelID string `json:"model_id"`
		}
		if err := json.Unmarshal(in, &req); err != nil || req.ModelID == "" {
			return nil, errors.New("deploy needs a model_id")
		}
		return json.RawMessage(`{"deployment_id":"dep-1"}`), nil
	}
	data := syntheticCSV(t, 300, 3)
	for _, deploy := range []bool{false, true} {
		job, err := env.rt.Pipeline.Submit(t.Context(), quickConfig(data))
		require.NoError(t, err)
		_, err = env.exec.Execute(t.Context(), env.def, asl.Execution{Input: pipeline.TrainingInput{JobID: job.ID, Deploy: deploy}.JSON()})
		require.NoError(t, err)
	}
	assert.Equal(t, int32(1), deployed.Load(), "only the execution that asked for it deploys")
}
