package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/synthetic"
)

// TestServeRefusesExposureWithoutToken: listening beyond loopback needs a
// token (and a token of at least 16 characters); loopback needs none.
func TestServeRefusesExposureWithoutToken(t *testing.T) {
	for _, tc := range []struct {
		addr, token, want string
	}{
		{"0.0.0.0:0", "", "--token"},
		{":0", "", "every interface"},
		{"[::]:0", "", "--token"},
		{"127.0.0.1:0", "short", "at least 16"},
		{"nonsense", "", "host:port"},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			t.Setenv(apiTokenEnv, "")
			var stdout, stderr bytes.Buffer
			args := []string{"--addr", tc.addr, "--home", filepath.Join(t.TempDir(), "h")}
			if tc.token != "" {
				args = append(args, "--token", tc.token)
			}
			err := serve(t.Context(), args, &stdout, &stderr, serveOptions{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, stdout.String(), "listening")
		})
	}
}

// TestServeBearerToken: with --token every route but /openapi.json is 401
// (a problem document with WWW-Authenticate) without the token or with a
// wrong one; with it a training job runs to the end — and the token
// appears nowhere in the server's log or stdout of that whole run.
func TestServeBearerToken(t *testing.T) {
	const token = "s3cr3t-t0ken-7f1c9a2b4d6e8f00"
	t.Setenv(apiTokenEnv, "")
	data := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(data, "syn.csv"), []byte(synthetic.TwoClassCSV(300, 3)), 0o644))
	s := startServe(t, "--home", filepath.Join(t.TempDir(), "home"), "--data-root", data, "--token", token)

	do := func(method, path, body, auth string) (int, http.Header, string) {
		var r io.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, s.base+path, r)
		require.NoError(t, err)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, resp.Header, string(b)
	}
	for _, auth := range []string{"", "Bearer wrong-token-wrong-token", "Basic " + token, token} {
		code, hdr, body := do(http.MethodGet, "/ml/models", "", auth)
		require.Equal(t, http.StatusUnauthorized, code, "auth %q: %s", auth, body)
		assert.Equal(t, "application/problem+json", hdr.Get("Content-Type"))
		assert.Contains(t, hdr.Get("WWW-Authenticate"), "Bearer")
		assert.NotContains(t, body, token)
	}
	code, _, _ := do(http.MethodPost, "/ml/training/start", `{"dataset_path": "syn.csv", "target_column": "label"}`, "")
	require.Equal(t, http.StatusUnauthorized, code, "nothing started without the token")
	code, _, _ = do(http.MethodGet, "/openapi.json", "", "")
	assert.Equal(t, http.StatusOK, code, "the document is public")

	bearer := "Bearer " + token
	code, _, body := do(http.MethodPost, "/ml/training/start",
		`{"dataset_path": "syn.csv", "target_column": "label", "positive_class": "pulsar", "epochs": 3, "hidden_layers": [4]}`, bearer)
	require.Equal(t, http.StatusAccepted, code, "%s", body)
	id := body[strings.Index(body, `"job_id":"`)+len(`"job_id":"`):]
	id = id[:strings.IndexByte(id, '"')]
	deadline := time.Now().Add(3 * time.Minute)
	status := ""
	for time.Now().Before(deadline) {
		_, _, st := do(http.MethodGet, "/ml/training/"+id+"/status", "", bearer)
		if strings.Contains(st, `"status":"SUCCEEDED"`) || strings.Contains(st, `"status":"FAILED"`) {
			status = st
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.Contains(t, status, `"status":"SUCCEEDED"`, "the job ends")
	// A failed request is logged too (a 404 of an unknown job).
	code, _, _ = do(http.MethodGet, "/ml/training/trn-nope/status", "", bearer)
	assert.Equal(t, http.StatusNotFound, code)
	require.Equal(t, 0, s.stop())
	log := s.stderr.String()
	assert.Contains(t, log, `"bearer_token":true`)
	assert.NotContains(t, log, token, "the token is in no log line")
	assert.NotContains(t, log, token[:12])
}
