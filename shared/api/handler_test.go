package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/synthetic"
)

func TestStartTraining(t *testing.T) {
	exec := &startCalls{}
	e := newEnv(t, exec)
	a := e.do(t, http.MethodPost, "/ml/training/start", e.trainingBody(""))
	require.Equal(t, http.StatusAccepted, a.status, "%s", a.body)
	got := a.json(t)
	jobID, _ := got["job_id"].(string)
	require.NotEmpty(t, jobID)
	assert.Equal(t, "QUEUED", got["status"])
	assert.Equal(t, "training", got["kind"])
	assert.Equal(t, "/ml/training/"+jobID+"/status", got["status_url"])
	assert.Equal(t, got["status_url"], a.header.Get("Location"))
	assert.Equal(t, []string{jobID}, exec.Started(), "the execution is started")

	job, err := e.rt.DB.GetJob(context.Background(), jobID)
	require.NoError(t, err)
	assert.Equal(t, store.Queued, job.Status)
	var cfg training.TrainingConfig
	require.NoError(t, json.Unmarshal(job.Config, &cfg))
	assert.Equal(t, e.csv, cfg.DatasetPath, "the stored path is the resolved one")
	assert.Equal(t, 5, cfg.Epochs)
	assert.Equal(t, []int{8}, cfg.HiddenLayers)
	assert.Equal(t, training.Defaults().LearningRate, cfg.LearningRate, "defaults fill the rest")

	t.Run("a relative path is found under a root", func(t *testing.T) {
		a := e.do(t, http.MethodPost, "/ml/training/start", `{"dataset_path": "syn.csv", "target_column": "label"}`)
		require.Equal(t, http.StatusAccepted, a.status, "%s", a.body)
	})
}

