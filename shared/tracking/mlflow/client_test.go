package mlflow

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLogBatchSplitsWithinLimitsAndRefusesLongParams(t *testing.T) {
	var batches []map[string][]json.RawMessage
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			t.Errorf("missing bearer token")
		}
		var b map[string]json.RawMessage
		_ = json.NewDecoder(r.Body).Decode(&b)
		got := map[string][]json.RawMessage{}
		for _, k := range []string{"metrics", "params", "tags"} {
			var xs []json.RawMessage
			_ = json.Unmarshal(b[k], &xs)
			got[k] = xs
		}
		batches = append(batches, got)
		w.Write([]byte("{}"))
	}))
	defer srv.Close()
	t.Setenv("MLFLOW_TRACKING_TOKEN", "tok")
	c, err := NewFromEnv(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	metrics := make([]Metric, 2500)
	params := make([]KV, 150)
	if err := c.LogBatch(context.Background(), "r1", metrics, params, nil); err != nil {
		t.Fatal(err)
	}
	var nm, np int
	for i, b := range batches {
		if total := len(b["metrics"]) + len(b["params"]) + len(b["tags"]); total > MaxBatchEntities || len(b["params"]) > MaxBatchParams {
			t.Fatalf("batch %d holds %d entities, %d params: over MLflow's limits", i, total, len(b["params"]))
		}
		nm, np = nm+len(b["metrics"]), np+len(b["params"])
	}
	// 2650 entities: 900 metrics + 100 params, 950 + 50, then 650 metrics.
	if len(batches) != 3 || nm != 2500 || np != 150 {
		t.Fatalf("%d batches carried %d metrics and %d params, want 3, 2500 and 150", len(batches), nm, np)
	}
	batches = nil
	err = c.LogBatch(context.Background(), "r1", nil, []KV{{"k", strings.Repeat("x", 6001)}}, nil)
	if !errors.Is(err, ErrParamTooLong) || len(batches) != 0 {
		t.Fatalf("long param: err %v, %d requests", err, len(batches))
	}
}
