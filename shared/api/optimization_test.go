package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
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
	// Without a report service the report is named by its artifact key,
	// not by a path on the server's disk.
	report := res["links"].(map[string]any)["report"].(string)
	assert.Equal(t, "studies/"+id+"/report.html", report)
	rc, err := e.rt.Artifacts.Get(context.Background(), report)
	require.NoError(t, err)
	html, err := io.ReadAll(rc)
	require.NoError(t, rc.Close())
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

// waitStudy polls a study's results until its status is not RUNNING.
func waitStudy(t *testing.T, call func(method, path, body string, headers ...string) answer, id string) map[string]any {
	t.Helper()
	var res map[string]any
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		a := call(http.MethodGet, "/ml/optimization/"+id+"/results", "")
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		if res = a.json(t); res["status"] != "RUNNING" {
			return res
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("study %s still running: %v", id, res)
	return nil
}

// TestOptimizationTrainBestAndCancel: train-best starts a training job
// with the best trial's configuration that runs to a registered model;
// a named trial is trained the same way; cancel marks a running study
// CANCELLED and stops it, and refuses a finished one with 409.
func TestOptimizationTrainBestAndCancel(t *testing.T) {
	e := newOptimizationEnv(t)
	d := newDocValidator(fetchDoc(t, e))
	call := func(method, path, body string, headers ...string) answer {
		a := e.do(t, method, path, body, headers...)
		d.check(t, method, path, a)
		return a
	}
	start := call(http.MethodPost, "/ml/optimization/start", e.optimizationBody(""))
	require.Equal(t, http.StatusAccepted, start.status, "%s", start.body)
	id := start.json(t)["job_id"].(string)
	res := waitStudy(t, call, id)
	require.Equal(t, "SUCCEEDED", res["status"], "study: %v", res)
	best := res["best_trial"].(map[string]any)
	bestLR := best["params"].(map[string]any)["learning_rate"].(float64)

	tb := call(http.MethodPost, "/ml/optimization/"+id+"/train-best", "")
	require.Equal(t, http.StatusAccepted, tb.status, "%s", tb.body)
	acc := tb.json(t)
	assert.Equal(t, "training", acc["kind"])
	jobID := acc["job_id"].(string)
	var st map[string]any
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		st = call(http.MethodGet, acc["status_url"].(string), "").json(t)
		if st["status"] != "QUEUED" && st["status"] != "RUNNING" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.Equal(t, "SUCCEEDED", st["status"], "training: %v", st)
	assert.NotEmpty(t, st["model_id"])
	job, err := e.rt.DB.GetJob(context.Background(), jobID)
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(job.Config, &cfg))
	assert.InDelta(t, bestLR, cfg["learning_rate"], 1e-12, "the best trial's learning rate")
	assert.EqualValues(t, 3, cfg["epochs"], "the study's base configuration")
	assert.Equal(t, id+"-trial-"+jsonNumber(best["number"]), cfg["name"])

	named := call(http.MethodPost, "/ml/optimization/"+id+"/train-best", `{"trial": 0, "name": "first"}`)
	if res["trials"].([]any)[0].(map[string]any)["state"] == "COMPLETE" {
		require.Equal(t, http.StatusAccepted, named.status, "%s", named.body)
	} else {
		require.Equal(t, http.StatusConflict, named.status, "%s", named.body)
	}
	for _, tc := range []struct {
		name, path, body string
		status           int
	}{
		{"no such trial", "/ml/optimization/" + id + "/train-best", `{"trial": 99}`, http.StatusNotFound},
		{"negative trial", "/ml/optimization/" + id + "/train-best", `{"trial": -1}`, http.StatusBadRequest},
		{"unknown field", "/ml/optimization/" + id + "/train-best", `{"trail": 1}`, http.StatusBadRequest},
		{"no such study", "/ml/optimization/hpo-nope/train-best", "", http.StatusNotFound},
		{"cancel a finished study", "/ml/optimization/" + id + "/cancel", "", http.StatusConflict},
		{"cancel no such study", "/ml/optimization/hpo-nope/cancel", "", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := call(http.MethodPost, tc.path, tc.body)
			require.Equal(t, tc.status, a.status, "%s", a.body)
		})
	}

	// A long study, cancelled while it runs.
	long := call(http.MethodPost, "/ml/optimization/start",
		e.optimizationBody(`"budget": {"max_trials": 200, "max_parallel": 1}, "base_config": {"dataset_path": "`+e.csv+`", "target_column": "label", "epochs": 50, "batch_size": 8}`))
	require.Equal(t, http.StatusAccepted, long.status, "%s", long.body)
	longID := long.json(t)["job_id"].(string)
	c := call(http.MethodPost, "/ml/optimization/"+longID+"/cancel", `{"reason": "enough"}`)
	require.Equal(t, http.StatusOK, c.status, "%s", c.body)
	assert.Equal(t, "CANCELLED", c.json(t)["status"])
	deadline = time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		x, err := e.rt.DB.GetExecution(context.Background(), "optimization", longID)
		require.NoError(t, err)
		if x.Status.Terminal() {
			// Stopped, or, when its next step found the study cancelled
			// before the stop arrived (a busy machine), ended by itself as
			// cancelled; never as a failure.
			if x.Status != "ABORTED" {
				assert.Equal(t, "FAILED", string(x.Status))
				assert.Equal(t, "Orrery.Cancelled", x.Error, "the execution ended as cancelled: %+v", x)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	res = waitStudy(t, call, longID)
	assert.Equal(t, "CANCELLED", res["status"], "the stopped execution leaves the study CANCELLED")
	assert.Contains(t, res["error"], "enough")
	assert.Less(t, len(res["trials"].([]any)), 200, "the study stopped")
	again := call(http.MethodPost, "/ml/optimization/"+longID+"/cancel", "")
	assert.Equal(t, http.StatusConflict, again.status, "%s", again.body)
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
