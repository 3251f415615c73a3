package main

import (
	"bufio"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/tracking"
)

// progressEvents parses --progress json lines.
func progressEvents(t *testing.T, stderr string) []tracking.Event {
	t.Helper()
	var out []tracking.Event
	sc := bufio.NewScanner(strings.NewReader(stderr))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var e tracking.Event
		require.NoError(t, json.Unmarshal([]byte(line), &e), line)
		out = append(out, e)
	}
	return out
}

// lastStep is the last progress step of a stage and its total.
func lastStep(events []tracking.Event, stage string) (step, total, n int) {
	for _, e := range events {
		if e.Stage == stage && e.Kind == tracking.Progress {
			step, total, n = e.Step, e.Total, n+1
		}
	}
	return step, total, n
}

func trainTiny(t *testing.T, home, data string, extra ...string) string {
	t.Helper()
	args := append([]string{"train", "--data", data, "--target", "kind", "--positive", "real", "--epochs", "4",
		"--hidden-layers", "4", "--json", "--home", home}, extra...)
	code, out, errOut := runArgs(t, args...)
	require.Equal(t, 0, code, errOut)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	return res["model_id"].(string)
}

// TestEvaluateProgressAndManifestDefaults: evaluate takes the target and
// the positive class from the model's manifest, and reports its
// bootstrap resamples and cross-validation folds as JSON lines.
func TestEvaluateProgressAndManifestDefaults(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	data := sampleCSV(t)
	model := trainTiny(t, home, data)
	code, out, errOut := runArgs(t, "evaluate", "--model", model, "--data", data, "--bootstrap", "200", "--cv", "3",
		"--progress", "json", "--home", home)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "evaluation ")
	events := progressEvents(t, errOut)
	step, total, n := lastStep(events, "bootstrap")
	assert.Equal(t, 200, step)
	assert.Equal(t, 200, total)
	assert.LessOrEqual(t, n, 101, "resamples are thinned to about a hundred events")
	step, total, n = lastStep(events, "cross-validation")
	assert.Equal(t, 3, step)
	assert.Equal(t, 3, total)
	assert.Equal(t, 3, n, "one event per fold")
	for _, stage := range []string{"load", "analysis", "report"} {
		assert.True(t, hasFinished(events, stage), "stage %s", stage)
	}

	// The manifest's positive class is used: "real", not the alphabetical
	// second class.
	code, out, errOut = runArgs(t, "evaluate", "--model", model, "--data", data, "--bootstrap", "50", "--json", "--home", home)
	require.Equal(t, 0, code, errOut)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	assert.Equal(t, "real", res["metrics"].(map[string]any)["positive_class"])
	assert.Empty(t, progressEvents(t, errOut), "--json alone shows no progress")
}

func hasFinished(events []tracking.Event, stage string) bool {
	for _, e := range events {
		if e.Stage == stage && e.Kind == tracking.StageFinished && e.Err == "" {
			return true
		}
	}
	return false
}

// TestCompareProgress: compare reports its models and model pairs.
func TestCompareProgress(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	data := sampleCSV(t)
	a := trainTiny(t, home, data)
	b := trainTiny(t, home, data, "--seed", "7")
	c := trainTiny(t, home, data, "--seed", "9")
	code, out, errOut := runArgs(t, "compare", a, b, c, "--data", data, "--bootstrap", "50", "--progress", "json", "--home", home)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "rank")
	events := progressEvents(t, errOut)
	step, total, _ := lastStep(events, "models")
	assert.Equal(t, 3, step)
	assert.Equal(t, 3, total)
	step, total, n := lastStep(events, "tests")
	assert.Equal(t, 3, step)
	assert.Equal(t, 3, total)
	assert.Equal(t, 3, n)
}

// TestErrorPrintedOnce: a failing stage's bar says it failed; the error
// itself is printed once, on the last line.
func TestErrorPrintedOnce(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	data := sampleCSV(t)
	code, _, errOut := runArgs(t, "train", "--data", data, "--target", "nope", "--home", home)
	require.Equal(t, 1, code)
	assert.Equal(t, 1, strings.Count(errOut, "is not a column"), "%s", errOut)
	assert.Contains(t, errOut, "✗ validate")
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	assert.True(t, strings.HasPrefix(lines[len(lines)-1], "orrery: "), "%s", errOut)
}

func TestEventLine(t *testing.T) {
	e := tracking.Event{Stage: "train", Step: 12, Total: 60, Unit: "epoch", ETASeconds: 4.2,
		Metrics: map[string]float64{"loss": 0.31, "val_auc_pr": 0.92}}
	assert.Equal(t, "train  epoch 12/60 (20%)  loss 0.3100  val_auc_pr 0.9200  ETA 4s", eventLine(e))
	assert.Equal(t, "register", eventLine(tracking.Event{Stage: "register"}))
}

// TestStatusIsATable: status shows a job as a table with a progress line,
// and --json as the record.
func TestStatusIsATable(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	data := sampleCSV(t)
	code, out, errOut := runArgs(t, "train", "--data", data, "--target", "kind", "--epochs", "3", "--hidden-layers", "4",
		"--early-stopping-enabled=false", "--json", "--home", home)
	require.Equal(t, 0, code, errOut)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	job := res["job_id"].(string)
	code, out, errOut = runArgs(t, "status", job, "--home", home)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `job\s+`+job, out)
	assert.Regexp(t, `status\s+SUCCEEDED`, out)
	assert.Regexp(t, `progress\s+\S+`, out)
	assert.NotContains(t, out, "{", "no raw JSON in the table")
	code, out, _ = runArgs(t, "status", job, "--json", "--home", home)
	require.Equal(t, 0, code)
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &rec))
	assert.Equal(t, job, rec["job_id"])
}