func TestStartTrainingRefusesBadInput(t *testing.T) {
	e := newEnv(t, nil)
	outside := filepath.Join(t.TempDir(), "outside.csv")
	require.NoError(t, os.WriteFile(outside, []byte(synthetic.TwoClassCSV(50, 2)), 0o644))
	link := filepath.Join(e.dataDir, "escape.csv")
	require.NoError(t, os.Symlink(outside, link))

	tests := []struct {
		name        string
		body        string
		contentType string
		status      int
		field       string
		detail      string
	}{
		{"empty body", "", "", 400, "body", "empty"},
		{"not JSON", `{"epochs": `, "", 400, "body", "invalid JSON"},
		{"an array", `[1, 2]`, "", 400, "body", "object"},
		{"trailing data", e.trainingBody("") + ` {}`, "", 400, "body", "trailing data"},
		{"unknown field", e.trainingBody(`"learning_rat": 0.1`), "", 400, "learning_rat", `did you mean "learning_rate"`},
		{"unknown nested field", e.trainingBody(`"early_stopping": {"patienc": 3}`), "", 400, "early_stopping.patienc", "unknown field"},
		{"duplicate key", strings.TrimSuffix(e.trainingBody(""), "}") + `, "epochs": 7}`, "", 400, "epochs", "twice"},
		{"string for a number", e.trainingBody(`"learning_rate": "fast"`), "", 400, "learning_rate", "must be a number"},
		{"fraction for an integer", e.trainingBody(`"batch_size": 12.5`), "", 400, "batch_size", "integer"},
		{"null", e.trainingBody(`"optimizer": null`), "", 400, "optimizer", "null"},
		{"integer overflow", e.trainingBody(`"seed": 99999999999999999999`), "", 400, "seed", "integer"},
		{"nested element type", e.trainingBody(`"features": ["a", 3]`), "", 400, "features[1]", "must be a string"},
		{"out of range", e.trainingBody(`"dropout_rate": 1.5`), "", 400, "dropout_rate", "not in [0, 1)"},
		{"out of range element", `{"dataset_path": "syn.csv", "target_column": "label", "hidden_layers": [8, 0]}`, "", 400, "hidden_layers[1]", "not in [1, 8192]"},
		{"bad enum", e.trainingBody(`"optimizer": "lbfgs"`), "", 400, "optimizer", "lbfgs"},
		{"bad nested enum", e.trainingBody(`"lr_schedule": {"kind": "linear"}`), "", 400, "lr_schedule.kind", "linear"},
		{"bad class weights", e.trainingBody(`"class_weights": [1, 2]`), "", 400, "class_weights", "balanced"},
		{"bad missing values", e.trainingBody(`"missing_values": "99"`), "", 400, "missing_values", "numbers"},
		{"split column and test file", e.trainingBody(`"split_column": "s", "test_dataset_path": "syn.csv"`), "", 400, "split_column", "not both"},
		{"test file outside the roots", e.trainingBody(fmt.Sprintf(`"test_dataset_path": %q`, outside)), "", 400, "test_dataset_path", "outside the data roots"},
		{"missing dataset_path", `{"target_column": "label"}`, "", 400, "dataset_path", "required"},
		{"missing target", fmt.Sprintf(`{"dataset_path": %q}`, e.csv), "", 400, "target_column", "required"},
		{"file that does not exist", `{"dataset_path": "nope.csv", "target_column": "label"}`, "", 400, "dataset_path", "does not exist"},
		{"path outside the roots", fmt.Sprintf(`{"dataset_path": %q, "target_column": "label"}`, outside), "", 400, "dataset_path", "outside the data roots"},
		{"dot-dot escape", `{"dataset_path": "../outside.csv", "target_column": "label"}`, "", 400, "dataset_path", "data roots"},
		{"symlink escape", `{"dataset_path": "escape.csv", "target_column": "label"}`, "", 400, "dataset_path", "outside the data roots"},
		{"a directory", fmt.Sprintf(`{"dataset_path": %q, "target_column": "label"}`, e.dataDir), "", 400, "dataset_path", "regular file"},
		{"s3 on the embedded runtime", `{"dataset_path": "s3://b/k.csv", "target_column": "label"}`, "", 400, "dataset_path", "local files"},
		{"another scheme", `{"dataset_path": "https://example.org/x.csv", "target_column": "label"}`, "", 400, "dataset_path", "scheme"},
		{"wrong media type", e.trainingBody(""), "text/csv", 415, "Content-Type", "application/json"},
		{"body too large", `{"name": "` + strings.Repeat("x", api.DefaultMaxBodyBytes) + `"}`, "", 413, "body", "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			headers := []string{}
			if tc.contentType != "" {
				headers = append(headers, "Content-Type", tc.contentType)
			}
			before := e.jobCount(t)
			a := e.do(t, http.MethodPost, "/ml/training/start", tc.body, headers...)
			require.Equal(t, tc.status, a.status, "%s", a.body)
			p := a.problem(t)
			assert.Equal(t, "/ml/training/start", p.Instance)
			require.NotEmpty(t, p.Errors, "the problem names the field")
			assert.Equal(t, tc.field, p.Errors[0].Field)
			assert.Contains(t, p.Errors[0].Detail, tc.detail)
			assert.Contains(t, p.Detail, tc.field)
			assert.Equal(t, before, e.jobCount(t), "nothing is written")
		})
	}

	t.Run("every wrong field is named", func(t *testing.T) {
		a := e.do(t, http.MethodPost, "/ml/training/start", e.trainingBody(`"epoch": 3, "seed": "x", "early_stopping": {"metric": 1}`))
		require.Equal(t, 400, a.status)
		assert.ElementsMatch(t, []string{"early_stopping.metric", "epoch", "seed"}, fields(a.problem(t)))
		p := a.problem(t)
		for _, f := range p.Errors {
			if f.Field == "early_stopping.metric" {
				assert.Equal(t, "/early_stopping/metric", f.Pointer)
			}
		}
	})
}

func TestStartTrainingWhenTheExecutionCannotStart(t *testing.T) {
	exec := &startCalls{failStart: errors.New("executor down")}
	e := newEnv(t, exec)
	a := e.do(t, http.MethodPost, "/ml/training/start", e.trainingBody(""), api.IdempotencyKeyHeader, "k-503")
	require.Equal(t, http.StatusServiceUnavailable, a.status, "%s", a.body)
	jobs, err := e.rt.DB.ListJobs(context.Background(), 0)
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	assert.Equal(t, store.Failed, jobs[0].Status, "the job is not left QUEUED for ever")
	assert.Contains(t, jobs[0].Error, "executor down")

	// A 5xx is not kept: the retry runs again, and succeeds now.
	exec.failStart = nil
	a = e.do(t, http.MethodPost, "/ml/training/start", e.trainingBody(""), api.IdempotencyKeyHeader, "k-503")
	require.Equal(t, http.StatusAccepted, a.status, "%s", a.body)
	assert.Empty(t, a.header.Get(api.ReplayedHeader))
}

