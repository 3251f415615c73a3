package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/synthetic"
)

// fetchDoc gets the document the handler serves.
func fetchDoc(t *testing.T, e *env) map[string]any {
	t.Helper()
	a := e.do(t, http.MethodGet, "/openapi.json", "")
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "application/json", a.header.Get("Content-Type"))
	return a.json(t)
}

// operations lists "METHOD path" of every operation in the document.
func operations(doc map[string]any) []string {
	var out []string
	for p, item := range doc["paths"].(map[string]any) {
		for m := range item.(map[string]any) {
			out = append(out, strings.ToUpper(m)+" "+p)
		}
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	e := newEnv(t, nil)
	doc := fetchDoc(t, e)
	assert.Equal(t, "3.1.0", doc["openapi"])
	want := append(api.RouteKeys(), "GET /openapi.json")
	sort.Strings(want)
	assert.Equal(t, want, operations(doc), "the document lists exactly the routes the handler serves")
	for _, required := range []string{
		"POST /ml/training/start", "GET /ml/training/{job_id}/status", "POST /ml/optimization/start",
		"GET /ml/optimization/{job_id}/results", "POST /ml/evaluation/evaluate", "GET /ml/evaluation/{model_id}/metrics",
		"POST /ml/deployment/deploy", "GET /ml/deployment/{deployment_id}/status", "GET /ml/models",
		"GET /ml/models/{model_id}", "POST /ml/training/{job_id}/cancel",
	} {
		assert.Contains(t, want, required)
	}

	for _, op := range operations(doc) {
		method, path, _ := strings.Cut(op, " ")
		t.Run(op, func(t *testing.T) {
			spec := doc["paths"].(map[string]any)[path].(map[string]any)[strings.ToLower(method)].(map[string]any)
			params, _ := spec["parameters"].([]any)
			var names []string
			for _, p := range params {
				pm := p.(map[string]any)
				if ref, ok := pm["$ref"].(string); ok {
					names = append(names, ref)
					continue
				}
				names = append(names, pm["name"].(string))
			}
			for _, m := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(path, -1) {
				assert.Contains(t, names, m[1], "path parameter documented")
			}
			if method == http.MethodPost {
				assert.Contains(t, names, "#/components/parameters/IdempotencyKey")
			}
			// The handler routes it: the answer is not the catch-all's.
			concrete := regexp.MustCompile(`\{\w+\}`).ReplaceAllString(path, "x-1")
			a := e.do(t, method, concrete, "")
			assert.NotEqual(t, http.StatusMethodNotAllowed, a.status)
			if a.status == http.StatusNotFound {
				assert.NotContains(t, a.problem(t).Detail, "no route")
			}
		})
	}
}

// pathOf is one step into a JSON body: a key or an array index.
type pathOf = []any

// setAt returns a deep copy of body with the value at p set to v.
func setAt(body any, p pathOf, v any) any {
	if len(p) == 0 {
		return v
	}
	switch x := body.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = e
		}
		key := p[0].(string)
		child := out[key]
		if child == nil && len(p) > 1 {
			child = map[string]any{}
		}
		out[key] = setAt(child, p[1:], v)
		return out
	case []any:
		out := slices.Clone(x)
		i := p[0].(int)
		out[i] = setAt(out[i], p[1:], v)
		return out
	}
	panic(fmt.Sprintf("setAt: %T at %v", body, p))
}

// fieldName renders a body path the way problems name fields.
func fieldName(p pathOf) string {
	var b strings.Builder
	for _, s := range p {
		switch x := s.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteString(".")
			}
			b.WriteString(x)
		case int:
			fmt.Fprintf(&b, "[%d]", x)
		}
	}
	return b.String()
}

// constraint is one bound or enum of the document to try against the code.
type constraint struct {
	path    pathOf
	field   string // the field a refusal must name
	accept  []any
	refuse  []any
	integer bool
}

