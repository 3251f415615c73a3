package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
)

// The embedded runtime's artifact store is a directory of the server's
// home: answers name its files by API link or key, never by that path
// (issue 14).
func TestAnswersNameArtifactsByLinkOrKey(t *testing.T) {
	e := newEnv(t, &startCalls{})
	ctx := context.Background()
	uri := e.rt.Artifacts.URI
	home := strings.TrimSuffix(uri("k"), "k")
	require.True(t, strings.HasPrefix(home, "/"), "the store is a local directory: %s", home)

	// A finished training job whose result lists its artifacts as the
	// pipeline writes them: the store's URIs, here absolute paths.
	cfg, err := training.Defaults().Normalize()
	require.NoError(t, err)
	result, err := json.Marshal(map[string]any{
		"model_id": "mdl-a",
		"artifacts": map[string]string{
			"history":  uri("jobs/trn-a/history.json"),
			"metrics":  uri("jobs/trn-a/metrics.json"),
			"model":    uri("models/mdl-a"),
			"manifest": uri("models/mdl-a/manifest.json"),
			"foreign":  "/srv/elsewhere/x.json",
			"remote":   "s3://artifacts/jobs/trn-a/x.json",
		},
	})
	require.NoError(t, err)
	require.NoError(t, e.rt.DB.CreateJob(ctx, store.Job{ID: "trn-a", Kind: training.JobKindTraining, Status: store.Succeeded,
		Config: cfg.JSON(), Result: result, ModelID: "mdl-a"}))
	m := store.Model{ID: "mdl-a", Name: "syn", JobID: "trn-a", ModelType: "mlp", ArtifactKey: "models/mdl-a",
		ArtifactURI: uri("models/mdl-a"), Metrics: json.RawMessage(`{"auc_roc":0.9}`), DataHash: "h"}
	require.NoError(t, e.rt.DB.RegisterModel(ctx, m))
	remote := store.Model{ID: "mdl-s3", Name: "syn", ModelType: "mlp", ArtifactKey: "models/mdl-s3",
		ArtifactURI: "s3://artifacts/models/mdl-s3", Metrics: json.RawMessage(`{}`), DataHash: "h"}
	require.NoError(t, e.rt.DB.RegisterModel(ctx, remote))

	noHome := func(t *testing.T, body []byte) {
		t.Helper()
		assert.NotContains(t, string(body), home, "the answer holds no path on the server's disk")
		assert.NotContains(t, string(body), "/srv/elsewhere")
	}
	wantKeys := map[string]any{
		"model": "models/mdl-a", "manifest": "models/mdl-a/manifest.json", "remote": "s3://artifacts/jobs/trn-a/x.json",
	}

	t.Run("status without a report service: keys", func(t *testing.T) {
		a := e.do(t, http.MethodGet, "/ml/training/trn-a/status", "")
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		noHome(t, a.body)
		body := a.json(t)
		want := map[string]any{"history": "jobs/trn-a/history.json", "metrics": "jobs/trn-a/metrics.json"}
		for k, v := range wantKeys {
			want[k] = v
		}
		assert.Equal(t, want, body["links"].(map[string]any)["artifacts"])
		assert.Equal(t, want, body["result"].(map[string]any)["artifacts"], "the result names them the same way")
		assert.Equal(t, "mdl-a", body["result"].(map[string]any)["model_id"], "the rest of the result is kept")
	})

	t.Run("status with a report service: links to the job's files", func(t *testing.T) {
		// A fresh service: the first answered the finished job from its cache.
		e := newEnv(t, &startCalls{})
		e.svc.Reports = e.rt.Reports()
		fresh := strings.TrimSuffix(e.rt.Artifacts.URI("k"), "k")
		moved := strings.ReplaceAll(strings.ReplaceAll(string(result), home, fresh), "trn-a", "trn-b")
		require.NoError(t, e.rt.DB.CreateJob(ctx, store.Job{ID: "trn-b", Kind: training.JobKindTraining, Status: store.Succeeded,
			Config: cfg.JSON(), Result: json.RawMessage(moved), ModelID: "mdl-a"}))
		a := e.do(t, http.MethodGet, "/ml/training/trn-b/status", "")
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		assert.NotContains(t, string(a.body), fresh, "the answer holds no path on the server's disk")
		want := map[string]any{"history": "/ml/jobs/trn-b/artifacts/history.json", "metrics": "/ml/jobs/trn-b/artifacts/metrics.json",
			"model": "models/mdl-a", "manifest": "models/mdl-a/manifest.json", "remote": "s3://artifacts/jobs/trn-b/x.json"}
		assert.Equal(t, want, a.json(t)["links"].(map[string]any)["artifacts"])
	})

	t.Run("evaluation status: report files by key", func(t *testing.T) {
		res, err := json.Marshal(map[string]any{"evaluation": map[string]any{"model_id": "mdl-a", "report": map[string]string{
			"report.html": uri("evaluations/mdl-a/evl-1/report.html"), "roc.png": uri("evaluations/mdl-a/evl-1/roc.png"),
		}}})
		require.NoError(t, err)
		require.NoError(t, e.rt.DB.CreateJob(ctx, store.Job{ID: "evl-1", Kind: api.JobKindEvaluation, Status: store.Succeeded,
			Config: json.RawMessage(`{"model_id": "mdl-a"}`), Result: res, ModelID: "mdl-a"}))
		a := e.do(t, http.MethodGet, "/ml/evaluation/evl-1/status", "")
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		noHome(t, a.body)
		ev := a.json(t)["result"].(map[string]any)["evaluation"].(map[string]any)
		assert.Equal(t, map[string]any{"report.html": "evaluations/mdl-a/evl-1/report.html", "roc.png": "evaluations/mdl-a/evl-1/roc.png"}, ev["report"])
		assert.Equal(t, "mdl-a", ev["model_id"])
	})

	t.Run("metrics from an evaluation: report files by key", func(t *testing.T) {
		ev, err := json.Marshal(map[string]any{"metrics": map[string]any{"auc_roc": 0.9},
			"report": map[string]string{"report.html": uri("evaluations/mdl-a/evl-1/report.html")}})
		require.NoError(t, err)
		e.svc.Evaluations = storedEvaluation{raw: ev}
		t.Cleanup(func() { e.svc.Evaluations = nil })
		a := e.do(t, http.MethodGet, "/ml/evaluation/mdl-a/metrics", "")
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		noHome(t, a.body)
		got := a.json(t)["evaluation"].(map[string]any)
		assert.Equal(t, map[string]any{"report.html": "evaluations/mdl-a/evl-1/report.html"}, got["report"])
	})

	t.Run("models: artifact_key, and artifact_uri only off the server", func(t *testing.T) {
		a := e.do(t, http.MethodGet, "/ml/models/mdl-a", "")
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		noHome(t, a.body)
		body := a.json(t)
		assert.Equal(t, "models/mdl-a", body["artifact_key"])
		assert.NotContains(t, body, "artifact_uri")

		s3 := e.do(t, http.MethodGet, "/ml/models/mdl-s3", "").json(t)
		assert.Equal(t, "s3://artifacts/models/mdl-s3", s3["artifact_uri"])

		list := e.do(t, http.MethodGet, "/ml/models", "")
		require.Equal(t, http.StatusOK, list.status)
		noHome(t, list.body)
	})
}

// storedEvaluation answers one stored evaluation; the other methods are not
// called here.
type storedEvaluation struct {
	api.Evaluations
	raw json.RawMessage
}

func (s storedEvaluation) EvaluationMetrics(context.Context, string) (json.RawMessage, error) {
	return s.raw, nil
}