func TestIdempotencyKey(t *testing.T) {
	exec := &startCalls{}
	e := newEnv(t, exec)
	body := e.trainingBody("")
	first := e.do(t, http.MethodPost, "/ml/training/start", body, api.IdempotencyKeyHeader, "req-1")
	require.Equal(t, http.StatusAccepted, first.status, "%s", first.body)

	t.Run("a retry gets the first answer and no second job", func(t *testing.T) {
		for range 3 {
			again := e.do(t, http.MethodPost, "/ml/training/start", body, api.IdempotencyKeyHeader, "req-1")
			require.Equal(t, http.StatusAccepted, again.status)
			assert.Equal(t, string(first.body), string(again.body))
			assert.Equal(t, first.header.Get("Location"), again.header.Get("Location"))
			assert.Equal(t, "true", again.header.Get(api.ReplayedHeader))
		}
		assert.Equal(t, 1, e.jobCount(t))
		assert.Len(t, exec.Started(), 1)
	})

	t.Run("a quoted key is the same key", func(t *testing.T) {
		again := e.do(t, http.MethodPost, "/ml/training/start", body, api.IdempotencyKeyHeader, `"req-1"`)
		assert.Equal(t, "true", again.header.Get(api.ReplayedHeader))
	})

	t.Run("the same key with another body is 422", func(t *testing.T) {
		a := e.do(t, http.MethodPost, "/ml/training/start", e.trainingBody(`"seed": 7`), api.IdempotencyKeyHeader, "req-1")
		require.Equal(t, http.StatusUnprocessableEntity, a.status, "%s", a.body)
		assert.Equal(t, []string{api.IdempotencyKeyHeader}, fields(a.problem(t)))
		assert.Equal(t, 1, e.jobCount(t))
	})

	t.Run("a new key is a new job", func(t *testing.T) {
		a := e.do(t, http.MethodPost, "/ml/training/start", body, api.IdempotencyKeyHeader, "req-2")
		require.Equal(t, http.StatusAccepted, a.status)
		assert.NotEqual(t, first.json(t)["job_id"], a.json(t)["job_id"])
		assert.Equal(t, 2, e.jobCount(t))
	})

	t.Run("bad input is answered the same way again", func(t *testing.T) {
		bad := e.trainingBody(`"epochs": -1`)
		a := e.do(t, http.MethodPost, "/ml/training/start", bad, api.IdempotencyKeyHeader, "req-bad")
		require.Equal(t, 400, a.status)
		b := e.do(t, http.MethodPost, "/ml/training/start", bad, api.IdempotencyKeyHeader, "req-bad")
		require.Equal(t, 400, b.status)
		assert.Equal(t, string(a.body), string(b.body))
		assert.Equal(t, "true", b.header.Get(api.ReplayedHeader))
	})

	t.Run("malformed keys", func(t *testing.T) {
		for _, k := range []string{`""`, strings.Repeat("k", 256), "caf\u00e9", "a\\b"} {
			a := e.do(t, http.MethodPost, "/ml/training/start", body, api.IdempotencyKeyHeader, k)
			require.Equal(t, 400, a.status, "key %q: %s", k, a.body)
			assert.Equal(t, []string{api.IdempotencyKeyHeader}, fields(a.problem(t)))
		}
	})

	t.Run("concurrent duplicates start one job", func(t *testing.T) {
		before := e.jobCount(t)
		var wg sync.WaitGroup
		statuses := make([]int, 16)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = e.do(t, http.MethodPost, "/ml/training/start", body, api.IdempotencyKeyHeader, "burst").status
			}()
		}
		wg.Wait()
		accepted := 0
		for _, s := range statuses {
			require.Contains(t, []int{http.StatusAccepted, http.StatusConflict}, s, "in-flight duplicates get 409")
			if s == http.StatusAccepted {
				accepted++
			}
		}
		assert.GreaterOrEqual(t, accepted, 1)
		assert.Equal(t, before+1, e.jobCount(t), "exactly one job")
	})

	t.Run("every POST route honours the key", func(t *testing.T) {
		m := e.registerModel(t, "mdl-idem")
		posts := []struct{ path, body string }{
			{"/ml/optimization/start", `{"base_config": {"dataset_path": "syn.csv", "target_column": "label"}, "search_space": [{"name": "learning_rate", "kind": "float", "low": 0.001, "high": 0.1}]}`},
			{"/ml/evaluation/evaluate", `{"model_id": "` + m.ID + `"}`},
			{"/ml/deployment/deploy", `{"model_id": "` + m.ID + `"}`},
		}
		for _, p := range posts {
			a := e.do(t, http.MethodPost, p.path, p.body, api.IdempotencyKeyHeader, "same-key"+p.path)
			b := e.do(t, http.MethodPost, p.path, p.body, api.IdempotencyKeyHeader, "same-key"+p.path)
			assert.Equal(t, a.status, b.status, p.path)
			assert.Equal(t, string(a.body), string(b.body), p.path)
		}
		// A cancel retried after it succeeded replays its 200 instead of a 409.
		start := e.do(t, http.MethodPost, "/ml/training/start", body)
		id := start.json(t)["job_id"].(string)
		c1 := e.do(t, http.MethodPost, "/ml/training/"+id+"/cancel", "", api.IdempotencyKeyHeader, "cancel-1")
		require.Equal(t, http.StatusOK, c1.status, "%s", c1.body)
		c2 := e.do(t, http.MethodPost, "/ml/training/"+id+"/cancel", "", api.IdempotencyKeyHeader, "cancel-1")
		require.Equal(t, http.StatusOK, c2.status, "%s", c2.body)
		assert.Equal(t, "true", c2.header.Get(api.ReplayedHeader))
		c3 := e.do(t, http.MethodPost, "/ml/training/"+id+"/cancel", "")
		assert.Equal(t, http.StatusConflict, c3.status, "without the key it is a new request")
	})
}

