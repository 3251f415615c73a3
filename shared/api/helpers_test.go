package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/embedded"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/localexec"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/synthetic"
)

// startCalls is an api.Executions for tests of the HTTP layer: it records
// which jobs were started and stopped and runs nothing, unless failStart is
// set.
type startCalls struct {
	mu        sync.Mutex
	started   []string
	stopped   []string
	failStart error
}

func (s *startCalls) StartTraining(_ context.Context, jobID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failStart != nil {
		return s.failStart
	}
	s.started = append(s.started, jobID)
	return nil
}

func (s *startCalls) StopTraining(_ context.Context, jobID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = append(s.stopped, jobID)
	return nil
}

func (s *startCalls) Started() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.started...)
}

// env is a handler over a fresh embedded runtime.
type env struct {
	rt      *embedded.Runtime
	svc     *api.Service
	h       http.Handler
	dataDir string
	csv     string // a small learnable CSV under dataDir
}

// newEnv opens a runtime in a temporary home, with a data root holding one
// small CSV, and builds the handler with exec as its executions.
func newEnv(t testing.TB, exec api.Executions) *env {
	t.Helper()
	return buildEnv(t, func(*embedded.Runtime) api.Executions { return exec })
}

// newTrainingEnv is newEnv with the embedded runtime's Executions, which
// train for real in the background.
func newTrainingEnv(t testing.TB) (*env, *localexec.Executions) {
	t.Helper()
	var ex *localexec.Executions
	e := buildEnv(t, func(rt *embedded.Runtime) api.Executions {
		var err error
		ex, err = rt.Executions(embedded.ExecutionOptions{Parallel: 1})
		require.NoError(t, err)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			require.NoError(t, ex.Close(ctx))
		})
		return pipeline.Flows{Executions: ex}
	})
	return e, ex
}

func buildEnv(t testing.TB, execFor func(*embedded.Runtime) api.Executions) *env {
	t.Helper()
	rt, err := embedded.Open(context.Background(), filepath.Join(t.TempDir(), "home"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	exec := execFor(rt)
	dataDir := t.TempDir()
	csv := filepath.Join(dataDir, "syn.csv")
	require.NoError(t, os.WriteFile(csv, []byte(synthetic.TwoClassCSV(400, 1)), 0o644))
	roots, err := api.NewDataRoots(dataDir)
	require.NoError(t, err)
	if exec == nil {
		exec = &startCalls{}
	}
	svc := &api.Service{Jobs: rt.DB, Models: rt.DB, Executions: exec, DataRoots: roots, Artifacts: rt.Artifacts}
	h, err := api.NewHandler(svc, api.Options{Idempotency: rt.DB})
	require.NoError(t, err)
	return &env{rt: rt, svc: svc, h: h, dataDir: dataDir, csv: csv}
}

// answer is a recorded response.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(a.body, &m), "body: %s", a.body)
	return m
}

// problem decodes a problem+json answer.
func (a answer) problem(t testing.TB) api.Problem {
	t.Helper()
	require.Equal(t, api.ProblemContentType, a.header.Get("Content-Type"), "body: %s", a.body)
	var p api.Problem
	require.NoError(t, json.Unmarshal(a.body, &p))
	require.Equal(t, a.status, p.Status)
	return p
}

// fields lists the field names of a problem's errors.
func fields(p api.Problem) []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

// do sends one request to the handler; headers alternate name, value.
func (e *env) do(t testing.TB, method, path, body string, headers ...string) answer {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return answer{status: w.Code, header: w.Result().Header, body: bytes.Clone(w.Body.Bytes())}
}

// trainingBody is a valid training request on the env's CSV; extra holds
// members ("epochs": 8, ...) that are added or replace the defaults here.
func (e *env) trainingBody(extra string) string {
	base := map[string]any{"dataset_path": e.csv, "target_column": "label", "positive_class": "pulsar",
		"epochs": 5, "hidden_layers": []int{8}}
	if extra != "" {
		var over map[string]any
		if err := json.Unmarshal([]byte("{"+extra+"}"), &over); err != nil {
			panic(fmt.Sprintf("trainingBody: extra %q: %v", extra, err))
		}
		for k, v := range over {
			base[k] = v
		}
	}
	b, _ := json.Marshal(base)
	return string(b)
}

// jobCount returns how many jobs the store holds.
func (e *env) jobCount(t testing.TB) int {
	t.Helper()
	jobs, err := e.rt.DB.ListJobs(context.Background(), 0)
	require.NoError(t, err)
	return len(jobs)
}

// registerModel stores a model record, as a finished training would.
func (e *env) registerModel(t testing.TB, id string) store.Model {
	t.Helper()
	m := store.Model{ID: id, Name: "syn-mlp", JobID: "trn-1", ModelType: "mlp", ArtifactKey: "models/" + id,
		ArtifactURI: "/tmp/models/" + id, Metrics: json.RawMessage(`{"auc_roc":0.97,"auc_pr":0.91}`), DataHash: "abc"}
	require.NoError(t, e.rt.DB.RegisterModel(context.Background(), m))
	return m
}
