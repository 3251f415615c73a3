package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/api"
)

// newOptimizationEnv is newEnv with the embedded runtime's studies plugged
// in, which run for real in the background.
func newOptimizationEnv(t *testing.T) *env {
	t.Helper()
	e, x := newTrainingEnv(t)
	e.svc.Optimizations = e.rt.Service(x, e.svc.DataRoots).Optimizations
	h, err := api.NewHandler(e.svc, api.Options{Idempotency: e.rt.DB})
	require.NoError(t, err)
	e.h = h
	return e
}

func (e *env) optimizationBody(extra string) string {
	base := map[string]any{
		"name":        "syn",
		"base_config": map[string]any{"dataset_path": e.csv, "target_column": "label", "positive_class": "pulsar", "epochs": 3, "batch_size": 32},
		"search_space": []any{
			map[string]any{"name": "learning_rate", "kind": "float", "low": 0.001, "high": 0.1, "log": true},
			map[string]any{"name": "hidden_layers", "kind": "categorical", "choices": []any{[]int{4}, []int{8, 4}}},
		},
		"strategy": "random", "budget": map[string]any{"max_trials": 4, "max_parallel": 2},
	}
	if extra != "" {
		var over map[string]any
		if err := json.Unmarshal([]byte("{"+extra+"}"), &over); err != nil {
			panic(err)
		}
		for k, v := range over {
			base[k] = v
		}
	}
	b, _ := json.Marshal(base)
	return string(b)
}

func TestOptimizationRoutes(t *testing.T) {
	e := newOptimizationEnv(t)
	d := newDocValidator(fetchDoc(t, e))
	call := func(method, path, body string, headers ...string) answer {
		a := e.do(t, method, path, body, headers...)
		d.check(t, method, path, a)
		return a
	}
	start := call(http.MethodPost, "/ml/optimization/start", e.optimizationBody(""), api.IdempotencyKeyHeader, "hpo-1")
	require.Equal(t, http.StatusAccepted, start.status, "%s", start.body)
	acc := start.json(t)
	id := acc["job_id"].(string)
	assert.Equal(t, "optimization", acc["kind"])
	assert.Equal(t, "/ml/optimization/"+id+"/results", acc["status_url"])

	// The same request with the same key is the same study.
	again := call(http.MethodPost, "/ml/optimization/start", e.optimizationBody(""), api.IdempotencyKeyHeader, "hpo-1")
	require.Equal(t, http.StatusAccepted, again.status)
	assert.Equal(t, id, again.json(t)["job_id"])
	studies, err := e.rt.DB.ListStudies(context.Background(), 0)
	require.NoError(t, err)
	assert.Len(t, studies, 1, "a duplicate POST starts one study")

	var res map[string]any
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		a := call(http.MethodGet, acc["status_url"].(string), "")
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		res = a.json(t)
		if res["status"] != "RUNNING" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.Equal(t, "SUCCEEDED", res["status"], "study: %v", res)
	assert.Equal(t, "trial_budget", res["stop_reason"])
	assert.Len(t, res["trials"], 4)
	best := res["best_trial"].(map[string]any)
	assert.Contains(t, []any{"4", "8-4"}, best["params"].(map[string]any)["hidden_layers"])
	assert.NotNil(t, res["analysis"])
	report := res["links"].(map[string]any)["report"].(string)
	html, err := os.ReadFile(report)
	require.NoError(t, err)
	assert.True(t, strings.Contains(string(html), id))

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"unknown study", http.MethodGet, "/ml/optimization/hpo-nope/results", "", http.StatusNotFound, ""},
		{"bad id", http.MethodGet, "/ml/optimization/bad%20id/results", "", http.StatusBadRequest, "job_id"},
		{"bad strategy", http.MethodPost, "/ml/optimization/start", e.optimizationBody(`"strategy": "cma"`), http.StatusBadRequest, "strategy"},
		{"no search space", http.MethodPost, "/ml/optimization/start", e.optimizationBody(`"search_space": []`), http.StatusBadRequest, "search_space"},
		{"bad layer choice", http.MethodPost, "/ml/optimization/start",
			e.optimizationBody(`"search_space": [{"name": "hidden_layers", "kind": "categorical", "choices": ["wide"]}]`), http.StatusBadRequest, "search_space"},
		{"data outside the roots", http.MethodPost, "/ml/optimization/start",
			e.optimizationBody(`"base_config": {"dataset_path": "/etc/passwd", "target_column": "label"}`), http.StatusBadRequest, "base_config.dataset_path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := call(tc.method, tc.path, tc.body)
			require.Equal(t, tc.status, a.status, "%s", a.body)
			if tc.field != "" {
				assert.Contains(t, fields(a.problem(t)), tc.field)
			}
		})
	}
	studies, err = e.rt.DB.ListStudies(context.Background(), 0)
	require.NoError(t, err)
	assert.Len(t, studies, 1, "refused requests store nothing")
}
