//go:build torch

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/s3store/s3table"
	"github.com/orrery-ml/orrery/trainer/batchjob"
)

// TestTrialModeTorch runs the trainer's run() as the RunTrial task starts
// the image on AWS Batch (ORRERY_BACKEND=torch, here on the CPU), against
// DynamoDB and S3 in the emulator: the trial trains with libtorch, ends
// COMPLETE with one intermediate value per epoch, its checkpoint is in the
// torch folder of the study's checkpoints (none in the gonum one), and the
// log line says the torch backend trained it.
func TestTrialModeTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small network with libtorch against the AWS emulator")
	}
	e := newTrialEmulator(t)
	id, number := e.study(t, 4)
	var logs bytes.Buffer

	e.env(t, fmt.Sprintf(`{"study_id":%q,"number":%d}`, id, number))
	t.Setenv(config.EnvBackend, batchjob.BackendTorch)
	t.Setenv(config.EnvDevice, "cpu")
	require.Equal(t, batchjob.ExitOK, run(&logs, nil), "%s", logs.String())
	st, tr := e.trial(t, id, number)
	assert.Equal(t, store.TrialComplete, st.State, "%s", st.Error)
	require.Len(t, tr.Values, 1)
	assert.Greater(t, tr.Values[0], 0.6, "validation AUC-PR of separable data")
	require.Len(t, tr.Intermediate, 4, "one intermediate value per epoch")
	for i, im := range tr.Intermediate {
		assert.Equal(t, i+1, im.Step)
		require.Len(t, im.Values, 1)
		assert.Greater(t, im.Values[0], 0.0)
	}
	assert.Equal(t, 4.0, tr.Cost, "four epochs trained")
	key := fmt.Sprintf("%s/%s-t%d.ckpt", batchjob.TrialCheckpointDirFor(id, batchjob.BackendTorch), id, number)
	assert.Contains(t, key, "/torch/")
	_, err := e.artifacts.Get(t.Context(), key)
	require.NoError(t, err, "the torch trial's checkpoint is in the artifacts bucket")
	_, err = e.artifacts.Get(t.Context(), fmt.Sprintf("%s/%s-t%d.ckpt", batchjob.TrialCheckpointDir(id), id, number))
	require.ErrorIs(t, err, store.ErrNotFound, "no gonum checkpoint was written")

	var finished map[string]any
	for line := range strings.SplitSeq(logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "trainer: trial finished" {
			finished = m
		}
	}
	require.NotNil(t, finished, "the trial's log line: %s", logs.String())
	assert.Equal(t, "torch", finished["backend"])
	assert.Equal(t, "cpu", finished["device"])
	assert.Equal(t, "torch", finished["trained_by"], "the objective says which backend trained the trial")
	attrs, _ := finished["attrs"].(map[string]any)
	assert.Equal(t, "torch", attrs["backend"])
	assert.Equal(t, 4.0, attrs["epochs_run"])
}

// TestTrialModeTorchResumes interrupts a torch trial after its second
// epoch's checkpoint: the run is retryable, the trial stays RUNNING with
// two intermediate values, and the next attempt resumes from the torch
// checkpoint, training only the three epochs left.
func TestTrialModeTorchResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small network with libtorch against the AWS emulator")
	}
	e := newTrialEmulator(t)
	id, number := e.study(t, 5)
	ctx := t.Context()
	newTrainer := backends[batchjob.BackendTorch](batchjob.Config{Backend: batchjob.BackendTorch, Device: "cpu"})
	interrupting := &cancelOnCheckpoint{ArtifactStore: e.artifacts, n: 2}
	runner := &batchjob.Runner{Studies: e.db, Trials: e.db, Artifacts: interrupting, Backend: batchjob.BackendTorch,
		NewTrainer: newTrainer, ReadData: s3table.TableReader(e.s3)}
	task := batchjob.Task{Trial: &optimization.TrialInput{StudyID: id, Number: number}, Worker: "batch-job-1", Attempt: 1}

	actx, cancel := context.WithCancel(ctx)
	interrupting.cancel = cancel
	_, err := runner.RunTrial(actx, task)
	cancel()
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled), "%v", err)
	assert.Equal(t, batchjob.ExitRetryable, batchjob.ExitCode(err))
	st, tr := e.trial(t, id, number)
	assert.Equal(t, store.TrialRunning, st.State)
	require.Len(t, tr.Intermediate, 2, "the two epochs reported before the interruption")

	runner.Artifacts = e.artifacts
	task.Worker, task.Attempt = "batch-job-1-attempt-2", 2
	out, err := runner.RunTrial(ctx, task)
	require.NoError(t, err)
	assert.Equal(t, store.TrialComplete, out.State, "%s", out.Error)
	assert.Equal(t, "torch", out.Attrs["backend"])
	st, tr = e.trial(t, id, number)
	assert.Equal(t, store.TrialComplete, st.State)
	require.Len(t, tr.Intermediate, 5, "the first attempt's values kept, the last three added")
	assert.Equal(t, 3.0, tr.Cost, "the second attempt resumed after epoch 2")
}