// Answers carry their length, so net/http sends a status answer (about
// its 2 KB response buffer) in one write instead of switching to chunked
// encoding: the status route is the API's busiest.
func TestAnswersCarryContentLength(t *testing.T) {
	e := newEnv(t, nil)
	id := e.do(t, http.MethodPost, "/ml/training/start", e.trainingBody("")).json(t)["job_id"].(string)
	_, err := e.rt.DB.UpdateJob(context.Background(), id, store.JobUpdate{Status: store.Running, Stage: "train",
		Progress: json.RawMessage(`{"job_id":"` + id + `","kind":"progress","stage":"train","step":3,"total":5,"unit":"epoch",` +
			`"metrics":{"loss":0.25,"val_auc_pr":0.8,"val_auc_roc":0.9,"val_accuracy":0.7,"val_f1":0.6},"eta_seconds":1.5,` +
			`"time":"2026-03-01T12:00:00Z","resources":{"cpu_percent":180,"rss_bytes":123456789}}`)})
	require.NoError(t, err)
	// A finished job's answer holds its result: over 2 KB here.
	var result strings.Builder
	result.WriteString(`{"metrics":{`)
	for i := range 100 {
		fmt.Fprintf(&result, `%q:%d.5,`, fmt.Sprintf("test_metric_%03d", i), i)
	}
	result.WriteString(`"test_auc_roc":0.97}}`)
	done := e.do(t, http.MethodPost, "/ml/training/start", e.trainingBody("")).json(t)["job_id"].(string)
	_, err = e.rt.DB.UpdateJob(context.Background(), done, store.JobUpdate{Status: store.Running, Stage: "train"})
	require.NoError(t, err)
	_, err = e.rt.DB.UpdateJob(context.Background(), done, store.JobUpdate{Status: store.Succeeded, Stage: "register",
		Result: json.RawMessage(result.String())})
	require.NoError(t, err)
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	for _, path := range []string{"/ml/training/" + id + "/status", "/ml/training/" + done + "/status", "/ml/training/trn-nope/status"} {
		resp, err := srv.Client().Get(srv.URL + path)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, resp.Body.Close())
		require.NoError(t, err)
		if path == "/ml/training/"+done+"/status" {
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
			require.Greater(t, len(body), 2048, "the finished answer is over net/http's 2 KB buffer")
		}
		assert.Empty(t, resp.TransferEncoding, "%s: not chunked", path)
		assert.EqualValues(t, len(body), resp.ContentLength, "%s", path)
	}
}