// constraintsOf walks the request schema sch (a $ref or object) along the
// example body and lists every enum and numeric bound it states.
func constraintsOf(doc map[string]any, sch map[string]any, example any, prefix pathOf) []constraint {
	if ref, ok := sch["$ref"].(string); ok {
		sch = doc["components"].(map[string]any)["schemas"].(map[string]any)[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
	}
	props, _ := sch["properties"].(map[string]any)
	exampleObj, _ := example.(map[string]any)
	var out []constraint
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		ps := props[name].(map[string]any)
		p := append(slices.Clone(prefix), name)
		if _, ok := ps["$ref"]; ok {
			out = append(out, constraintsOf(doc, ps, exampleObj[name], p)...)
			continue
		}
		if items, ok := ps["items"].(map[string]any); ok {
			if arr, ok := exampleObj[name].([]any); ok && len(arr) > 0 {
				if _, isRef := items["$ref"]; isRef {
					out = append(out, constraintsOf(doc, items, arr[0], append(slices.Clone(p), 0))...)
					continue
				}
				out = append(out, boundsOf(items, append(slices.Clone(p), 0))...)
			}
		}
		out = append(out, boundsOf(ps, p)...)
	}
	return out
}

// boundsOf turns the enum and numeric keywords of one property schema into
// values that must be accepted and values that must be refused. A zero
// stands for "use the default" in many fields, so a refused candidate of 0
// is replaced by a negative number, which is outside the same bound.
func boundsOf(ps map[string]any, p pathOf) []constraint {
	c := constraint{path: p, field: fieldName(p), integer: ps["type"] == "integer"}
	if enum, ok := ps["enum"].([]any); ok {
		c.accept = append(c.accept, enum...)
		c.refuse = append(c.refuse, "not-a-listed-value")
	}
	step := 1e-6
	if c.integer {
		step = 1
	}
	outside := func(v float64) any {
		if v == 0 {
			v = -step
		}
		if c.integer {
			return int(v)
		}
		return v
	}
	num := func(v float64) any {
		if c.integer {
			return int(v)
		}
		return v
	}
	if b, ok := ps["minimum"].(float64); ok {
		c.accept = append(c.accept, num(b))
		c.refuse = append(c.refuse, outside(b-step))
	}
	if b, ok := ps["maximum"].(float64); ok {
		c.accept = append(c.accept, num(b))
		c.refuse = append(c.refuse, outside(b+step))
	}
	if b, ok := ps["exclusiveMinimum"].(float64); ok {
		c.accept = append(c.accept, num(b+step))
		c.refuse = append(c.refuse, outside(b))
	}
	if b, ok := ps["exclusiveMaximum"].(float64); ok {
		c.accept = append(c.accept, num(b-step))
		c.refuse = append(c.refuse, outside(b))
	}
	if len(c.accept) == 0 && len(c.refuse) == 0 {
		return nil
	}
	return []constraint{c}
}

// relational lists values the document allows on their own but the checks
// refuse because of another field, and why.
var relational = map[string]string{
	"validation_split=0.999999":                  "validation_split + test_split must stay below 0.9",
	"test_split=0.999999":                        "validation_split + test_split must stay below 0.9",
	"base_config.validation_split=0.999999":      "validation_split + test_split must stay below 0.9",
	"base_config.test_split=0.999999":            "validation_split + test_split must stay below 0.9",
	"search_space[0].name=hidden_layers":         "the example's float kind does not suit a categorical field",
	"search_space[0].name=activation":            "the example's float kind does not suit a categorical field",
	"search_space[0].name=optimizer":             "the example's float kind does not suit a categorical field",
	"search_space[0].name=batch_size":            "the example's float kind does not suit an int field",
	"search_space[0].name=epochs":                "the example's float kind does not suit an int field",
	"search_space[0].kind=int":                   "learning_rate is a float field",
	"search_space[0].kind=categorical":           "a categorical dimension takes choices, not bounds",
	"model_type=logistic_regression":             "the example has hidden layers, which logistic_regression refuses",
	"base_config.model_type=logistic_regression": "the example has hidden layers, which logistic_regression refuses",
}

