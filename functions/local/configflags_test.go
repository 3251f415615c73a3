package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/training"
)

func TestTrainHelpListsEveryConfigField(t *testing.T) {
	code, out, _ := runArgs(t, "train", "--help")
	require.Equal(t, 0, code)
	for _, f := range training.ConfigFields() {
		assert.Contains(t, out, "--"+configFlagName(f.Path)+" ", "field %s has no flag in --help", f.Path)
	}
	assert.Contains(t, out, "--epochs int")
	assert.Contains(t, out, "(default 60)")
	assert.Contains(t, out, "--learning-rate float")
	assert.Contains(t, out, "(default 0.003)")
}

func TestTrainFlagsOverrideConfigFile(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	data := sampleCSV(t)
	cfg := filepath.Join(t.TempDir(), "cfg.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"epochs": 40, "dropout_rate": 0.3, "batch_size": 32}`), 0o644))
	code, out, errOut := runArgs(t, "train", "--data", data, "--target", "kind", "--positive", "real", "--config", cfg,
		"--epochs", "3", "--hidden-layers", "4", "--dropout-rate", "0", "--lr-schedule-kind", "constant",
		"--early-stopping-enabled=false", "--json", "--home", home)
	require.Equal(t, 0, code, errOut)
	var res training.Result
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	assert.Equal(t, 3, res.Config.Epochs)
	assert.Equal(t, 3, res.Training.EpochsRun, "early stopping off: every epoch runs")
	assert.Equal(t, []int{4}, res.Config.HiddenLayers)
	assert.Zero(t, res.Config.DropoutRate, "--dropout-rate 0 is a value, overriding the file's 0.3")
	assert.Equal(t, 32, res.Config.BatchSize, "a field no flag names keeps the file's value")
	assert.Equal(t, "constant", res.Config.Schedule.Kind)
}

func TestTrainFlagRefusals(t *testing.T) {
	data := sampleCSV(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--epochs", "0"}, "--epochs: must be at least 1, got 0"},
		{[]string{"--learning-rate", "fast"}, `--learning-rate: "fast" is not a finite number`},
		{[]string{"--dropout-rate", "1.5"}, "--dropout-rate"},
		{[]string{"--hidden-layers", "8,x"}, "--hidden-layers"},
		{[]string{"--from-trial", "/3"}, "--from-trial"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			home := filepath.Join(t.TempDir(), "home")
			args := append([]string{"train", "--data", data, "--target", "kind", "--home", home}, tc.args...)
			code, _, errOut := runArgs(t, args...)
			assert.NotEqual(t, 0, code)
			assert.Contains(t, errOut, tc.want)
			assert.Equal(t, 1, strings.Count(errOut, "orrery:"), "the error is printed once: %s", errOut)
			_, err := os.Stat(filepath.Join(home, "models"))
			assert.True(t, os.IsNotExist(err), "nothing trained")
		})
	}
}