func TestTrainingStatus(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	id := e.do(t, http.MethodPost, "/ml/training/start", e.trainingBody("")).json(t)["job_id"].(string)

	a := e.do(t, http.MethodGet, "/ml/training/"+id+"/status", "")
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	got := a.json(t)
	assert.Equal(t, "QUEUED", got["status"])
	links := got["links"].(map[string]any)
	assert.Equal(t, "/ml/training/"+id+"/status", links["self"])
	assert.Equal(t, "/ml/training/"+id+"/cancel", links["cancel"])

	// As the pipeline records progress, the status shows it.
	_, err := e.rt.DB.UpdateJob(ctx, id, store.JobUpdate{Status: store.Running, Stage: "train",
		Progress: json.RawMessage(`{"job_id":"` + id + `","kind":"progress","stage":"train","step":3,"total":5,"unit":"epoch",` +
			`"metrics":{"loss":0.25,"val_auc_pr":0.8,"val_auc_roc":null},"eta_seconds":1.5,"time":"2026-03-01T12:00:00Z"}`)})
	require.NoError(t, err)
	got = e.do(t, http.MethodGet, "/ml/training/"+id+"/status", "").json(t)
	assert.Equal(t, "RUNNING", got["status"])
	assert.Equal(t, "train", got["stage"])
	assert.EqualValues(t, 3, got["epoch"])
	assert.EqualValues(t, 5, got["epochs"])
	assert.EqualValues(t, 0.25, got["loss"])
	assert.EqualValues(t, 1.5, got["eta_seconds"])
	metrics := got["metrics"].(map[string]any)
	assert.EqualValues(t, 0.8, metrics["val_auc_pr"])
	assert.Contains(t, metrics, "val_auc_roc")
	assert.Nil(t, metrics["val_auc_roc"], "an undefined metric is null")

	t.Run("unknown id", func(t *testing.T) {
		a := e.do(t, http.MethodGet, "/ml/training/trn-nope/status", "")
		require.Equal(t, http.StatusNotFound, a.status)
		assert.Contains(t, a.problem(t).Detail, "trn-nope")
		assert.NotContains(t, a.problem(t).Detail, "store:")
	})
	t.Run("malformed id", func(t *testing.T) {
		a := e.do(t, http.MethodGet, "/ml/training/%2e%2e%3b/status", "")
		require.Equal(t, http.StatusBadRequest, a.status, "%s", a.body)
		assert.Equal(t, []string{"job_id"}, fields(a.problem(t)))
	})
	t.Run("a job of another kind is not a training job", func(t *testing.T) {
		require.NoError(t, e.rt.DB.CreateJob(ctx, store.Job{ID: "study-1", Kind: "optimization", Status: store.Queued}))
		assert.Equal(t, http.StatusNotFound, e.do(t, http.MethodGet, "/ml/training/study-1/status", "").status)
	})
}

func TestCancelTraining(t *testing.T) {
	exec := &startCalls{}
	e := newEnv(t, exec)
	id := e.do(t, http.MethodPost, "/ml/training/start", e.trainingBody("")).json(t)["job_id"].(string)

	a := e.do(t, http.MethodPost, "/ml/training/"+id+"/cancel", `{"reason": "wrong column"}`)
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	got := a.json(t)
	assert.Equal(t, "CANCELLED", got["status"])
	assert.Equal(t, "cancelled by request: wrong column", got["error"])
	assert.NotContains(t, got["links"], "cancel")
	assert.Equal(t, []string{id}, exec.stopped, "the execution is told to stop")

	tests := []struct {
		name, path, body string
		status           int
	}{
		{"a finished job", "/ml/training/" + id + "/cancel", "", http.StatusConflict},
		{"unknown id", "/ml/training/trn-nope/cancel", "", http.StatusNotFound},
		{"unknown field", "/ml/training/" + id + "/cancel", `{"why": "x"}`, http.StatusBadRequest},
		{"reason too long", "/ml/training/" + id + "/cancel", `{"reason": "` + strings.Repeat("x", 501) + `"}`, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(t, http.MethodPost, tc.path, tc.body)
			require.Equal(t, tc.status, a.status, "%s", a.body)
			p := a.problem(t)
			if tc.status == http.StatusConflict {
				assert.Contains(t, p.Detail, "CANCELLED")
			}
		})
	}
}

