package api_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/orrery-ml/orrery/shared/api"
)

// The fuzz targets run their seeds in every `go test`; scripts/test.d/
// 30-api-fuzz.sh fuzzes each for a bounded time. The property: no panic, and
// every refusal is a *RequestError that maps to a 4xx naming at least one
// field.

// bodySeeds are request bodies, valid and not, that start the corpora.
var bodySeeds = []string{
	`{"dataset_path": "d.csv", "target_column": "class", "positive_class": "1", "epochs": 3}`,
	`{"dataset_path": "d.csv", "target_column": "class", "hidden_layers": [64, 32], "early_stopping": {"enabled": false, "patience": 2}}`,
	`{"dataset_path": "d.csv", "target_column": "class", "class_weights": {"0": 1, "1": 9.5}, "lr_schedule": {"kind": "step", "gamma": 0.5}}`,
	`{"dataset_path": "d.csv", "target_column": "class", "decision_threshold": "0.3", "model_type": "logistic_regression"}`,
	`{"base_config": {"dataset_path": "d.csv", "target_column": "c"}, "search_space": [{"name": "learning_rate", "kind": "float", "low": 0.001, "high": 0.1, "log": true}]}`,
	`{"base_config": {"dataset_path": "d.csv", "target_column": "c"}, "search_space": [{"name": "hidden_layers", "kind": "categorical", "choices": [[8], [16, 8]]}], "budget": {"max_trials": 5}}`,
	`{"model_id": "mdl-1", "cross_validation": {"folds": 5, "stratified": true}, "bootstrap": {"iterations": 200}}`,
	`{"model_id": "mdl-1", "strategy": "linear", "gates": {"min_auc_roc": 0.9}, "alarms": ["a"]}`,
	`{"reason": "stop"}`,
	``, `{}`, `[]`, `null`, `"x"`, `{"epochs": }`, `{"a": 1, "a": 2}`, `{"epochs": 1e400}`, `{"seed": -0}`,
	`{"hidden_layers": [1, [2]]}`, `{"class_weights": null}`, `{"early_stopping": {"enabled": null}}`,
	strings.Repeat("[", 40) + strings.Repeat("]", 40), `{"x": "\ud800"}`, "{\"dataset_path\": \"a\u0000b\"}",
}

// checkDecoded asserts the property for one decoder result.
func checkDecoded(t *testing.T, body []byte, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var re *api.RequestError
	if !errors.As(err, &re) {
		t.Fatalf("body %q: error %v is not a *api.RequestError", body, err)
	}
	if len(re.Fields) == 0 {
		t.Fatalf("body %q: refusal names no field: %v", body, err)
	}
	for _, f := range re.Fields {
		if f.Field == "" || f.Detail == "" {
			t.Fatalf("body %q: empty field error %+v", body, f)
		}
	}
	if p := api.ProblemFor(err); p.Status < 400 || p.Status > 499 {
		t.Fatalf("body %q: status %d for %v", body, p.Status, err)
	}
}

func addSeeds(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
}

// FuzzDecoders feeds each input to every request decoder.
func FuzzDecoders(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		cfg, err := api.DecodeTrainingRequest(body)
		checkDecoded(t, body, err)
		if err == nil {
			if cfg.DatasetPath == "" || cfg.TargetColumn == "" {
				t.Fatalf("body %q: training accepted without dataset_path or target_column", body)
			}
			if _, nerr := cfg.Normalize(); nerr != nil {
				t.Fatalf("body %q: accepted a config that does not normalise: %v", body, nerr)
			}
		}
		opt, err := api.DecodeOptimizationRequest(body)
		checkDecoded(t, body, err)
		if err == nil && (len(opt.SearchSpace) == 0 || opt.Budget.MaxTrials < 1) {
			t.Fatalf("body %q: optimization accepted without a search space or budget", body)
		}
		ev, err := api.DecodeEvaluationRequest(body)
		checkDecoded(t, body, err)
		if err == nil && ev.ModelID == "" {
			t.Fatalf("body %q: evaluation accepted without model_id", body)
		}
		dep, err := api.DecodeDeploymentRequest(body)
		checkDecoded(t, body, err)
		if err == nil {
			if _, nerr := dep.Normalize(); nerr != nil || dep.ModelID == "" {
				t.Fatalf("body %q: deployment accepted without model_id, or not runnable: %v", body, nerr)
			}
		}
		_, err = api.DecodeCancelRequest(body)
		checkDecoded(t, body, err)
	})
}

// FuzzHandler sends fuzzed requests through the whole handler: any route,
// any body, any Idempotency-Key. Nothing may panic or answer a 5xx other
// than 501 (a valid request to a route whose service this server runs without),
// and every error answer is a problem document with the status in it.
func FuzzHandler(f *testing.F) {
	e := newEnv(f, nil)
	targets := []struct{ method, path string }{
		{"POST", "/ml/training/start"}, {"POST", "/ml/optimization/start"}, {"POST", "/ml/evaluation/evaluate"},
		{"POST", "/ml/deployment/deploy"}, {"POST", "/ml/training/trn-1/cancel"}, {"GET", "/ml/training/trn-1/status"},
		{"GET", "/ml/models"}, {"GET", "/ml/models/mdl-1"}, {"GET", "/ml/evaluation/mdl-1/metrics"},
	}
	for i, s := range bodySeeds {
		f.Add(uint8(i), []byte(s), "", "application/json")
	}
	f.Add(uint8(0), []byte(bodySeeds[0]), "key-1", "application/json")
	f.Add(uint8(0), []byte(bodySeeds[0]), "key-1", "text/plain")
	f.Add(uint8(5), []byte{}, "", "")
	f.Fuzz(func(t *testing.T, which uint8, body []byte, key, contentType string) {
		tgt := targets[int(which)%len(targets)]
		req := httptest.NewRequest(tgt.method, tgt.path, strings.NewReader(string(body)))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if key != "" {
			req.Header.Set(api.IdempotencyKeyHeader, key)
		}
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		if w.Code >= 500 && w.Code != http.StatusNotImplemented {
			t.Fatalf("%s %s body %q key %q: status %d: %s", tgt.method, tgt.path, body, key, w.Code, w.Body)
		}
		if w.Code >= 400 {
			var p api.Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != w.Code || p.Detail == "" {
				t.Fatalf("%s %s: status %d with body %q is not a problem document", tgt.method, tgt.path, w.Code, w.Body)
			}
		}
	})
}
