package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lockedBuffer is a bytes.Buffer safe to write from the server goroutine
// while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// server is an `orrery serve` running in the test.
type server struct {
	base   string
	stderr *lockedBuffer
	stop   func() int
}

// startServe runs `orrery serve` on a free port with args added, and
// returns once it listens; stop ends it and returns its exit status.
func startServe(t *testing.T, args ...string) *server {
	t.Helper()
	return startServeWith(t, serveOptions{}, args...)
}

// startServeWith is startServe with the options a caller of serve gives.
func startServeWith(t *testing.T, o serveOptions, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		err := serve(ctx, append([]string{"--addr", "127.0.0.1:0"}, args...), stdout, stderr, o)
		code := 0
		if err != nil {
			fmt.Fprintln(stderr, "orrery:", err)
			code = 1
		}
		done <- code
	}()
	listening := regexp.MustCompile(`listening on (http://\S+)`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := listening.FindStringSubmatch(stdout.String()); m != nil {
			var once sync.Once
			code := -1
			s := &server{base: m[1], stderr: stderr, stop: func() int {
				once.Do(func() {
					cancel()
					code = <-done
				})
				return code
			}}
			t.Cleanup(func() { s.stop() })
			return s
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("serve exited with %d: %s", code, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("serve did not start listening: stdout %q stderr %q", stdout.String(), stderr.String())
	return nil
}

func (s *server) call(t *testing.T, method, path, body string, headers ...string) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+path, r)
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), "%s %s: %s", method, path, b)
	return resp.StatusCode, m
}

