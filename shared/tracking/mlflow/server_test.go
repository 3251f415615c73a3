package mlflow_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/tracking/mlflow"
)

// serverURI returns the real MLflow server that scripts/test.d/35-mlflow.sh
// starts, or skips.
func serverURI(t *testing.T) string {
	t.Helper()
	uri := os.Getenv("ORRERY_TEST_MLFLOW_URI")
	if uri == "" {
		t.Skip("ORRERY_TEST_MLFLOW_URI is unset: no MLflow server (make test starts one)")
	}
	return uri
}

// get reads a REST answer of the server directly, not through the client.
func get(t *testing.T, uri, path string, out any) {
	t.Helper()
	resp, err := http.Get(uri + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, b)
	require.NoError(t, json.Unmarshal(b, out), "%s", b)
}

// TestAgainstMLflowServer drives every call of the client against a real
// `mlflow server` and reads the result back through MLflow's own REST API:
// the experiment, a parent and a nested run, params split over several
// log-batch requests, a 1500-point metric history, an artifact, a model
// version and its alias.
func TestAgainstMLflowServer(t *testing.T) {
	uri := serverURI(t)
	ctx := t.Context()
	c, err := mlflow.NewFromEnv(uri)
	require.NoError(t, err)

	name := fmt.Sprintf("orrery-client-%d", time.Now().UnixNano())
	exp, err := c.ExperimentID(ctx, name)
	require.NoError(t, err)
	again, err := c.ExperimentID(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, exp, again, "get-or-create finds the experiment the second time")

	start := time.Now().UnixMilli()
	parent, err := c.CreateRun(ctx, exp, "study", "", start, []mlflow.KV{{Key: "orrery.kind", Value: "study"}})
	require.NoError(t, err)
	child, err := c.CreateRun(ctx, exp, "trial-0", parent, start, nil)
	require.NoError(t, err)

	var params []mlflow.KV
	for i := range 150 {
		params = append(params, mlflow.KV{Key: fmt.Sprintf("p%03d", i), Value: fmt.Sprint(i)})
	}
	var metrics []mlflow.Metric
	for step := range 1500 {
		metrics = append(metrics, mlflow.Metric{Key: "loss", Value: 1 / float64(step+1), Timestamp: start + int64(step), Step: int64(step)})
	}
	require.NoError(t, c.LogBatch(ctx, child, metrics, params, []mlflow.KV{{Key: "backend", Value: "gonum"}}))
	require.NoError(t, c.UploadArtifact(ctx, exp, child, "reports/metrics.json", []byte(`{"auc": 0.98}`)))
	require.NoError(t, c.UpdateRun(ctx, child, "FINISHED", time.Now().UnixMilli()))
	require.NoError(t, c.UpdateRun(ctx, parent, "FINISHED", time.Now().UnixMilli()))

	var run struct {
		Run struct {
			Info struct {
				Status string `json:"status"`
			} `json:"info"`
			Data struct {
				Params []mlflow.KV `json:"params"`
				Tags   []mlflow.KV `json:"tags"`
			} `json:"data"`
		} `json:"run"`
	}
	get(t, uri, "/api/2.0/mlflow/runs/get?run_id="+child, &run)
	assert.Equal(t, "FINISHED", run.Run.Info.Status)
	assert.Len(t, run.Run.Data.Params, 150, "every param, over two log-batch requests")
	tags := map[string]string{}
	for _, kv := range run.Run.Data.Tags {
		tags[kv.Key] = kv.Value
	}
	assert.Equal(t, parent, tags["mlflow.parentRunId"], "nested under the study's run")
	assert.Equal(t, "gonum", tags["backend"])

	var history struct {
		Metrics []mlflow.Metric `json:"metrics"`
	}
	get(t, uri, "/api/2.0/mlflow/metrics/get-history?max_results=5000&metric_key=loss&run_id="+child, &history)
	require.Len(t, history.Metrics, 1500, "the whole history, over two log-batch requests")
	assert.InDelta(t, 1.0/1500, history.Metrics[len(history.Metrics)-1].Value, 1e-12)

	var arts struct {
		Files []struct {
			Path string `json:"path"`
		} `json:"files"`
	}
	get(t, uri, "/api/2.0/mlflow/artifacts/list?path=reports&run_id="+child, &arts)
	require.Len(t, arts.Files, 1)
	assert.Equal(t, "reports/metrics.json", arts.Files[0].Path)

	version, err := c.CreateModelVersion(ctx, name, "runs:/"+child+"/model", child)
	require.NoError(t, err)
	second, err := c.CreateModelVersion(ctx, name, "runs:/"+child+"/model", child)
	require.NoError(t, err, "an existing registered model gets a new version")
	assert.NotEqual(t, version, second)
	require.NoError(t, c.SetAlias(ctx, name, "champion", version))
	var alias struct {
		ModelVersion struct {
			Version string `json:"version"`
			RunID   string `json:"run_id"`
		} `json:"model_version"`
	}
	get(t, uri, "/api/2.0/mlflow/registered-models/alias?name="+url.QueryEscape(name)+"&alias=champion", &alias)
	assert.Equal(t, version, alias.ModelVersion.Version)
	assert.Equal(t, child, alias.ModelVersion.RunID)
}