func TestModels(t *testing.T) {
	e := newEnv(t, nil)
	a := e.do(t, http.MethodGet, "/ml/models", "")
	require.Equal(t, http.StatusOK, a.status)
	assert.JSONEq(t, `{"models": []}`, string(a.body))

	m := e.registerModel(t, "mdl-1")
	e.registerModel(t, "mdl-2")
	list := e.do(t, http.MethodGet, "/ml/models", "").json(t)["models"].([]any)
	require.Len(t, list, 2)

	got := e.do(t, http.MethodGet, "/ml/models/mdl-1", "")
	require.Equal(t, http.StatusOK, got.status)
	body := got.json(t)
	assert.Equal(t, m.ID, body["model_id"])
	assert.Equal(t, m.ArtifactKey, body["artifact_key"])
	assert.NotContains(t, body, "artifact_uri", "a path on the server's disk is not answered")
	assert.Equal(t, "/ml/evaluation/mdl-1/metrics", body["links"].(map[string]any)["metrics"])

	metrics := e.do(t, http.MethodGet, "/ml/evaluation/mdl-1/metrics", "")
	require.Equal(t, http.StatusOK, metrics.status)
	mm := metrics.json(t)
	assert.Equal(t, "registry", mm["source"])
	assert.EqualValues(t, 0.97, mm["metrics"].(map[string]any)["auc_roc"])

	for _, path := range []string{"/ml/models/mdl-nope", "/ml/evaluation/mdl-nope/metrics"} {
		a := e.do(t, http.MethodGet, path, "")
		require.Equal(t, http.StatusNotFound, a.status, path)
		assert.Contains(t, a.problem(t).Detail, "mdl-nope")
	}
}

