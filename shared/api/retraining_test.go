package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/api"
)

// TestRetrainingPolicyRoutes: PUT stores a checked policy (replacing one
// with its prefix), GET lists them, DELETE removes one by prefix; bad
// policies are 400s naming the field and store nothing.
func TestRetrainingPolicyRoutes(t *testing.T) {
	e, _ := newTrainingEnv(t)
	e.svc.Retraining = e.rt.DB
	h, err := api.NewHandler(e.svc, api.Options{Idempotency: e.rt.DB})
	require.NoError(t, err)
	e.h = h
	d := newDocValidator(fetchDoc(t, e))
	call := func(method, path, body string) answer {
		a := e.do(t, method, path, body)
		bare, _, _ := strings.Cut(path, "?")
		d.check(t, method, bare, a)
		return a
	}
	list := call(http.MethodGet, "/ml/retraining/policies", "")
	require.Equal(t, http.StatusOK, list.status, "%s", list.body)
	assert.Empty(t, list.json(t)["policies"])

	put := call(http.MethodPut, "/ml/retraining/policies",
		`{"prefix": "incoming/htru2/", "model_name": "htru2-mlp", "config": {"target_column": "class", "epochs": 5}}`)
	require.Equal(t, http.StatusOK, put.status, "%s", put.body)
	assert.Equal(t, "incoming/htru2/", put.json(t)["prefix"])
	put = call(http.MethodPut, "/ml/retraining/policies",
		`{"prefix": "incoming/htru2/", "model_name": "htru2-mlp", "config": {"target_column": "class", "epochs": 9}, "paused": true}`)
	require.Equal(t, http.StatusOK, put.status, "%s", put.body)
	call(http.MethodPut, "/ml/retraining/policies", `{"prefix": "incoming/ztf/", "model_name": "rb", "config": {"target_column": "real"}}`)

	list = call(http.MethodGet, "/ml/retraining/policies", "")
	policies := list.json(t)["policies"].([]any)
	require.Len(t, policies, 2)
	first := policies[0].(map[string]any)
	assert.Equal(t, "incoming/htru2/", first["prefix"])
	assert.Equal(t, true, first["paused"])
	assert.EqualValues(t, 9, first["config"].(map[string]any)["epochs"], "replaced")

	for _, tc := range []struct {
		name, body, field string
	}{
		{"no slash", `{"prefix": "incoming/htru2", "model_name": "m", "config": {"target_column": "c"}}`, "prefix"},
		{"no model", `{"prefix": "incoming/x/", "config": {"target_column": "c"}}`, "model_name"},
		{"no config", `{"prefix": "incoming/x/", "model_name": "m"}`, "config"},
		{"no target", `{"prefix": "incoming/x/", "model_name": "m", "config": {"epochs": 3}}`, "config.target_column"},
		{"zero epochs", `{"prefix": "incoming/x/", "model_name": "m", "config": {"target_column": "c", "epochs": 0}}`, "config.epochs"},
		{"unknown config field", `{"prefix": "incoming/x/", "model_name": "m", "config": {"target_column": "c", "epoch": 3}}`, "config.epoch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := call(http.MethodPut, "/ml/retraining/policies", tc.body)
			require.Equal(t, http.StatusBadRequest, a.status, "%s", a.body)
			assert.Contains(t, fields(a.problem(t)), tc.field)
		})
	}

	del := call(http.MethodDelete, "/ml/retraining/policies?prefix="+url.QueryEscape("incoming/ztf/"), "")
	require.Equal(t, http.StatusOK, del.status, "%s", del.body)
	assert.Equal(t, "rb", del.json(t)["model_name"])
	again := call(http.MethodDelete, "/ml/retraining/policies?prefix="+url.QueryEscape("incoming/ztf/"), "")
	assert.Equal(t, http.StatusNotFound, again.status, "%s", again.body)
	noPrefix := call(http.MethodDelete, "/ml/retraining/policies", "")
	assert.Equal(t, http.StatusBadRequest, noPrefix.status, "%s", noPrefix.body)
	list = call(http.MethodGet, "/ml/retraining/policies", "")
	assert.Len(t, list.json(t)["policies"], 1)
}
