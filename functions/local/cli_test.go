package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runArgs(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runCLI(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func sampleCSV(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("flux,width,kind\n")
	for i := range 300 {
		x, y := float64(i%30)/30, float64((i*7)%30)/30
		kind := "bogus"
		if (i*13)%10 < 7 && y > 0.5 || (i*13)%10 >= 7 && y <= 0.5 {
			kind = "real" // y predicts the class 70 % of the time
		}
		fmt.Fprintf(&b, "%.4f,%.4f,%s\n", x, y, kind)
	}
	p := filepath.Join(t.TempDir(), "detections.csv")
	require.NoError(t, os.WriteFile(p, []byte(b.String()), 0o644))
	return p
}

func TestTrainJSONThenPredict(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	data := sampleCSV(t)
	cfg := filepath.Join(t.TempDir(), "cfg.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"epochs": 6, "hidden_layers": [8]}`), 0o644))

	code, out, errOut := runArgs(t, "train", "--data", data, "--target", "kind", "--positive", "real", "--config", cfg, "--json", "--home", home)
	require.Equal(t, 0, code, errOut)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	for _, k := range []string{"job_id", "model_id", "metrics", "artifacts"} {
		assert.Contains(t, res, k)
	}
	metrics := res["metrics"].(map[string]any)
	for _, k := range []string{"accuracy", "precision", "recall", "f1_score", "auc_roc", "auc_pr", "confusion_matrix", "classification_report", "custom_metrics"} {
		assert.Contains(t, metrics, k)
	}
	modelID := res["model_id"].(string)

	code, out, errOut = runArgs(t, "models", "--home", home)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, modelID)

	code, out, errOut = runArgs(t, "status", res["job_id"].(string), "--home", home, "--json")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, `"SUCCEEDED"`)

	pred := filepath.Join(t.TempDir(), "pred.csv")
	code, _, errOut = runArgs(t, "predict", "--model", modelID, "--data", data, "--out", pred, "--home", home)
	require.Equal(t, 0, code, errOut)
	f, err := os.Open(pred)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	assert.Equal(t, []string{"row", "predicted", "p_bogus", "p_real"}, rows[0])
	assert.Len(t, rows, 301)
	counts := map[string]int{}
	for _, r := range rows[1:] {
		counts[r[1]]++
	}
	assert.Equal(t, fmt.Sprintf("predicted 300 rows with model %s: %d bogus, %d real; written to %s\n", modelID,
		counts["bogus"], counts["real"], pred), errOut, "predict's one-line summary")

	// Through an endpoint: routed by the endpoint's router once deployed.
	code, _, errOut = runArgs(t, "predict", "--endpoint", "cli-ep", "--data", data, "--out", pred, "--home", home)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "endpoint cli-ep in dev does not exist")
	code, out, errOut = runArgs(t, "deploy", "--model", modelID, "--endpoint", "cli-ep", "--bake-seconds", "0", "--json", "--home", home)
	require.Equal(t, 0, code, "%s\n%s", out, errOut)
	viaEndpoint := filepath.Join(t.TempDir(), "pred-endpoint.csv")
	code, _, errOut = runArgs(t, "predict", "--endpoint", "cli-ep", "--data", data, "--out", viaEndpoint, "--home", home)
	require.Equal(t, 0, code, errOut)
	direct, err := os.ReadFile(pred)
	require.NoError(t, err)
	routed, err := os.ReadFile(viaEndpoint)
	require.NoError(t, err)
	assert.Equal(t, string(direct), string(routed), "the endpoint routes everything to its one model")
}

func TestErrorsAreOneLineWithNonZeroExit(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	empty := filepath.Join(t.TempDir(), "empty.csv")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	badCfg := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(badCfg, []byte(`{"epochs": 5, "learning_rat": 0.1}`), 0o644))
	fifo := filepath.Join(t.TempDir(), "some.csv")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown command", []string{"fly"}, 2, "unknown command"},
		{"missing data flag", []string{"train", "--target", "x", "--home", home}, 2, "--data is required"},
		{"missing file", []string{"train", "--data", "/nonexistent.csv", "--target", "x", "--home", home}, 1, "does not exist"},
		{"a named pipe (it used to hang)", []string{"train", "--data", fifo, "--target", "x", "--home", home, "--quiet"}, 1, "a named pipe"},
		{"predictions over the data file", []string{"predict", "--model", "mdl-x", "--data", empty, "--out", empty, "--home", home}, 2, "would overwrite the data"},
		{"empty file", []string{"train", "--data", empty, "--target", "x", "--home", home, "--quiet"}, 1, "empty"},
		{"unknown config field", []string{"train", "--data", empty, "--target", "x", "--config", badCfg, "--home", home}, 1, "learning_rat"},
		{"status of unknown job", []string{"status", "trn-nope", "--home", home}, 1, "not found"},
		{"bad progress mode", []string{"train", "--data", empty, "--target", "x", "--progress", "loud", "--home", home}, 2, "--progress"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runArgs(t, tc.args...)
			assert.Equal(t, tc.code, code)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tc.want)
			assert.True(t, strings.HasPrefix(errOut, "orrery: "), errOut)
			assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
			assert.NotContains(t, errOut, "goroutine", "no stack trace")
		})
	}
}

func TestRunOnTheBundledSample(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the default MLP on HTRU2")
	}
	home := filepath.Join(t.TempDir(), "home")
	code, out, errOut := runArgs(t, "run", "--home", home)
	require.Equal(t, 0, code, errOut)
	for _, want := range []string{"Trained mlp on htru2.csv (17898 rows, 8 features)", "auc_roc", "f1_score", "Per class:", "Confusion matrix", "model", "validation_report"} {
		assert.Contains(t, out, want)
	}
	assert.Contains(t, errOut, "epoch", "progress bars on stderr")
}
