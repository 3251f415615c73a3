package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTuneUsageErrors(t *testing.T) {
	home := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no data", []string{"tune", "--home", home}, "--data is required"},
		{"bad strategy", []string{"tune", "--data", "sample", "--strategy", "annealing", "--home", home}, "annealing"},
		{"bad pruner", []string{"tune", "--data", "sample", "--pruner", "oracle", "--home", home}, "oracle"},
		{"bad trials", []string{"tune", "--data", "sample", "--trials", "0", "--home", home}, "positive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runCLI(t.Context(), c.args, &out, &errOut)
			assert.Equal(t, 2, code)
			assert.Contains(t, errOut.String(), c.want)
		})
	}
	space := filepath.Join(t.TempDir(), "space.json")
	require.NoError(t, os.WriteFile(space, []byte(`{"learning_rate":[0.1,0.01]}`), 0o644))
	var out, errOut bytes.Buffer
	code := runCLI(t.Context(), []string{"tune", "--data", "sample", "--space", space, "--home", home}, &out, &errOut)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut.String(), "learning_rate")
}

func TestTuneJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 3 small networks on HTRU2")
	}
	home := t.TempDir()
	space := filepath.Join(t.TempDir(), "space.json")
	require.NoError(t, os.WriteFile(space, []byte(`{"dimensions":[
		{"name":"learning_rate","kind":"float","low":0.001,"high":0.03,"log":true},
		{"name":"n_layers","kind":"int","low":1,"high":1},
		{"name":"units_1","kind":"int","low":8,"high":16}]}`), 0o644))
	var out, errOut bytes.Buffer
	args := []string{"tune", "--data", "sample", "--space", space, "--strategy", "random", "--trials", "3", "--epochs", "2",
		"--pruner", "median", "--study", "cli-study", "--json", "--home", home}
	code := runCLI(t.Context(), args, &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	var res struct {
		StudyID   string `json:"study_id"`
		BestTrial struct {
			Number int            `json:"number"`
			Params map[string]any `json:"params"`
			Value  float64        `json:"value"`
		} `json:"best_trial"`
		Trials   []json.RawMessage `json:"trials"`
		Report   string            `json:"report"`
		Analysis struct {
			Omitted []string `json:"omitted"`
		} `json:"analysis"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &res))
	assert.Equal(t, "cli-study", res.StudyID)
	assert.Len(t, res.Trials, 3)
	assert.Greater(t, res.BestTrial.Value, 0.5, "HTRU2 AUC-PR of a trained MLP")
	assert.Contains(t, res.BestTrial.Params, "learning_rate")
	require.FileExists(t, res.Report)
	html, err := os.ReadFile(res.Report)
	require.NoError(t, err)
	assert.Contains(t, string(html), "cli-study")
	// Three trials are too few for importance and the contour: the report
	// and the answer say so.
	assert.Contains(t, string(html), "parameter importance: needs ≥ 4 complete trials (3 so far)")
	assert.Contains(t, res.Analysis.Omitted, "contour: needs ≥ 4 complete trials (3 so far)")

	// The study is reachable by id from status and studies.
	c, so, se := runArgs(t, "status", "cli-study", "--home", home)
	require.Equal(t, 0, c, se)
	assert.Contains(t, so, "SUCCEEDED")
	c, so, se = runArgs(t, "open", "cli-study", "--home", home)
	require.Equal(t, 0, c, se)
	assert.Equal(t, res.Report, strings.TrimSpace(so), "orrery open finds the study's report")
	c, so, se = runArgs(t, "studies", "list", "--home", home)
	require.Equal(t, 0, c, se)
	assert.Contains(t, so, "cli-study")
	c, _, se = runArgs(t, "studies", "show", "no-such-study", "--home", home)
	assert.Equal(t, 1, c)
	assert.Contains(t, se, "not found")

	// A study id names one study: a second one is refused, and a study
	// that ended has nothing to resume.
	errOut.Reset()
	code = runCLI(t.Context(), []string{"tune", "--data", "sample", "--space", space, "--trials", "5",
		"--epochs", "2", "--study", "cli-study", "--json", "--home", home}, &out, &errOut)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut.String(), "study cli-study exists")
	errOut.Reset()
	code = runCLI(t.Context(), []string{"tune", "--resume", "cli-study", "--home", home}, &out, &errOut)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut.String(), "the study has ended")
}
