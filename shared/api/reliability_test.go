package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/optimizationjob"
)

// TestIdempotencyKeyIsBoundToItsRequest: a key first used on one route and
// then sent to another is the same key for a different request — 422, and
// no second job — as the 422 text says (method, path or body).
func TestIdempotencyKeyIsBoundToItsRequest(t *testing.T) {
	e := newEnv(t, nil)
	first := e.do(t, http.MethodPost, "/ml/training/start", e.trainingBody(""), api.IdempotencyKeyHeader, "cross-route")
	require.Equal(t, http.StatusAccepted, first.status, "%s", first.body)
	id := first.json(t)["job_id"].(string)
	before := e.jobCount(t)
	other := e.do(t, http.MethodPost, "/ml/training/"+id+"/cancel", `{"reason": "x"}`, api.IdempotencyKeyHeader, "cross-route")
	require.Equal(t, http.StatusUnprocessableEntity, other.status, "%s", other.body)
	assert.Equal(t, []string{api.IdempotencyKeyHeader}, fields(other.problem(t)))
	opt := e.do(t, http.MethodPost, "/ml/optimization/start", `{"base_config": {"dataset_path": "syn.csv", "target_column": "label"}, "search_space": [{"name": "learning_rate", "kind": "float", "low": 0.001, "high": 0.1}]}`,
		api.IdempotencyKeyHeader, "cross-route")
	assert.Equal(t, http.StatusUnprocessableEntity, opt.status, "%s", opt.body)
	assert.Equal(t, before, e.jobCount(t), "no job started by the reused key")
	st := e.do(t, http.MethodGet, "/ml/training/"+id+"/status", "")
	assert.Equal(t, "QUEUED", st.json(t)["status"], "the cancel did not run")
}

// TestBodiesNeedJSONMediaTypeAndUTF8: a body without Content-Type is 415
// naming the header; a JSON body that is not UTF-8 is 400 naming the byte;
// neither stores a job.
func TestBodiesNeedJSONMediaTypeAndUTF8(t *testing.T) {
	e := newEnv(t, nil)
	req := httptest.NewRequest(http.MethodPost, "/ml/training/start", strings.NewReader(e.trainingBody("")))
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	a := answer{status: w.Code, header: w.Result().Header, body: w.Body.Bytes()}
	require.Equal(t, http.StatusUnsupportedMediaType, a.status, "%s", a.body)
	assert.Equal(t, []string{"Content-Type"}, fields(a.problem(t)))
	assert.Contains(t, a.problem(t).Detail, "missing")

	bad := `{"dataset_path": "syn.csv", "target_column": "lab` + "\xff\xfe" + `el"}`
	b := e.do(t, http.MethodPost, "/ml/training/start", bad)
	require.Equal(t, http.StatusBadRequest, b.status, "%s", b.body)
	p := b.problem(t)
	assert.Equal(t, []string{"body"}, fields(p))
	assert.Contains(t, p.Detail, "UTF-8 at byte 49")
	assert.Equal(t, 0, e.jobCount(t))

	// An empty optional body needs no Content-Type.
	id := e.do(t, http.MethodPost, "/ml/training/start", e.trainingBody("")).json(t)["job_id"].(string)
	c := httptest.NewRequest(http.MethodPost, "/ml/training/"+id+"/cancel", nil)
	w = httptest.NewRecorder()
	e.h.ServeHTTP(w, c)
	assert.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
}

// TestUncleanPathsAreProblems: ServeMux would redirect these with a
// text/html 307; the API answers a 404 problem document naming the path.
func TestUncleanPathsAreProblems(t *testing.T) {
	e := newEnv(t, nil)
	for _, p := range []string{"/ml/models/../openapi.json", "/ml//models", "/ml/./models", "/ml/models/x/.."} {
		t.Run(p, func(t *testing.T) {
			a := e.do(t, http.MethodGet, p, "")
			require.Equal(t, http.StatusNotFound, a.status, "%s", a.body)
			pr := a.problem(t)
			assert.Contains(t, pr.Detail, "canonical")
			assert.Empty(t, a.header.Get("Location"))
		})
	}
	ok := e.do(t, http.MethodGet, "/openapi.json", "")
	assert.Equal(t, http.StatusOK, ok.status)
}

