package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/store"
)

// TestEvaluationAnswersMatchTheDocument drives the evaluation routes with
// the embedded evaluation service plugged in — a real training and a real
// evaluation — and checks every answer against the OpenAPI document.
func TestEvaluationAnswersMatchTheDocument(t *testing.T) {
	if testing.Short() {
		t.Skip("trains and evaluates a small model")
	}
	e, x := newTrainingEnv(t)
	// The evaluation service `orrery serve` has, before the first request.
	e.svc.Evaluations = e.rt.Service(x, e.svc.DataRoots).Evaluations
	d := newDocValidator(fetchDoc(t, e))
	call := func(method, path, body string, headers ...string) answer {
		t.Helper()
		a := e.do(t, method, path, body, headers...)
		d.check(t, method, path, a)
		return a
	}
	poll := func(path string) map[string]any {
		t.Helper()
		var last map[string]any
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			last = call(http.MethodGet, path, "").json(t)
			if store.Status(last["status"].(string)).Terminal() {
				break
			}
		}
		return last
	}

	start := call(http.MethodPost, "/ml/training/start", e.trainingBody(`"epochs": 15, "batch_size": 32, "learning_rate": 0.01`))
	require.Equal(t, http.StatusAccepted, start.status)
	trained := poll(start.json(t)["status_url"].(string))
	require.Equal(t, "SUCCEEDED", trained["status"], "%v", trained)
	modelID := trained["model_id"].(string)

	registry := call(http.MethodGet, "/ml/evaluation/"+modelID+"/metrics", "").json(t)
	assert.Equal(t, "registry", registry["source"])

	body := `{"model_id": "` + modelID + `", "bootstrap": {"iterations": 100}, "cross_validation": {"folds": 2}}`
	acc := call(http.MethodPost, "/ml/evaluation/evaluate", body, api.IdempotencyKeyHeader, "doc-eval")
	require.Equal(t, http.StatusAccepted, acc.status, "%s", acc.body)
	replay := call(http.MethodPost, "/ml/evaluation/evaluate", body, api.IdempotencyKeyHeader, "doc-eval")
	assert.Equal(t, "true", replay.header.Get(api.ReplayedHeader))
	assert.Equal(t, acc.json(t)["job_id"], replay.json(t)["job_id"])
	statusURL := acc.json(t)["status_url"].(string)
	assert.Equal(t, api.EvaluationStatusURL(acc.json(t)["job_id"].(string)), statusURL)
	done := poll(statusURL)
	require.Equal(t, "SUCCEEDED", done["status"], "%v", done)
	ev := done["result"].(map[string]any)["evaluation"].(map[string]any)
	assert.NotNil(t, ev["cross_validation"], "cross-validation was asked for")

	metrics := call(http.MethodGet, "/ml/evaluation/"+modelID+"/metrics", "").json(t)
	assert.Equal(t, "evaluation", metrics["source"])
	assert.Equal(t, ev["metrics"], metrics["metrics"])

	// A numeric decision_threshold evaluates at that operating point; the
	// metrics route then serves it.
	fixed := call(http.MethodPost, "/ml/evaluation/evaluate", `{"model_id": "`+modelID+`", "decision_threshold": "0.4", "bootstrap": {"iterations": 100}}`)
	require.Equal(t, http.StatusAccepted, fixed.status, "%s", fixed.body)
	done = poll(fixed.json(t)["status_url"].(string))
	require.Equal(t, "SUCCEEDED", done["status"], "%v", done)
	ev = done["result"].(map[string]any)["evaluation"].(map[string]any)
	assert.Equal(t, 0.4, ev["decision_threshold"])
	assert.Equal(t, "request", ev["threshold_source"])
	assert.Equal(t, 0.4, ev["metrics"].(map[string]any)["decision_threshold"])
	metrics = call(http.MethodGet, "/ml/evaluation/"+modelID+"/metrics", "").json(t)
	assert.Equal(t, "evaluation", metrics["source"])
	assert.Equal(t, 0.4, metrics["metrics"].(map[string]any)["decision_threshold"])
	assert.Equal(t, 0.4, metrics["evaluation"].(map[string]any)["decision_threshold"])
	assert.Equal(t, "request", metrics["evaluation"].(map[string]any)["threshold_source"])

	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{http.MethodPost, "/ml/evaluation/evaluate", `{"model_id": "mdl-absent"}`, http.StatusNotFound},
		{http.MethodPost, "/ml/evaluation/evaluate", `{"model_id": "` + modelID + `", "decision_threshold": "0"}`, http.StatusBadRequest},
		{http.MethodPost, "/ml/evaluation/evaluate", `{"model_id": "` + modelID + `", "decision_threshold": "1.5"}`, http.StatusBadRequest},
		{http.MethodPost, "/ml/evaluation/evaluate", `{"model_id": "` + modelID + `", "compare_to": ["` + modelID + `"]}`, http.StatusBadRequest},
		{http.MethodGet, "/ml/evaluation/evj-absent/status", "", http.StatusNotFound},
		{http.MethodGet, "/ml/evaluation/" + start.json(t)["job_id"].(string) + "/status", "", http.StatusNotFound},
		{http.MethodGet, "/ml/evaluation/-bad/status", "", http.StatusBadRequest},
	} {
		a := call(c.method, c.path, c.body)
		assert.Equal(t, c.status, a.status, "%s %s: %s", c.method, c.path, a.body)
	}
}
