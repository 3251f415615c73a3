package main

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/api"
)

// TestServeTunesOverHTTP: `orrery serve` runs POST /ml/optimization/start
// through the optimization state machine on the bundled HTRU2 (a few epochs
// per trial): 202 + results URL, a retried POST is the same study, and the
// results end SUCCEEDED with every trial, a best trial and the report.
func TestServeTunesOverHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("tunes on HTRU2 through the HTTP API")
	}
	home := filepath.Join(t.TempDir(), "home")
	s := startServe(t, "--home", home, "--data-root", t.TempDir())
	body := `{"base_config": {"dataset_path": "htru2.csv", "target_column": "class", "positive_class": "1", "epochs": 3},
	  "search_space": [{"name": "learning_rate", "kind": "float", "low": 0.001, "high": 0.03, "log": true},
	                   {"name": "hidden_layers", "kind": "categorical", "choices": [[8], [16, 8]]}],
	  "budget": {"max_trials": 4, "max_parallel": 2}}`
	code, acc := s.call(t, http.MethodPost, "/ml/optimization/start", body, api.IdempotencyKeyHeader, "tune-1")
	require.Equal(t, http.StatusAccepted, code, "%v", acc)
	code, again := s.call(t, http.MethodPost, "/ml/optimization/start", body, api.IdempotencyKeyHeader, "tune-1")
	require.Equal(t, http.StatusAccepted, code, "%v", again)
	assert.Equal(t, acc["job_id"], again["job_id"], "a retried POST is the same study")

	res := s.waitFor(t, acc["status_url"].(string))
	require.Equal(t, "SUCCEEDED", res["status"], "%v", res)
	assert.Len(t, res["trials"], 4)
	best := res["best_trial"].(map[string]any)
	assert.Greater(t, best["values"].([]any)[0].(float64), 0.8, "val AUC-PR of the best trial on HTRU2")
	// The report is linked through the API, not named by its path on the
	// server's disk.
	id := acc["job_id"].(string)
	assert.Equal(t, "/ml/jobs/"+id+"/artifacts/report.html", res["links"].(map[string]any)["report"])
	_, err := os.Stat(filepath.Join(home, "artifacts", "studies", id, "report.html"))
	require.NoError(t, err)

	code, missing := s.call(t, http.MethodGet, "/ml/optimization/hpo-absent/results", "")
	assert.Equal(t, http.StatusNotFound, code, "%v", missing)
}