// TestOpenAPIRequestConstraintsMatchTheChecks tries every enum value and
// numeric bound the document states for a request body against the
// handler: values inside are accepted, values outside are refused with a 400
// naming the field. So the document cannot promise what the code refuses, or
// the reverse.
func TestOpenAPIRequestConstraintsMatchTheChecks(t *testing.T) {
	e := newEnv(t, nil)
	require.NoError(t, os.WriteFile(filepath.Join(e.dataDir, "htru2.csv"), []byte(synthetic.TwoClassCSV(100, 3)), 0o644))
	e.registerModel(t, "mdl-20260301120000-1a2b3c4d")
	doc := fetchDoc(t, e)
	tried := 0
	for _, op := range operations(doc) {
		method, path, _ := strings.Cut(op, " ")
		spec := doc["paths"].(map[string]any)[path].(map[string]any)[strings.ToLower(method)].(map[string]any)
		rb, ok := spec["requestBody"].(map[string]any)
		if !ok {
			continue
		}
		media := rb["content"].(map[string]any)["application/json"].(map[string]any)
		example := media["example"]
		require.NotNil(t, example, "%s has an example", op)
		concrete := strings.NewReplacer("{job_id}", "x-1", "{deployment_id}", "x-1").Replace(path)
		if path == "/ml/training/{job_id}/cancel" {
			// Cancel needs a live job; start one per try below.
			concrete = ""
		}
		target := func(t *testing.T) string {
			if concrete != "" {
				return concrete
			}
			a := e.do(t, http.MethodPost, "/ml/training/start", e.trainingBody(""))
			require.Equal(t, http.StatusAccepted, a.status)
			return "/ml/training/" + a.json(t)["job_id"].(string) + "/cancel"
		}
		send := func(t *testing.T, body any) answer {
			b, err := json.Marshal(body)
			require.NoError(t, err)
			return e.do(t, method, target(t), string(b))
		}
		t.Run(op+" example", func(t *testing.T) {
			a := send(t, example)
			assert.NotEqual(t, http.StatusBadRequest, a.status, "the example is valid: %s", a.body)
		})
		for _, c := range constraintsOf(doc, media["schema"].(map[string]any), example, nil) {
			for _, v := range c.accept {
				if why, ok := relational[fmt.Sprintf("%s=%v", c.field, v)]; ok {
					t.Logf("%s: %s=%v not tried: %s", op, c.field, v, why)
					continue
				}
				tried++
				t.Run(fmt.Sprintf("%s %s=%v accepted", op, c.field, v), func(t *testing.T) {
					a := send(t, setAt(example, c.path, v))
					assert.NotEqual(t, http.StatusBadRequest, a.status, "%s", a.body)
				})
			}
			for _, v := range c.refuse {
				tried++
				t.Run(fmt.Sprintf("%s %s=%v refused", op, c.field, v), func(t *testing.T) {
					a := send(t, setAt(example, c.path, v))
					require.Equal(t, http.StatusBadRequest, a.status, "%s", a.body)
					assert.Contains(t, fields(a.problem(t)), c.field)
				})
			}
		}
	}
	assert.Greater(t, tried, 80, "the walk reached the constraints")
}

// docValidator checks answers against the document: the status is one the
// operation documents, and the body fits that status's schema.
type docValidator struct {
	doc   map[string]any
	val   validator
	paths map[*regexp.Regexp]string
}

func newDocValidator(doc map[string]any) docValidator {
	d := docValidator{doc: doc, val: validator{doc: doc}, paths: map[*regexp.Regexp]string{}}
	for p := range doc["paths"].(map[string]any) {
		re := regexp.MustCompile("^" + regexp.MustCompile(`\\\{\w+\\\}`).ReplaceAllString(regexp.QuoteMeta(p), `[^/]+`) + "$")
		d.paths[re] = p
	}
	return d
}

func (d docValidator) check(t *testing.T, method, path string, a answer) {
	t.Helper()
	var template string
	for re, p := range d.paths {
		if re.MatchString(path) {
			template = p
		}
	}
	require.NotEmpty(t, template, "%s is documented", path)
	op := d.doc["paths"].(map[string]any)[template].(map[string]any)[strings.ToLower(method)].(map[string]any)
	resp, ok := op["responses"].(map[string]any)[strconv.Itoa(a.status)].(map[string]any)
	require.True(t, ok, "%s %s: status %d is documented (%s)", method, path, a.status, a.body)
	if ref, ok := resp["$ref"].(string); ok {
		resp = d.doc["components"].(map[string]any)["responses"].(map[string]any)[strings.TrimPrefix(ref, "#/components/responses/")].(map[string]any)
	}
	ct := a.header.Get("Content-Type")
	media, ok := resp["content"].(map[string]any)[ct].(map[string]any)
	require.True(t, ok, "%s %s %d: content type %q is documented", method, path, a.status, ct)
	var body any
	require.NoError(t, json.Unmarshal(a.body, &body))
	assert.Empty(t, d.val.validate(media["schema"], body, "body"), "%s %s %d: %s", method, path, a.status, a.body)
}

