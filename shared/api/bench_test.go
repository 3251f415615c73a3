package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
)

// BenchmarkRunningJobStatus measures GET status of a RUNNING job through the
// handler (no network): a store read, the progress event decoded, the
// status encoded. `make bench-api` measures it over TCP.
func BenchmarkRunningJobStatus(b *testing.B) {
	e := newEnv(b, nil)
	cfg, err := training.Defaults().Normalize()
	if err != nil {
		b.Fatal(err)
	}
	progress := json.RawMessage(`{"job_id":"trn-b","kind":"progress","stage":"train","step":7,"total":60,"unit":"epoch",` +
		`"metrics":{"loss":0.081,"val_loss":0.092,"val_auc_pr":0.91,"val_auc_roc":0.975,"lr":0.0029},"eta_seconds":12.5,"time":"2026-03-01T12:00:00Z"}`)
	if err := e.rt.DB.CreateJob(context.Background(), store.Job{ID: "trn-b", Kind: training.JobKindTraining,
		Status: store.Running, Stage: "train", Config: cfg.JSON(), Progress: progress}); err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/ml/training/trn-b/status", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}
