package batchjob

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// batchRun is what the emulated AWS Batch job did: one exit status per
// attempt and the heartbeats the trainer sent.
type batchRun struct {
	mu         sync.Mutex
	exits      []int
	heartbeats int
	tokens     map[string]bool
}

// batchTrainStage binds the training state machine's Train task
// (batch:submitJob.sync) to RunTrainStage, as AWS Batch runs the trainer
// container: the job definition's environment (the stores, here the
// fixture's embedded home, and the backend), read by FromEnv with the
// task's ContainerOverrides (ORRERY_STAGE_REFS, ORRERY_TASK_TOKEN),
// AWS_BATCH_JOB_ATTEMPT counting attempts. Attempt 1 is interrupted after
// its second epoch when interrupt is set (as by SIGTERM), exits 75, and the
// Train task's RetryStrategy decides whether Batch runs another attempt,
// which resumes. A failure it does not retry fails the task as Batch does,
// with the job description as the cause.
func batchTrainStage(t *testing.T, f fixture, backend string, interrupt bool, before func(), run *batchRun) asl.Handler {
	var cancelAttempt context.CancelFunc
	f.runner.Recorder = tracking.RecorderFunc(func(_ context.Context, e tracking.Event) error {
		if interrupt && e.Kind == tracking.Progress && e.Stage == training.StageTrain && e.Step == 2 && cancelAttempt != nil {
			cancelAttempt()
		}
		return nil
	})
	f.runner.Heartbeat = func(ctx context.Context, token string) error {
		run.mu.Lock()
		defer run.mu.Unlock()
		run.heartbeats++
		run.tokens[token] = true
		asl.Heartbeat(ctx)
		return nil
	}
	return func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
		var job struct {
			JobName            string
			Parameters         map[string]string
			ContainerOverrides struct {
				Environment []struct{ Name, Value string }
			}
			RetryStrategy struct {
				Attempts       int
				EvaluateOnExit []map[string]string
			}
		}
		if err := json.Unmarshal(raw, &job); err != nil {
			return nil, err
		}
		if before != nil {
			before()
		}
		env := map[string]string{config.EnvHome: f.home, config.EnvBackend: backend, config.EnvDevice: "cpu"}
		for _, e := range job.ContainerOverrides.Environment {
			env[e.Name] = e.Value
		}
		for attempt := 1; attempt <= job.RetryStrategy.Attempts; attempt++ {
			env[config.EnvBatchJobAttempt] = strconv.Itoa(attempt)
			cfg, err := FromEnv(func(k string) string { return env[k] })
			if err == nil {
				actx, cancel := context.WithCancel(ctx)
				cancelAttempt = cancel
				if attempt > 1 {
					cancelAttempt = nil
				}
				_, err = f.runner.RunTrainStage(actx, cfg.Task)
				cancel()
			}
			code := ExitCode(err)
			run.mu.Lock()
			run.exits = append(run.exits, code)
			run.mu.Unlock()
			if code == ExitOK {
				return json.Marshal(map[string]any{"JobId": "batch-" + job.Parameters["job_id"], "JobName": job.JobName, "Status": "SUCCEEDED"})
			}
			reason := fmt.Sprintf("Essential container in task exited (%d): %v", code, err)
			if attempt < job.RetryStrategy.Attempts && batchRetries(job.RetryStrategy.EvaluateOnExit, code, reason) {
				continue
			}
			desc, _ := json.Marshal(map[string]any{"Status": "FAILED", "StatusReason": reason})
			return nil, &asl.Error{Name: asl.ErrorTaskFailed, Cause: string(desc)}
		}
		return nil, &asl.Error{Name: asl.ErrorTaskFailed, Cause: "no attempts"}
	}
}

// batchRetries applies AWS Batch's EvaluateOnExit rules to a failed
// attempt: the first rule whose conditions (OnExitCode, OnStatusReason,
// OnReason; patterns may end in *) all match decides; when none matches the
// job is retried (AWS Batch API reference, RetryStrategy).
func batchRetries(rules []map[string]string, code int, statusReason string) bool {
	match := func(pattern, v string) bool {
		if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
			return strings.HasPrefix(v, prefix)
		}
		return pattern == v
	}
	for _, r := range rules {
		if (r["OnExitCode"] == "" || match(r["OnExitCode"], strconv.Itoa(code))) &&
			(r["OnStatusReason"] == "" || match(r["OnStatusReason"], statusReason)) &&
			(r["OnReason"] == "" || match(r["OnReason"], "")) {
			return r["Action"] == "RETRY"
		}
	}
	return true
}

// runTrainingStateMachine runs the training state machine on the local
// executor: the stages Lambda is a TrainingPipeline with no backend of its
// own (as functions/stages wires it), the Train task handler (the Batch
// trainer's RunTrainStage, batchTrainStage).
func runTrainingStateMachine(t *testing.T, f fixture, cfg *training.TrainingConfig, handler asl.Handler) (store.Job, json.RawMessage, error, []string) {
	t.Helper()
	ctx := t.Context()
	lambda := &training.TrainingPipeline{Jobs: f.db, Models: f.db, Artifacts: f.files}
	r := pipeline.LocalResources()
	def, err := pipeline.Training(r)
	require.NoError(t, err)
	handlers := pipeline.TrainingHandlers(r, lambda)
	handlers[pipeline.BatchSubmitJobSync] = handler
	var entered []string
	exec := asl.Executor{Resources: handlers, Observer: func(e asl.StateEvent) {
		if e.Phase == "entered" {
			entered = append(entered, e.State)
		}
	}}
	job, err := lambda.Submit(ctx, *cfg)
	require.NoError(t, err)
	out, runErr := exec.Execute(ctx, def, asl.Execution{Name: job.ID, StateMachine: "training",
		Input: pipeline.TrainingInput{JobID: job.ID}.JSON()})
	job, err = f.db.GetJob(ctx, job.ID)
	require.NoError(t, err)
	return job, out, runErr, entered
}

