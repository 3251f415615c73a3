package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/ml/modelstore"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/serving"
	"github.com/orrery-ml/orrery/shared/store"
)

// servingEnv is an env whose service serves the embedded runtime's
// endpoints, with model mdl-e (features a, b, noise) behind dev/syn.
func servingEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, nil)
	e.svc.Endpoints = e.rt.Serving().Endpoints
	spec := nn.Spec{ModelType: nn.ModelMLP, Inputs: 3, Hidden: []int{4}, Outputs: 1, Activation: nn.ActivationReLU}
	net, err := nn.New(spec, 1)
	require.NoError(t, err)
	m := &nn.Model{Net: net, Manifest: nn.Manifest{ModelID: "mdl-e", Name: "syn", ModelType: nn.ModelMLP, Architecture: spec,
		Features: []string{"a", "b", "noise"}, Classes: []string{"star", "pulsar"}, Threshold: 0.5, DataHash: "x",
		Preprocessing: nn.Preprocessing{Impute: []float64{0, 0, 0}, Mean: []float64{0.5, 0.5, 0}, Scale: []float64{0.3, 0.3, 1}}}}
	ctx := context.Background()
	require.NoError(t, modelstore.Store{Artifacts: e.rt.Artifacts}.Put(ctx, "models/mdl-e", m))
	require.NoError(t, e.rt.DB.RegisterModel(ctx, store.Model{ID: "mdl-e", Name: "syn", ModelType: "mlp", ArtifactKey: "models/mdl-e",
		ArtifactURI: e.rt.Artifacts.URI("models/mdl-e"), CreatedAt: time.Now().UTC()}))
	for _, ep := range []store.Endpoint{
		{Name: "syn", Environment: "dev", Routes: map[string]int{"mdl-e": 100}, LiveModelID: "mdl-e"},
		{Name: "empty", Environment: "prod"},
	} {
		_, err := e.rt.DB.PutEndpoint(ctx, ep)
		require.NoError(t, err)
	}
	return e
}

func TestEndpointRoutesMatchTheDocument(t *testing.T) {
	e := servingEnv(t)
	d := newDocValidator(fetchDoc(t, e))
	call := func(method, path, body string) answer {
		a := e.do(t, method, path, body)
		route, _, _ := strings.Cut(path, "?")
		d.check(t, method, route, a)
		return a
	}
	ok := call(http.MethodPost, "/ml/endpoints/syn/predict", `{"instances": [{"a": 0.9, "b": 0.8, "noise": 0.1}], "rows": []}`)
	require.Equal(t, http.StatusBadRequest, ok.status, "instances and rows together")
	ok = call(http.MethodPost, "/ml/endpoints/syn/predict", `{"instances": [{"a": 0.9, "b": 0.8, "noise": null}]}`)
	require.Equal(t, http.StatusOK, ok.status, "%s", ok.body)
	assert.Equal(t, "mdl-e", ok.header.Get(serving.ModelIDHeader))
	p := ok.json(t)["predictions"].([]any)[0].(map[string]any)
	assert.Contains(t, []any{"star", "pulsar"}, p["label"])
	assert.IsType(t, 0.0, p["probability"])

	bad := call(http.MethodPost, "/ml/endpoints/syn/predict", `{"instances": [{"a": 0.9, "c": 1, "noise": "x"}]}`)
	require.Equal(t, http.StatusBadRequest, bad.status)
	prob := bad.problem(t)
	assert.Equal(t, []string{"instances[0].c", "instances[0].noise", "instances[0].b"}, fields(prob))
	assert.Equal(t, "/instances/0/c", prob.Errors[0].Pointer)
	assert.Contains(t, prob.Detail, "missing features b")
	assert.Equal(t, "mdl-e", bad.header.Get(serving.ModelIDHeader))

	for _, r := range []struct {
		method, path, body string
		status             int
	}{
		{http.MethodPost, "/ml/endpoints/syn/predict?environment=prod", `{"rows": [[1, 2, 3]]}`, http.StatusNotFound},
		{http.MethodPost, "/ml/endpoints/empty/predict?environment=prod", `{"rows": [[1, 2, 3]]}`, http.StatusNotFound},
		{http.MethodPost, "/ml/endpoints/syn/predict?environment=test", `{"rows": [[1, 2, 3]]}`, http.StatusBadRequest},
		{http.MethodGet, "/ml/endpoints", "", http.StatusOK},
		{http.MethodGet, "/ml/endpoints?environment=prod", "", http.StatusOK},
		{http.MethodGet, "/ml/endpoints/syn", "", http.StatusOK},
		{http.MethodGet, "/ml/endpoints/syn?environment=staging", "", http.StatusNotFound},
		{http.MethodGet, "/ml/endpoints/-x", "", http.StatusBadRequest},
	} {
		a := call(r.method, r.path, r.body)
		assert.Equal(t, r.status, a.status, "%s %s: %s", r.method, r.path, a.body)
	}
	view := call(http.MethodGet, "/ml/endpoints/syn", "").json(t)
	traffic := view["versions"].([]any)[0].(map[string]any)["traffic"].(map[string]any)
	assert.EqualValues(t, 3, traffic["requests"], "the requests that reached the version")
	assert.EqualValues(t, 1, traffic["schema_violations"])
	list := call(http.MethodGet, "/ml/endpoints", "").json(t)["endpoints"].([]any)
	assert.Len(t, list, 2)
}

