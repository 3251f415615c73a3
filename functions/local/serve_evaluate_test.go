package main

import (
	"context"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/embedded"
	"github.com/orrery-ml/orrery/shared/ml/nn"
)

// waitFor polls a status URL until the job has finished, and returns its
// last status.
func (s *server) waitFor(t *testing.T, statusURL string) map[string]any {
	t.Helper()
	var st map[string]any
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		var code int
		code, st = s.call(t, http.MethodGet, statusURL, "")
		require.Equal(t, http.StatusOK, code, "%v", st)
		switch st["status"] {
		case "SUCCEEDED", "FAILED", "CANCELLED":
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not finish: %v", statusURL, st)
	return nil
}

// trainQuick trains a small model with hidden layers hidden (JSON) on the
// bundled HTRU2 and returns its id. Every model has the same split seed,
// hence the same test split.
func (s *server) trainQuick(t *testing.T, hidden string) string {
	t.Helper()
	code, acc := s.call(t, http.MethodPost, "/ml/training/start",
		`{"dataset_path": "htru2.csv", "target_column": "class", "positive_class": "1", "epochs": 3, "hidden_layers": `+hidden+`}`)
	require.Equal(t, http.StatusAccepted, code, "%v", acc)
	st := s.waitFor(t, acc["status_url"].(string))
	require.Equal(t, "SUCCEEDED", st["status"], "%v", st)
	return st["model_id"].(string)
}

// TestServeEvaluatesOverHTTP: POST /ml/evaluation/evaluate runs an
// evaluation job in the background (202 + status URL), compare_to ranks the
// models, a retried POST is the same job, and GET
// /ml/evaluation/{model_id}/metrics then serves the stored evaluation.
func TestServeEvaluatesOverHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two models on HTRU2 and evaluates them through the HTTP API")
	}
	home := filepath.Join(t.TempDir(), "home")
	s := startServe(t, "--home", home, "--data-root", t.TempDir())
	first, second := s.trainQuick(t, "[8]"), s.trainQuick(t, "[4]")

	// Before any evaluation, the metrics are the registry's.
	code, before := s.call(t, http.MethodGet, "/ml/evaluation/"+first+"/metrics", "")
	require.Equal(t, http.StatusOK, code, "%v", before)
	assert.Equal(t, "registry", before["source"])

	t.Run("bad input", func(t *testing.T) {
		tests := []struct {
			name, body string
			code       int
			field      string
		}{
			{"unknown model", `{"model_id": "mdl-absent"}`, http.StatusNotFound, ""},
			{"unknown model to compare", `{"model_id": "` + first + `", "compare_to": ["mdl-absent"]}`, http.StatusNotFound, ""},
			{"compared with itself", `{"model_id": "` + first + `", "compare_to": ["` + first + `"]}`, http.StatusBadRequest, ""},
			{"no model", `{}`, http.StatusBadRequest, "model_id"},
			{"too few resamples", `{"model_id": "` + first + `", "bootstrap": {"iterations": 10}}`, http.StatusBadRequest, "bootstrap.iterations"},
			{"one fold", `{"model_id": "` + first + `", "cross_validation": {"folds": 1}}`, http.StatusBadRequest, "cross_validation.folds"},
			{"target without data", `{"model_id": "` + first + `", "target_column": "class"}`, http.StatusBadRequest, "target_column"},
			{"data outside the roots", `{"model_id": "` + first + `", "dataset_path": "/etc/passwd"}`, http.StatusBadRequest, "dataset_path"},
			{"unknown target", `{"model_id": "` + first + `", "dataset_path": "htru2.csv", "target_column": "nope"}`, http.StatusAccepted, ""},
			{"threshold zero", `{"model_id": "` + first + `", "decision_threshold": "0"}`, http.StatusBadRequest, "decision_threshold"},
			{"threshold one", `{"model_id": "` + first + `", "decision_threshold": "1"}`, http.StatusBadRequest, "decision_threshold"},
			{"unknown field", `{"model_id": "` + first + `", "folds": 3}`, http.StatusBadRequest, "folds"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				code, answer := s.call(t, http.MethodPost, "/ml/evaluation/evaluate", tc.body)
				require.Equal(t, tc.code, code, "%v", answer)
				if tc.field != "" {
					assert.Equal(t, tc.field, answer["errors"].([]any)[0].(map[string]any)["field"], "%v", answer)
				}
				if code == http.StatusAccepted {
					// A request the evaluation itself refuses fails its job,
					// saying why.
					st := s.waitFor(t, answer["status_url"].(string))
					assert.Equal(t, "FAILED", st["status"])
					assert.Contains(t, st["error"], "nope")
				}
			})
		}
	})

	body := `{"model_id": "` + first + `", "bootstrap": {"iterations": 200}, "compare_to": ["` + second + `"], "decision_threshold": "f1"}`
	// Concurrent duplicates with one Idempotency-Key are one job.
	ids := make([]string, 4)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			for {
				code, acc := s.call(t, http.MethodPost, "/ml/evaluation/evaluate", body, api.IdempotencyKeyHeader, "eval-1")
				if code == http.StatusConflict { // the first is still being answered
					time.Sleep(10 * time.Millisecond)
					continue
				}
				assert.Equal(t, http.StatusAccepted, code, "%v", acc)
				ids[i], _ = acc["job_id"].(string)
				return
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		assert.Equal(t, ids[0], id, "a retried POST is the same job")
	}
	statusURL := api.EvaluationStatusURL(ids[0])
	st := s.waitFor(t, statusURL)
	require.Equal(t, "SUCCEEDED", st["status"], "%v", st)
	assert.Equal(t, "evaluation", st["kind"])
	assert.Equal(t, first, st["model_id"])
	links := st["links"].(map[string]any)
	assert.Equal(t, statusURL, links["self"])
	assert.NotContains(t, links, "cancel")
	assert.Equal(t, "/ml/evaluation/"+first+"/metrics", links["metrics"])

	result := st["result"].(map[string]any)
	ev := result["evaluation"].(map[string]any)
	assert.Equal(t, first, ev["model_id"])
	assert.Greater(t, ev["metrics"].(map[string]any)["auc_roc"].(float64), 0.9)
	assert.Contains(t, ev["confidence_intervals"], "auc_roc")
	assert.NotEmpty(t, ev["derived_model_id"], "decision_threshold f1 saves a new model version")
	assert.Contains(t, ev["split"], "own test split", "by default the model's own test split is scored")
	cmp := result["comparison"].(map[string]any)
	assert.Equal(t, ev["test_set_hash"], cmp["test_set_hash"], "both models scored on the evaluated rows")
	assert.Len(t, cmp["ranking"], 2, "%v", cmp)

	code, metrics := s.call(t, http.MethodGet, "/ml/evaluation/"+first+"/metrics", "")
	require.Equal(t, http.StatusOK, code, "%v", metrics)
	assert.Equal(t, "evaluation", metrics["source"])
	assert.Equal(t, ev["metrics"], metrics["metrics"], "the stored evaluation is served")
	assert.Equal(t, ev["evaluation_id"], metrics["evaluation"].(map[string]any)["evaluation_id"])
	assert.Equal(t, "model", ev["threshold_source"], "decision_threshold f1 evaluates at the model's own threshold")

	t.Run("fixed threshold", func(t *testing.T) {
		code, acc := s.call(t, http.MethodPost, "/ml/evaluation/evaluate", `{"model_id": "`+first+`", "decision_threshold": "0.3", "bootstrap": {"iterations": 100}}`)
		require.Equal(t, http.StatusAccepted, code, "%v", acc)
		st := s.waitFor(t, acc["status_url"].(string))
		require.Equal(t, "SUCCEEDED", st["status"], "%v", st)
		fixed := st["result"].(map[string]any)["evaluation"].(map[string]any)
		assert.Equal(t, 0.3, fixed["decision_threshold"])
		assert.Equal(t, "request", fixed["threshold_source"])
		assert.Equal(t, ev["decision_threshold"], fixed["model_threshold"], "the model's own threshold is reported beside it")
		assert.Empty(t, fixed["derived_model_id"], "a fixed threshold registers no model")
		code, metrics := s.call(t, http.MethodGet, "/ml/evaluation/"+first+"/metrics", "")
		require.Equal(t, http.StatusOK, code, "%v", metrics)
		assert.Equal(t, 0.3, metrics["metrics"].(map[string]any)["decision_threshold"])
		assert.Equal(t, 0.3, metrics["evaluation"].(map[string]any)["decision_threshold"])
		assert.Equal(t, "request", metrics["evaluation"].(map[string]any)["threshold_source"])
	})

	t.Run("status of what is not an evaluation", func(t *testing.T) {
		code, _ := s.call(t, http.MethodGet, "/ml/evaluation/evj-absent/status", "")
		assert.Equal(t, http.StatusNotFound, code)
		code, _ = s.call(t, http.MethodGet, "/ml/training/"+ids[0]+"/status", "")
		assert.Equal(t, http.StatusNotFound, code, "an evaluation job is not a training job")
		code, _ = s.call(t, http.MethodGet, "/ml/evaluation/bad%20id/status", "")
		assert.Equal(t, http.StatusBadRequest, code)
	})

	require.Equal(t, 0, s.stop(), "serve stops cleanly: %s", s.stderr.String())
	rt, err := embedded.Open(context.Background(), home, nil)
	require.NoError(t, err)
	defer rt.Close()
	dir, err := rt.ModelDir(context.Background(), first)
	require.NoError(t, err)
	model, err := nn.LoadDir(dir)
	require.NoError(t, err)
	assert.Equal(t, ev["decision_threshold"], model.Manifest.Threshold, "the model keeps its own threshold")
	jobs, err := rt.DB.ListJobs(context.Background(), 0)
	require.NoError(t, err)
	evaluations := 0
	for _, j := range jobs {
		if j.Kind == api.JobKindEvaluation {
			evaluations++
		}
	}
	assert.Equal(t, 3, evaluations, "one job for the duplicated POST, one for the unknown target, one at a fixed threshold; refused requests start none")
}
