package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/training"
)

// TestTuneTrainBestAndStudies: tune prints the study id before its first
// trial, --train-best registers the best trial as a model, train
// --from-trial trains a named trial, and studies, jobs and status show the
// study; a finished study cannot be cancelled.
func TestTuneTrainBestAndStudies(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	data := sampleCSV(t)
	code, out, errOut := runArgs(t, "tune", "--data", data, "--target", "kind", "--positive", "real", "--trials", "2",
		"--epochs", "3", "--strategy", "random", "--study", "hpo-cli", "--train-best", "--home", home)
	require.Equal(t, 0, code, errOut)
	first, _, _ := strings.Cut(errOut, "\n")
	assert.True(t, strings.HasPrefix(first, "study hpo-cli: 2 trials"), "the study id comes first: %q", first)
	assert.Contains(t, errOut, "training study hpo-cli's best trial")
	assert.Contains(t, out, "Study hpo-cli: 2 trials")
	assert.Contains(t, out, "Trained mlp on detections.csv")

	code, out, errOut = runArgs(t, "models", "--json", "--home", home)
	require.Equal(t, 0, code, errOut)
	var models []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &models))
	require.Len(t, models, 1)
	assert.Contains(t, models[0]["name"], "hpo-cli-trial-")

	code, out, errOut = runArgs(t, "train", "--from-trial", "hpo-cli/0", "--name", "trial-zero", "--json", "--home", home)
	if code == 0 {
		var res training.Result
		require.NoError(t, json.Unmarshal([]byte(out), &res), out)
		assert.Equal(t, "trial-zero", res.Config.Name, "a flag overrides the trial's configuration")
		assert.Equal(t, 3, res.Config.Epochs, "the study's epochs")
		assert.Contains(t, errOut, "study hpo-cli trial 0")
	} else {
		assert.Contains(t, errOut, "trial 0 is PRUNED", "only a complete trial is trained")
	}
	code, _, errOut = runArgs(t, "train", "--from-trial", "hpo-cli/7", "--home", home)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "trial 7")

	code, out, errOut = runArgs(t, "studies", "list", "--home", home)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `hpo-cli\s+SUCCEEDED\s+2/2\s+\d\.\d{4} \(#\d\)`, out)
	code, out, errOut = runArgs(t, "jobs", "--home", home)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `hpo-cli\s+optimization\s+SUCCEEDED\s+trials 2/2`, out)
	assert.Regexp(t, `trn-\S+\s+training\s+SUCCEEDED`, out)
	code, out, errOut = runArgs(t, "status", "hpo-cli", "--home", home)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `trials\s+2/2 finished`, out)
	assert.Contains(t, out, "orrery train --from-trial hpo-cli")

	code, _, errOut = runArgs(t, "studies", "cancel", "hpo-cli", "--home", home)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "it is SUCCEEDED")
	code, _, errOut = runArgs(t, "studies", "cancel", "hpo-none", "--home", home)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "not found")
}

// TestStudiesCancelStopsARunningTune: `orrery studies cancel` from another
// invocation stops a running `orrery tune`, which ends with an error, and
// the study stays CANCELLED.
func TestStudiesCancelStopsARunningTune(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	data := sampleCSV(t)
	done := make(chan int, 1)
	var tuneErr bytes.Buffer
	go func() {
		var out bytes.Buffer
		done <- runCLI(context.Background(), []string{"tune", "--data", data, "--target", "kind", "--trials", "500",
			"--epochs", "40", "--pruner", "none", "--strategy", "random", "--study", "hpo-long", "--home", home}, &out, &tuneErr)
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, out, _ := runArgs(t, "studies", "show", "hpo-long", "--home", home)
		if code == 0 && strings.Contains(out, "RUNNING") {
			break
		}
		require.True(t, time.Now().Before(deadline), "the study never started")
		time.Sleep(20 * time.Millisecond)
	}
	code, out, errOut := runArgs(t, "studies", "cancel", "hpo-long", "--reason", "enough", "--home", home)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "study hpo-long cancelled")
	select {
	case code := <-done:
		assert.Equal(t, 1, code, "the cancelled tune fails")
		assert.Contains(t, tuneErr.String(), "cancelled", "it says why")
	case <-time.After(2 * time.Minute):
		t.Fatal("tune kept running after the cancel")
	}
	code, out, errOut = runArgs(t, "studies", "show", "hpo-long", "--home", home)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `status\s+CANCELLED`, out)
	assert.Contains(t, out, "enough")
}