func TestEndpointRoutesWithoutAService(t *testing.T) {
	e := newEnv(t, nil)
	for _, r := range []struct{ method, path, body string }{
		{http.MethodPost, "/ml/endpoints/syn/predict", `{"rows": [[1]]}`},
		{http.MethodGet, "/ml/endpoints", ""},
		{http.MethodGet, "/ml/endpoints/syn", ""},
	} {
		a := e.do(t, r.method, r.path, r.body)
		assert.Equal(t, http.StatusNotImplemented, a.status, "%s %s", r.method, r.path)
		a.problem(t)
	}
}

func TestOpenAPIDocumentsThePredictRoute(t *testing.T) {
	doc := fetchDoc(t, newEnv(t, nil))
	op := doc["paths"].(map[string]any)["/ml/endpoints/{endpoint}/predict"].(map[string]any)["post"].(map[string]any)
	var names []string
	for _, p := range op["parameters"].([]any) {
		if n, ok := p.(map[string]any)["name"].(string); ok {
			names = append(names, n)
		}
	}
	assert.Equal(t, []string{"endpoint", "environment"}, names)
	headers := op["responses"].(map[string]any)["200"].(map[string]any)["headers"].(map[string]any)
	assert.Contains(t, headers, serving.ModelIDHeader)
	for _, status := range []string{"400", "404", "413", "415", "503"} {
		assert.Contains(t, op["responses"], status)
	}
	assert.Contains(t, doc["paths"], "/ml/endpoints")
	assert.Contains(t, doc["paths"], "/ml/endpoints/{endpoint}")
}

// TestProblemsAgreeWithThePredictFunction checks that the HTTP API and the
// predict function (which answers with serving.ProblemFor, without this
// package) answer every predict error with the same problem.
func TestProblemsAgreeWithThePredictFunction(t *testing.T) {
	schema := &serving.SchemaError{Missing: []string{"b"}, Features: []string{"a", "b"},
		Issues: []serving.Issue{{Field: "instances[0].b", Pointer: "/instances/0/b", Detail: "missing"}}}
	tests := []error{
		&serving.InputError{Issues: []serving.Issue{{Field: "rows", Pointer: "/rows", Detail: "empty; give at least one entry"}}},
		&serving.InputError{TooLarge: true, Issues: []serving.Issue{{Field: "body", Detail: "too large"}}},
		schema,
		&serving.RoutedError{Endpoint: "syn", ModelID: "mdl-1", Err: schema},
		fmt.Errorf("endpoint syn does not exist in environment dev: %w", serving.ErrNoEndpoint),
		fmt.Errorf("endpoint syn in dev has no model deployed: %w", serving.ErrNothingDeployed),
		fmt.Errorf("model m failed its SHA-256 check and is not served: %w", serving.ErrModelRefused),
		fmt.Errorf("endpoint syn routes to model m, which cannot be loaded: %w", serving.ErrModelUnavailable),
		fmt.Errorf("predict with model m: %w", serving.ErrPredict),
		fmt.Errorf("predict: %w", context.Canceled),
		errors.New("a defect"),
	}
	for _, err := range tests {
		t.Run(err.Error(), func(t *testing.T) {
			want, err1 := json.Marshal(serving.ProblemFor(err))
			require.NoError(t, err1)
			got, err2 := json.Marshal(api.ProblemFor(err))
			require.NoError(t, err2)
			assert.JSONEq(t, string(want), string(got))
		})
	}
}