// TestResponsesMatchTheDocument drives every route through its answers —
// a real training job included — and checks each against the document.
func TestResponsesMatchTheDocument(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small model")
	}
	e, _ := newTrainingEnv(t)
	d := newDocValidator(fetchDoc(t, e))
	call := func(method, path, body string, headers ...string) answer {
		a := e.do(t, method, path, body, headers...)
		d.check(t, method, path, a)
		return a
	}
	start := call(http.MethodPost, "/ml/training/start", e.trainingBody(`"epochs": 30, "batch_size": 32, "learning_rate": 0.01`), api.IdempotencyKeyHeader, "doc-1")
	require.Equal(t, http.StatusAccepted, start.status)
	call(http.MethodPost, "/ml/training/start", e.trainingBody(`"epochs": 30, "batch_size": 32, "learning_rate": 0.01`), api.IdempotencyKeyHeader, "doc-1")
	id := start.json(t)["job_id"].(string)
	statusPath := "/ml/training/" + id + "/status"
	deadline := time.Now().Add(2 * time.Minute)
	var last map[string]any
	for time.Now().Before(deadline) {
		a := call(http.MethodGet, statusPath, "")
		last = a.json(t)
		if store.Status(last["status"].(string)).Terminal() {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.Equal(t, "SUCCEEDED", last["status"], "job: %v", last)
	modelID := last["model_id"].(string)
	assert.Equal(t, "/ml/models/"+modelID, last["links"].(map[string]any)["model"])
	artifacts := last["links"].(map[string]any)["artifacts"].(map[string]any)
	for _, k := range []string{"validation_report", "metrics", "history", "model", "manifest"} {
		assert.Contains(t, artifacts, k)
	}

	// A running job's status, with its progress, and a cancelled one.
	running := call(http.MethodPost, "/ml/training/start", e.trainingBody(`"epochs": 400, "early_stopping": {"enabled": false}`))
	rid := running.json(t)["job_id"].(string)
	// Bounded by a deadline, not a count of polls: on a loaded machine the
	// first epoch may take many seconds to come (400 epochs: the job is
	// still running when it does).
	var sawEpoch bool
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		st := call(http.MethodGet, "/ml/training/"+rid+"/status", "").json(t)
		if ep, ok := st["epoch"].(float64); ok && ep >= 1 {
			sawEpoch = true
			break
		}
		require.False(t, store.Status(st["status"].(string)).Terminal(), "the running job ended: %v", st)
		time.Sleep(5 * time.Millisecond)
	}
	assert.True(t, sawEpoch, "a running job shows its epoch")
	call(http.MethodPost, "/ml/training/"+rid+"/cancel", `{"reason": "enough"}`)

	for _, r := range []struct{ method, path, body string }{
		{http.MethodGet, "/ml/models", ""},
		{http.MethodGet, "/ml/models/" + modelID, ""},
		{http.MethodGet, "/ml/evaluation/" + modelID + "/metrics", ""},
		{http.MethodGet, "/ml/models/nope", ""},
		{http.MethodGet, "/ml/training/nope/status", ""},
		{http.MethodPost, "/ml/training/" + id + "/cancel", ""},
		{http.MethodPost, "/ml/training/start", `{"epochs": "x"}`},
		{http.MethodPost, "/ml/evaluation/evaluate", `{"model_id": "` + modelID + `"}`},
		{http.MethodPost, "/ml/deployment/deploy", `{"model_id": "` + modelID + `"}`},
		{http.MethodPost, "/ml/optimization/start", `{}`},
		{http.MethodGet, "/ml/optimization/s-1/results", ""},
		{http.MethodGet, "/ml/deployment/d-1/status", ""},
	} {
		call(r.method, r.path, r.body)
	}
	call(http.MethodPost, "/ml/training/start", e.trainingBody(`"seed": 9`), api.IdempotencyKeyHeader, "doc-1")
	call(http.MethodPost, "/ml/training/start", "{}", "Content-Type", "text/plain")

	// The metrics of the trained model are the job's test metrics.
	metrics := e.do(t, http.MethodGet, "/ml/evaluation/"+modelID+"/metrics", "").json(t)["metrics"].(map[string]any)
	result := last["result"].(map[string]any)["metrics"].(map[string]any)
	assert.Equal(t, result["auc_roc"], metrics["auc_roc"])
	assert.Greater(t, metrics["auc_roc"].(float64), 0.8)
	require.False(t, math.IsNaN(metrics["auc_roc"].(float64)))
	_ = context.Background()
}