// checkTrainStageStateMachine runs the state machine with the Batch Train
// task bound to RunTrainStage on backend; attempt 1 is interrupted and
// attempt 2 resumes from its checkpoint.
func checkTrainStageStateMachine(t *testing.T, backend string, newTrainer NewTrainer) {
	f := newFixture(t)
	f.runner.Backend, f.runner.NewTrainer = backend, newTrainer
	run := &batchRun{tokens: map[string]bool{}}
	job, out, err, entered := runTrainingStateMachine(t, f, htru2Config(4), batchTrainStage(t, f, backend, true, nil, run))
	require.NoError(t, err)
	assert.Equal(t, []string{"Start", "ValidateData", "Preprocess", "Train", "Evaluate", "Register", "Succeeded"}, entered)
	assert.Equal(t, []int{ExitRetryable, ExitOK}, run.exits, "attempt 1 interrupted, attempt 2 finished")
	assert.GreaterOrEqual(t, run.heartbeats, 2, "a heartbeat per attempt at least")
	assert.Len(t, run.tokens, 1, "heartbeats carry the Train task's token")
	assert.NotContains(t, run.tokens, "")

	assert.Equal(t, store.Succeeded, job.Status)
	var refs training.Refs
	require.NoError(t, json.Unmarshal(out, &refs))
	assert.Equal(t, job.ModelID, refs.ModelID)
	assert.Equal(t, backend, refs.Backend, "Evaluate took the train stage's saved refs")
	var res training.Result
	require.NoError(t, json.Unmarshal(job.Result, &res))
	assert.Equal(t, backend, res.Training.Backend)
	assert.Equal(t, 2, res.Training.ResumedFrom, "attempt 2 resumed after epoch 2")
	assert.Equal(t, 4, res.Training.EpochsRun)
	assert.Greater(t, res.Metrics.AUCROC, 0.95)

	m, err := f.db.GetModel(t.Context(), job.ModelID)
	require.NoError(t, err)
	model, err := nn.LoadDir(filepath.Join(f.files.Root(), m.ArtifactKey))
	require.NoError(t, err)
	assert.Equal(t, backend, model.Manifest.Backend, "the manifest names the backend that trained")
	_, found, err := Checkpoints{Store: f.files, Backend: backend}.LoadCheckpoint(t.Context(), job.ID)
	require.NoError(t, err)
	assert.True(t, found, "checkpoint under the backend's key")
}

func TestTrainingStateMachineWithBatchTrainStage(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on HTRU2")
	}
	checkTrainStageStateMachine(t, BackendGonum, gonum)
}

func TestTrainStageFailureFailsTheExecution(t *testing.T) {
	if testing.Short() {
		t.Skip("validates HTRU2")
	}
	f := newFixture(t)
	data := filepath.Join(t.TempDir(), "htru2.csv")
	raw, err := os.ReadFile("../../events/data/htru2.csv")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(data, raw, 0o644))
	cfg := htru2Config(4)
	cfg.DatasetPath = data
	// The data file changes between Preprocess and Train: the trainer
	// refuses it (exit 1, no retry), MarkFailed marks the job FAILED.
	lines := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
	changeData := func() {
		changed := bytes.Join(append(lines, lines[len(lines)-1], nil), []byte("\n"))
		require.NoError(t, os.WriteFile(data, changed, 0o644))
	}
	run := &batchRun{tokens: map[string]bool{}}
	job, _, err, entered := runTrainingStateMachine(t, f, cfg, batchTrainStage(t, f, BackendGonum, false, changeData, run))
	var e *asl.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, pipeline.ErrorTrainingFailed, e.Name)
	assert.Equal(t, []string{"Start", "ValidateData", "Preprocess", "Train", "MarkFailed", "Failed"}, entered)
	assert.Equal(t, []int{ExitApplication}, run.exits)
	assert.Equal(t, store.Failed, job.Status)
	assert.Contains(t, job.Error, "data changed since validation")
	_, err = f.db.GetModel(t.Context(), job.ModelID)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestRunTrainStageRefusesBadRefs(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		task Task
		code int
	}{
		{"no stage refs", Task{Attempt: 1}, ExitUsage},
		{"refs before preprocessing", Task{StageRefs: &training.Refs{JobID: "trn-x"}, Attempt: 1}, ExitApplication},
		{"unknown job", Task{StageRefs: &training.Refs{JobID: "trn-x", DataHash: "abc",
			PreprocessingKey: "jobs/trn-x/preprocessing.json"}, Attempt: 1}, ExitApplication},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.runner.RunTrainStage(t.Context(), tc.task)
			require.Error(t, err)
			assert.Equal(t, tc.code, ExitCode(err), "%v", err)
		})
	}
}

func TestTaskGoneIsNotRetried(t *testing.T) {
	err := fmt.Errorf("train stage of job j: %w (%w)", ErrTaskGone, context.Canceled)
	assert.False(t, Retryable(err), "the execution has moved on: a retry would train for nobody")
	assert.Equal(t, ExitApplication, ExitCode(err))
}
