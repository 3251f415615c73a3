package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
)

func TestReportRoutes(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small model")
	}
	e, _ := newTrainingEnv(t)
	e.svc.Reports = e.rt.Reports()
	start := e.do(t, http.MethodPost, "/ml/training/start", e.trainingBody(`"epochs": 6`))
	require.Equal(t, http.StatusAccepted, start.status, "%s", start.body)
	id := start.json(t)["job_id"].(string)
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if st := store.Status(e.do(t, http.MethodGet, "/ml/training/"+id+"/status", "").json(t)["status"].(string)); st.Terminal() {
			require.Equal(t, store.Succeeded, st)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	links := e.do(t, http.MethodGet, "/ml/training/"+id+"/status", "").json(t)["links"].(map[string]any)
	assert.Equal(t, "/ml/training/"+id+"/report", links["report"], "the status links the report")
	page := e.do(t, http.MethodGet, links["report"].(string), "")
	require.Equal(t, http.StatusOK, page.status, "%s", page.body)
	assert.Equal(t, "text/html; charset=utf-8", page.header.Get("Content-Type"))
	assert.Equal(t, "nosniff", page.header.Get("X-Content-Type-Options"))
	html := string(page.body)
	assert.Contains(t, html, "Training job "+id)
	assert.Equal(t, 3, strings.Count(html, `<img alt="`), "learning curves and confusion matrix")

	hist := e.do(t, http.MethodGet, "/ml/jobs/"+id+"/artifacts/history.json", "")
	require.Equal(t, http.StatusOK, hist.status, "%s", hist.body)
	assert.Equal(t, "application/json", hist.header.Get("Content-Type"))
	var epochs []map[string]any
	require.NoError(t, json.Unmarshal(hist.body, &epochs))
	assert.Len(t, epochs, 6)

	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/ml/jobs/" + id + "/artifacts/nope.json", http.StatusNotFound},
		{"/ml/jobs/trn-nobody/artifacts/history.json", http.StatusNotFound},
		{"/ml/training/trn-nobody/report", http.StatusNotFound},
		{"/ml/evaluation/" + id + "/report", http.StatusNotFound},
		{"/ml/optimization/hpo-nobody/report", http.StatusNotFound},
		{"/ml/deployment/dep-nobody/report", http.StatusNotFound},
		{"/ml/training/bad%20id/report", http.StatusBadRequest},
	} {
		a := e.do(t, http.MethodGet, tc.path, "")
		assert.Equal(t, tc.status, a.status, "%s: %s", tc.path, a.body)
		a.problem(t)
	}

	// Without a report service the routes answer 501.
	e.svc.Reports = nil
	a := e.do(t, http.MethodGet, "/ml/training/"+id+"/report", "")
	assert.Equal(t, http.StatusNotImplemented, a.status)
	a = e.do(t, http.MethodGet, "/ml/jobs/"+id+"/artifacts/history.json", "")
	assert.Equal(t, http.StatusNotImplemented, a.status)
}

func TestOpenAPIDocumentsTheReports(t *testing.T) {
	doc := fetchDoc(t, newEnv(t, nil))
	paths := doc["paths"].(map[string]any)
	for _, p := range []string{"/ml/training/{job_id}/report", "/ml/optimization/{job_id}/report",
		"/ml/evaluation/{job_id}/report", "/ml/deployment/{deployment_id}/report"} {
		ok := paths[p].(map[string]any)["get"].(map[string]any)["responses"].(map[string]any)["200"].(map[string]any)
		assert.Contains(t, ok["content"], "text/html", p)
	}
	art := paths["/ml/jobs/{job_id}/artifacts/{key}"].(map[string]any)["get"].(map[string]any)
	var names []string
	for _, p := range art["parameters"].([]any) {
		names = append(names, p.(map[string]any)["name"].(string))
	}
	assert.Equal(t, []string{"job_id", "key"}, names)
}