func TestNotYetImplementedRoutesValidateFirst(t *testing.T) {
	e := newEnv(t, nil)
	e.registerModel(t, "mdl-1")
	tests := []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"optimization valid", "POST", "/ml/optimization/start", `{"base_config": {"dataset_path": "syn.csv", "target_column": "label"}, "search_space": [{"name": "dropout_rate", "kind": "float", "low": 0, "high": 0.5}]}`, 501, ""},
		{"optimization bad dimension", "POST", "/ml/optimization/start", `{"base_config": {"dataset_path": "syn.csv", "target_column": "label"}, "search_space": [{"name": "dropout_rate", "kind": "float", "low": 0, "high": 1.5}]}`, 400, "search_space[0].high"},
		{"optimization unknown field", "POST", "/ml/optimization/start", `{"base_config": {"dataset_path": "syn.csv", "target_column": "label", "epoch": 3}, "search_space": []}`, 400, "base_config.epoch"},
		{"optimization bad base config", "POST", "/ml/optimization/start", `{"base_config": {"dataset_path": "syn.csv", "target_column": "label", "epochs": -2}, "search_space": [{"name": "activation", "kind": "categorical", "choices": ["relu"]}]}`, 400, "base_config.epochs"},
		{"optimization no space", "POST", "/ml/optimization/start", `{"base_config": {"dataset_path": "syn.csv", "target_column": "label"}}`, 400, "search_space"},
		{"optimization results", "GET", "/ml/optimization/study-1/results", "", 501, ""},
		{"evaluation valid", "POST", "/ml/evaluation/evaluate", `{"model_id": "mdl-1", "cross_validation": {"folds": 5}}`, 501, ""},
		{"evaluation bad folds", "POST", "/ml/evaluation/evaluate", `{"model_id": "mdl-1", "cross_validation": {"folds": 1}}`, 400, "cross_validation.folds"},
		{"evaluation missing model", "POST", "/ml/evaluation/evaluate", `{}`, 400, "model_id"},
		{"deployment valid", "POST", "/ml/deployment/deploy", `{"model_id": "mdl-1", "strategy": "linear"}`, 501, ""},
		{"deployment bad strategy", "POST", "/ml/deployment/deploy", `{"model_id": "mdl-1", "strategy": "yolo"}`, 400, "strategy"},
		{"deployment bad gate", "POST", "/ml/deployment/deploy", `{"model_id": "mdl-1", "gates": {"min_auc_roc": 2}}`, 400, "gates.min_auc_roc"},
		{"deployment status", "GET", "/ml/deployment/dep-1/status", "", 501, ""},
		{"deployment canary 0", "POST", "/ml/deployment/deploy", `{"model_id": "mdl-1", "canary_percent": 0}`, 400, "canary_percent"},
		{"deployment bad psi", "POST", "/ml/deployment/deploy", `{"model_id": "mdl-1", "alarms": {"score_psi": -1}}`, 400, "alarms.score_psi"},
		{"deployment unknown alarm", "POST", "/ml/deployment/deploy", `{"model_id": "mdl-1", "alarms": {"psi": 1}}`, 400, "alarms.psi"},
		{"deployment bad environment", "POST", "/ml/deployment/deploy", `{"model_id": "mdl-1", "environment": "qa"}`, 400, "environment"},
		{"deployment rollback", "POST", "/ml/deployment/dep-1/rollback", "", 501, ""},
		{"deployment rollback bad body", "POST", "/ml/deployment/dep-1/rollback", `{"why": "x"}`, 400, "why"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(t, tc.method, tc.path, tc.body)
			require.Equal(t, tc.status, a.status, "%s", a.body)
			p := a.problem(t)
			if tc.field != "" {
				require.NotEmpty(t, p.Errors)
				assert.Equal(t, tc.field, p.Errors[0].Field)
			} else {
				assert.Contains(t, p.Detail, "is not served by this server")
			}
		})
	}
}

func TestUnroutedRequests(t *testing.T) {
	e := newEnv(t, nil)
	a := e.do(t, http.MethodGet, "/ml/nothing", "")
	require.Equal(t, http.StatusNotFound, a.status)
	assert.Contains(t, a.problem(t).Detail, "/openapi.json")

	a = e.do(t, http.MethodGet, "/ml/training/start", "")
	require.Equal(t, http.StatusMethodNotAllowed, a.status)
	assert.Equal(t, "POST", a.header.Get("Allow"))
	a.problem(t)

	a = e.do(t, http.MethodDelete, "/ml/models/mdl-1", "")
	require.Equal(t, http.StatusMethodNotAllowed, a.status)
	assert.Equal(t, "GET", a.header.Get("Allow"))
}

func TestNewHandlerNeedsItsPorts(t *testing.T) {
	e := newEnv(t, nil)
	_, err := api.NewHandler(&api.Service{Jobs: e.rt.DB}, api.Options{Idempotency: e.rt.DB})
	require.Error(t, err)
	_, err = api.NewHandler(e.svc, api.Options{})
	require.Error(t, err)
}

func TestLogisticRegressionNeedsNoHiddenLayersUndone(t *testing.T) {
	e := newEnv(t, nil)
	a := e.do(t, http.MethodPost, "/ml/training/start", `{"dataset_path": "syn.csv", "target_column": "label", "model_type": "logistic_regression"}`)
	require.Equal(t, http.StatusAccepted, a.status, "%s", a.body)
	job, err := e.rt.DB.GetJob(context.Background(), a.json(t)["job_id"].(string))
	require.NoError(t, err)
	var cfg training.TrainingConfig
	require.NoError(t, json.Unmarshal(job.Config, &cfg))
	assert.Empty(t, cfg.HiddenLayers)
	a = e.do(t, http.MethodPost, "/ml/training/start", `{"dataset_path": "syn.csv", "target_column": "label"}`)
	job, err = e.rt.DB.GetJob(context.Background(), a.json(t)["job_id"].(string))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(job.Config, &cfg))
	assert.Equal(t, training.DefaultHiddenLayers, cfg.HiddenLayers, "an mlp gets the default layers")
}