// TestOneChoiceStudyStops: a study whose only dimension is one categorical
// choice has one point; the API's study stops as space_exhausted after it,
// as the CLI's does, instead of staying RUNNING.
func TestOneChoiceStudyStops(t *testing.T) {
	e := newOptimizationEnv(t)
	for _, strategy := range []string{"random", "bayesian"} {
		t.Run(strategy, func(t *testing.T) {
			body := e.optimizationBody(`"strategy": "` + strategy + `", "budget": {"max_trials": 3, "max_parallel": 2},
				"search_space": [{"name": "activation", "kind": "categorical", "choices": ["relu"]}]`)
			start := e.do(t, http.MethodPost, "/ml/optimization/start", body)
			require.Equal(t, http.StatusAccepted, start.status, "%s", start.body)
			url := start.json(t)["status_url"].(string)
			var res map[string]any
			deadline := time.Now().Add(3 * time.Minute)
			for time.Now().Before(deadline) {
				res = e.do(t, http.MethodGet, url, "").json(t)
				if res["status"] != "RUNNING" {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			require.Equal(t, "SUCCEEDED", res["status"], "study: %v", res)
			assert.Equal(t, "space_exhausted", res["stop_reason"])
			assert.Len(t, res["trials"], 1)
		})
	}
}

// TestStudyRequestZerosAndShapes: max_trials and max_parallel 0 are
// refused (not replaced by defaults); seed 0 is a seed; sobol is a
// strategy; the seed's HyperparameterSpace shape (what `orrery tune --space`
// reads) is accepted as hyperparameter_space, and not beside search_space.
func TestStudyRequestZerosAndShapes(t *testing.T) {
	const base = `"base_config": {"dataset_path": "d.csv", "target_column": "y"}`
	const dims = `"search_space": [{"name": "learning_rate", "kind": "float", "low": 0.001, "high": 0.1}]`
	for _, tc := range []struct{ body, field string }{
		{`{` + base + `, ` + dims + `, "budget": {"max_trials": 0}}`, "budget.max_trials"},
		{`{` + base + `, ` + dims + `, "budget": {"max_parallel": 0}}`, "budget.max_parallel"},
		{`{` + base + `, "hyperparameter_space": {"learning_rate": [0.001, 0.1]}, ` + dims + `}`, "hyperparameter_space"},
		{`{` + base + `, "hyperparameter_space": {"hidden_layers": [3, 1]}}`, "hyperparameter_space"},
		{`{` + base + `, "hyperparameter_space": {"learning_rate": [0.001]}}`, "hyperparameter_space.learning_rate"},
		{`{` + base + `, ` + dims + `, "name": "a\u202eb"}`, "name"},
		{`{` + base + `, ` + dims + `, "name": "a\u0000b"}`, "name"},
		{`{` + base + `, ` + dims + `, "name": "` + strings.Repeat("n", 201) + `"}`, "name"},
	} {
		t.Run(tc.field, func(t *testing.T) {
			_, err := api.DecodeOptimizationRequest([]byte(tc.body))
			var re *api.RequestError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tc.field, re.Fields[0].Field, "%v", err)
		})
	}
	req, err := api.DecodeOptimizationRequest([]byte(`{` + base + `, ` + dims + `, "seed": 0, "strategy": "sobol", "budget": {"max_parallel": 3}}`))
	require.NoError(t, err)
	assert.Equal(t, int64(0), req.Seed)
	assert.Equal(t, "sobol", req.Strategy)
	assert.Equal(t, 20, req.Budget.MaxTrials, "left out: the default")
	assert.Equal(t, 3, req.Budget.MaxParallel)

	req, err = api.DecodeOptimizationRequest([]byte(`{` + base + `, "hyperparameter_space": {"learning_rate": [0.0001, 0.03], "batch_size": [64, 128],
		"hidden_layers": [1, 2], "activation": ["relu", "tanh"]}}`))
	require.NoError(t, err)
	spec, err := optimizationjob.SpecFromRequest(req)
	require.NoError(t, err)
	var names []string
	for _, d := range spec.Space.Dimensions {
		names = append(names, d.Name)
	}
	assert.Equal(t, []string{"learning_rate", "batch_size", "n_layers", "units_1", "units_2", "activation"}, names)
}

// TestNamesAreBoundedAndClean: a training name that is too long or holds a
// control or bidi-override character is refused naming the field, and
// nothing is stored.
func TestNamesAreBoundedAndClean(t *testing.T) {
	e := newEnv(t, nil)
	for _, name := range []string{strings.Repeat("x", 1_000_000), "a\x00b", "evil\u202etxt.exe", "line\nbreak", "esc\x1b[31m", "zw\u200bsp"} {
		body := e.trainingBody(`"name": ` + jsonString(name))
		a := e.do(t, http.MethodPost, "/ml/training/start", body)
		require.Equal(t, http.StatusBadRequest, a.status, "%q: %s", name, a.body)
		assert.Equal(t, []string{"name"}, fields(a.problem(t)))
	}
	a := e.do(t, http.MethodPost, "/ml/training/start", e.trainingBody(`"name": `+jsonString(strings.Repeat("x", 201))))
	require.Equal(t, http.StatusBadRequest, a.status)
	assert.Contains(t, a.problem(t).Errors[0].Detail, "more than 200")
	assert.Equal(t, 0, e.jobCount(t))
	ok := e.do(t, http.MethodPost, "/ml/training/start", e.trainingBody(`"name": "Pulsars – ünïcode ✓"`))
	assert.Equal(t, http.StatusAccepted, ok.status, "%s", ok.body)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestUnknownModelIs404Everywhere: deploying or evaluating a model that
// does not exist is 404 naming it on a runtime without those services too,
// not 501 "the request was valid"; an unknown study is 404 without the
// store's "get study" wording.
func TestUnknownModelIs404Everywhere(t *testing.T) {
	e := newEnv(t, nil)
	for _, p := range []string{"/ml/deployment/deploy", "/ml/evaluation/evaluate"} {
		a := e.do(t, http.MethodPost, p, `{"model_id": "mdl-nope"}`)
		require.Equal(t, http.StatusNotFound, a.status, "%s: %s", p, a.body)
		assert.Equal(t, "model mdl-nope does not exist", a.problem(t).Detail)
	}
	m := e.registerModel(t, "mdl-here")
	a := e.do(t, http.MethodPost, "/ml/deployment/deploy", `{"model_id": "`+m.ID+`"}`)
	assert.Equal(t, http.StatusNotImplemented, a.status, "a known model still gets the 501: %s", a.body)

	o := newOptimizationEnv(t)
	b := o.do(t, http.MethodGet, "/ml/optimization/hpo-nope/results", "")
	require.Equal(t, http.StatusNotFound, b.status)
	assert.Equal(t, "study hpo-nope does not exist", b.problem(t).Detail)
}

// TestIntegerMessagesNameTheSchemaBound: epochs 1e9 (an integer, as JSON
// Schema counts any number with a zero fraction) and an out-of-range integer
// are refused naming the field and the bound the document gives, not Go's
// int64 range; a fraction and an exponent too large to be an int64 are
// refused as not integers.
func TestIntegerMessagesNameTheSchemaBound(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"1e9", "1000000000 is not in [1, 100000]"},
		{"99999999999999999999", "must be an integer (the schema allows 1 to 100000), not 99999999999999999999"},
		{"2.5", "must be an integer (the schema allows 1 to 100000), not 2.5"},
		{"1e999", "must be an integer (the schema allows 1 to 100000), not 1e999"},
		{"1e-3", "not 1e-3"},
	} {
		_, err := api.DecodeTrainingRequest([]byte(`{"dataset_path": "d.csv", "target_column": "y", "epochs": ` + tc.value + `}`))
		var re *api.RequestError
		require.ErrorAs(t, err, &re, tc.value)
		assert.Equal(t, "epochs", re.Fields[0].Field)
		assert.Contains(t, re.Fields[0].Detail, tc.want)
	}
}

