package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
)

// BenchmarkRunningJobStatus measures GET status of a RUNNING job through the
// handler (no network): a store read, the progress event decoded, the
// status encoded. `make bench-api` measures it over TCP.
func BenchmarkRunningJobStatus(b *testing.B) {
	h := runningJobHandler(b)
	req := httptest.NewRequest(http.MethodGet, "/ml/training/trn-b/status", nil)
	b.ReportAllocs()
	c0 := processCPU()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
	b.ReportMetric((processCPU()-c0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkRunningJobStatusParallel is BenchmarkRunningJobStatus from four
// goroutines per CPU at once, as `make bench-api`'s eight clients on two
// cores: the store's connection pool is under concurrent use.
func BenchmarkRunningJobStatusParallel(b *testing.B) {
	h := runningJobHandler(b)
	b.ReportAllocs()
	b.SetParallelism(4)
	c0 := processCPU()
	defer func() { b.ReportMetric((processCPU()-c0)/float64(b.N), "cpu-ns/op") }()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, "/ml/training/trn-b/status", nil)
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Error(w.Code)
				return
			}
		}
	})
}

// runningJobHandler is the API handler over a store holding one RUNNING
// training job, trn-b, at epoch 7 of 60.
func runningJobHandler(b *testing.B) http.Handler {
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
	return e.h
}

// processCPU is this process's user and system CPU time in nanoseconds:
// on a shared machine wall time per request says little, CPU time per
// request is what bounds the throughput of two cores.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestRunningStatusFollowsProgress polls a RUNNING job, records a new
// progress event, and requires the next answer to show it: the decoded
// progress kept between polls is keyed by the event's bytes.
func TestRunningStatusFollowsProgress(t *testing.T) {
	e := newEnv(t, nil)
	event := func(step int, loss float64) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"job_id":"trn-p","kind":"progress","stage":"train","step":%d,"total":60,`+
			`"unit":"epoch","metrics":{"loss":%g,"val_auc_pr":0.9},"eta_seconds":12.5,"time":"2026-03-01T12:00:00Z"}`, step, loss))
	}
	cfg, err := training.Defaults().Normalize()
	require.NoError(t, err)
	require.NoError(t, e.rt.DB.CreateJob(t.Context(), store.Job{ID: "trn-p", Kind: training.JobKindTraining,
		Status: store.Running, Stage: "train", Config: cfg.JSON(), Progress: event(7, 0.5)}))
	status := func() api.JobStatus {
		a := e.do(t, http.MethodGet, "/ml/training/trn-p/status", "")
		require.Equal(t, http.StatusOK, a.status, "body: %s", a.body)
		var st api.JobStatus
		require.NoError(t, json.Unmarshal(a.body, &st))
		return st
	}
	for range 2 {
		st := status()
		assert.Equal(t, 7, st.Epoch)
		require.NotNil(t, st.Loss)
		assert.Equal(t, 0.5, *st.Loss)
	}
	_, err = e.rt.DB.UpdateJob(t.Context(), "trn-p", store.JobUpdate{Progress: event(8, 0.25)})
	require.NoError(t, err)
	st := status()
	assert.Equal(t, 8, st.Epoch)
	require.NotNil(t, st.Loss)
	assert.Equal(t, 0.25, *st.Loss)
	assert.Equal(t, 0.9, *st.Metrics["val_auc_pr"])
}
