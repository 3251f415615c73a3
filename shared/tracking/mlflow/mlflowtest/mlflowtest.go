package mlflowtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// EnvServerURI names the variable holding the test MLflow server's URI,
// exported by scripts/test.d/35-mlflow.sh.
const EnvServerURI = "ORRERY_TEST_MLFLOW_URI"

// ServerURI returns the test MLflow server's URI, or skips t with a message
// naming EnvServerURI when it is unset.
func ServerURI(t testing.TB) string {
	t.Helper()
	uri := os.Getenv(EnvServerURI)
	if uri == "" {
		t.Skip(EnvServerURI + " is unset: no MLflow server (make test starts one)")
	}
	return uri
}

// REST reads the MLflow server at URI through its REST API. Each method
// fails T (require) on a transport error, a status other than 200 or an
// answer that is not the JSON it expects.
type REST struct {
	T   testing.TB
	URI string
}

// NewREST returns a REST reader of the server at uri that fails t.
func NewREST(t testing.TB, uri string) REST { return REST{T: t, URI: uri} }

// Call sends method path (relative to URI, starting with /api/) with in as
// its JSON body when in is not nil, and decodes the answer into out.
func (m REST) Call(method, path string, in, out any) {
	m.T.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		require.NoError(m.T, err)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, m.URI+path, body)
	require.NoError(m.T, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(m.T, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(m.T, err)
	require.Equal(m.T, http.StatusOK, resp.StatusCode, "%s %s: %s", method, path, b)
	require.NoError(m.T, json.Unmarshal(b, out), "%s", b)
}

// Run is a run as runs/search answers it.
type Run struct {
	Info struct {
		RunID  string `json:"run_id"`
		Status string `json:"status"`
	} `json:"info"`
	Data struct {
		Params []struct{ Key, Value string } `json:"params"`
		Tags   []struct{ Key, Value string } `json:"tags"`
	} `json:"data"`
}

// Tags returns the run's tags by key.
func (r Run) Tags() map[string]string {
	out := map[string]string{}
	for _, kv := range r.Data.Tags {
		out[kv.Key] = kv.Value
	}
	return out
}

// Params returns the run's params by key.
func (r Run) Params() map[string]string {
	out := map[string]string{}
	for _, kv := range r.Data.Params {
		out[kv.Key] = kv.Value
	}
	return out
}

// Runs returns the runs of the experiment named experiment that filter (an
// MLflow search filter) matches, at most 1000.
func (m REST) Runs(experiment, filter string) []Run {
	m.T.Helper()
	var exp struct {
		Experiment struct {
			ID string `json:"experiment_id"`
		} `json:"experiment"`
	}
	m.Call(http.MethodGet, "/api/2.0/mlflow/experiments/get-by-name?experiment_name="+url.QueryEscape(experiment), nil, &exp)
	var got struct {
		Runs []Run `json:"runs"`
	}
	m.Call(http.MethodPost, "/api/2.0/mlflow/runs/search", map[string]any{"experiment_ids": []string{exp.Experiment.ID},
		"filter": filter, "max_results": 1000}, &got)
	return got.Runs
}

// Metric is one point of a metric's history.
type Metric struct {
	Key       string  `json:"key"`
	Value     float64 `json:"value"`
	Timestamp int64   `json:"timestamp"`
	Step      int64   `json:"step"`
}

// History returns the points of metric key of run runID, at most 5000,
// ordered by step (points of one step in the server's order).
func (m REST) History(runID, key string) []Metric {
	m.T.Helper()
	var got struct {
		Metrics []Metric `json:"metrics"`
	}
	m.Call(http.MethodGet, "/api/2.0/mlflow/metrics/get-history?max_results=5000&run_id="+runID+"&metric_key="+key, nil, &got)
	sort.SliceStable(got.Metrics, func(i, j int) bool { return got.Metrics[i].Step < got.Metrics[j].Step })
	return got.Metrics
}

// Artifacts returns the paths of the artifacts of run runID directly under
// path (not recursively).
func (m REST) Artifacts(runID, path string) []string {
	m.T.Helper()
	var got struct {
		Files []struct {
			Path string `json:"path"`
		} `json:"files"`
	}
	m.Call(http.MethodGet, "/api/2.0/mlflow/artifacts/list?run_id="+runID+"&path="+url.QueryEscape(path), nil, &got)
	var out []string
	for _, f := range got.Files {
		out = append(out, f.Path)
	}
	return out
}

// Alias returns the version, and the run it came from, that alias of the
// registered model name points to.
func (m REST) Alias(name, alias string) (version, runID string) {
	m.T.Helper()
	var got struct {
		ModelVersion struct {
			Version string `json:"version"`
			RunID   string `json:"run_id"`
		} `json:"model_version"`
	}
	m.Call(http.MethodGet, "/api/2.0/mlflow/registered-models/alias?name="+url.QueryEscape(name)+"&alias="+alias, nil, &got)
	return got.ModelVersion.Version, got.ModelVersion.RunID
}