// TestIntegersInAnyNotation: JSON Schema 2020-12 (which the OpenAPI 3.1
// document speaks) counts 5.0 and 2.5e1 as integers, so the server takes
// them as the integers they are, in nested arrays too.
func TestIntegersInAnyNotation(t *testing.T) {
	for value, want := range map[string]int{"5.0": 5, "2.50e1": 25, "1E2": 100, "7": 7, "3.000": 3} {
		req, err := api.DecodeTrainingRequest([]byte(`{"dataset_path": "d.csv", "target_column": "y", "epochs": ` + value + `}`))
		require.NoError(t, err, value)
		assert.Equal(t, want, req.Epochs, value)
	}
	req, err := api.DecodeTrainingRequest([]byte(`{"dataset_path": "d.csv", "target_column": "y", "hidden_layers": [6.4e1, 32.0]}`))
	require.NoError(t, err)
	assert.Equal(t, []int{64, 32}, req.HiddenLayers)
}

// TestDocumentStatesDimensionRules: the document says what the server
// checks between a search dimension's kind and its other fields (a float
// or int dimension needs low and high), and lists sobol; schemathesis
// generates from these.
func TestDocumentStatesDimensionRules(t *testing.T) {
	doc, err := json.Marshal(api.OpenAPI())
	require.NoError(t, err)
	var d struct {
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(doc, &d))
	dim := d.Components.Schemas["SearchDimension"]
	rules, _ := json.Marshal(dim["allOf"])
	assert.Contains(t, string(rules), `"then":{"not":{"required":["choices"]},"required":["low","high"]}`)
	req, _ := json.Marshal(d.Components.Schemas["OptimizationRequest"])
	assert.Contains(t, string(req), `"sobol"`)
	assert.Contains(t, string(req), `"hyperparameter_space"`)
}