// TestServeTrainsOverHTTP drives the whole flow through `orrery serve`:
// POST a training job on the bundled HTRU2 data, watch its status pass
// through RUNNING with epoch progress to SUCCEEDED, then read the model's
// metrics.
func TestServeTrainsOverHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on HTRU2 through the HTTP API")
	}
	home := filepath.Join(t.TempDir(), "home")
	s := startServe(t, "--home", home, "--data-root", t.TempDir())

	body := `{"dataset_path": "htru2.csv", "target_column": "class", "positive_class": "1", "epochs": 12, "hidden_layers": [32, 16]}`
	code, accepted := s.call(t, http.MethodPost, "/ml/training/start", body, "Idempotency-Key", "flow-1")
	require.Equal(t, http.StatusAccepted, code, "%v", accepted)
	statusURL := accepted["status_url"].(string)
	jobID := accepted["job_id"].(string)
	code, again := s.call(t, http.MethodPost, "/ml/training/start", body, "Idempotency-Key", "flow-1")
	require.Equal(t, http.StatusAccepted, code)
	assert.Equal(t, jobID, again["job_id"], "a retried POST is the same job")

	seen := map[string]bool{}
	maxEpoch := 0.0
	var last map[string]any
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		code, st := s.call(t, http.MethodGet, statusURL, "")
		require.Equal(t, http.StatusOK, code, "%v", st)
		status := st["status"].(string)
		seen[status] = true
		if status == "RUNNING" {
			progress, _ := st["progress"].(map[string]any)
			if ep, ok := st["epoch"].(float64); ok && progress["kind"] == "progress" {
				maxEpoch = max(maxEpoch, ep)
				assert.Contains(t, st, "loss", "an epoch's status has its loss")
				assert.Contains(t, st["metrics"], "val_auc_pr")
				if ep < 12 {
					assert.Contains(t, st, "eta_seconds", "epochs are left, so an ETA is")
				}
			}
		}
		last = st
		if status == "SUCCEEDED" || status == "FAILED" || status == "CANCELLED" {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	require.Equal(t, "SUCCEEDED", last["status"], "final status: %v", last)
	assert.True(t, seen["RUNNING"], "the job was seen RUNNING: %v", seen)
	assert.GreaterOrEqual(t, maxEpoch, 1.0, "epoch progress was seen while it ran")
	assert.EqualValues(t, 12, last["epochs"])

	modelID := last["model_id"].(string)
	links := last["links"].(map[string]any)
	code, metrics := s.call(t, http.MethodGet, links["metrics"].(string), "")
	require.Equal(t, http.StatusOK, code, "%v", metrics)
	m := metrics["metrics"].(map[string]any)
	assert.Greater(t, m["auc_roc"].(float64), 0.9, "HTRU2 is learnt")
	for _, k := range []string{"accuracy", "precision", "recall", "f1_score", "auc_pr", "confusion_matrix"} {
		assert.Contains(t, m, k)
	}
	code, model := s.call(t, http.MethodGet, "/ml/models/"+modelID, "")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, jobID, model["job_id"])
	// The answer names the model's folder by its key, not by a path on the
	// server's disk.
	assert.NotContains(t, model, "artifact_uri")
	assert.FileExists(t, filepath.Join(home, "artifacts", filepath.FromSlash(model["artifact_key"].(string)), "manifest.json"))

	t.Run("paths outside the data roots are refused", func(t *testing.T) {
		outside := filepath.Join(t.TempDir(), "x.csv")
		require.NoError(t, os.WriteFile(outside, []byte("a,b\n1,2\n"), 0o644))
		for _, p := range []string{outside, "../../../etc/passwd", "/etc/passwd"} {
			code, problem := s.call(t, http.MethodPost, "/ml/training/start",
				`{"dataset_path": "`+p+`", "target_column": "b"}`)
			require.Equal(t, http.StatusBadRequest, code, "%s: %v", p, problem)
			assert.Equal(t, "dataset_path", problem["errors"].([]any)[0].(map[string]any)["field"])
		}
	})

	t.Run("cancelling a running job stops it", func(t *testing.T) {
		code, acc := s.call(t, http.MethodPost, "/ml/training/start",
			`{"dataset_path": "htru2.csv", "target_column": "class", "positive_class": "1", "epochs": 2000, "early_stopping": {"enabled": false}}`)
		require.Equal(t, http.StatusAccepted, code)
		url := acc["status_url"].(string)
		for range 3000 {
			_, st := s.call(t, http.MethodGet, url, "")
			if ep, ok := st["epoch"].(float64); ok && ep >= 1 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		id := acc["job_id"].(string)
		code, st := s.call(t, http.MethodPost, "/ml/training/"+id+"/cancel", `{"reason": "test"}`)
		require.Equal(t, http.StatusOK, code, "%v", st)
		assert.Equal(t, "CANCELLED", st["status"])
		// The goroutine notices and stops; the record stays CANCELLED.
		time.Sleep(200 * time.Millisecond)
		_, st = s.call(t, http.MethodGet, url, "")
		assert.Equal(t, "CANCELLED", st["status"])
		code, _ = s.call(t, http.MethodPost, "/ml/training/"+id+"/cancel", "")
		assert.Equal(t, http.StatusConflict, code)
	})

	require.Equal(t, 0, s.stop(), "serve stops cleanly: %s", s.stderr.String())
	assert.Contains(t, s.stderr.String(), `"msg":"execution succeeded"`, "JSON logs on stderr")
}

func TestServeRefusesBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing data root", []string{"serve", "--data-root", filepath.Join(t.TempDir(), "nope")}, "data-root"},
		{"bad log level", []string{"serve", "--log-level", "loud"}, "log-level"},
		{"negative parallel", []string{"serve", "--parallel", "-1"}, "parallel"},
		{"extra argument", []string{"serve", "now"}, "unexpected argument"},
		{"address in use or bad", []string{"serve", "--addr", "127.0.0.1:99999"}, "listen"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runArgs(t, append(tc.args, "--home", filepath.Join(t.TempDir(), "home"))...)
			require.NotEqual(t, 0, code)
			assert.Contains(t, errOut, tc.want)
		})
	}
}
