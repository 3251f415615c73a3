package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/embedded"
	"github.com/orrery-ml/orrery/shared/ml/modelstore"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/serving"
	"github.com/orrery-ml/orrery/shared/store"
)

// syntheticCSV is a small learnable binary table: pulsar when a+b is large.
func syntheticCSV(rows int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	b.WriteString("a,b,noise,label\n")
	for range rows {
		a, bb := r.Float64(), r.Float64()
		label := "star"
		if a+bb+0.1*r.NormFloat64() > 1.3 {
			label = "pulsar"
		}
		fmt.Fprintf(&b, "%.6f,%.6f,%.6f,%s\n", a, bb, r.NormFloat64(), label)
	}
	return b.String()
}

// predictHome is a home directory with trained models behind endpoints,
// as a deployment leaves them: dev/syn routes all to good, prod/syn to
// other, dev/empty routes nothing, dev/broken to a model whose weights were
// changed after it was registered.
type predictHome struct {
	home                string
	good, other, broken string
	models              map[string]*nn.Model
}

func newPredictHome(t *testing.T) *predictHome {
	t.Helper()
	ctx := t.Context()
	h := &predictHome{home: filepath.Join(t.TempDir(), "home"), models: map[string]*nn.Model{}}
	rt, err := embedded.Open(ctx, h.home, nil)
	require.NoError(t, err)
	defer rt.Close()
	csv := filepath.Join(t.TempDir(), "syn.csv")
	require.NoError(t, os.WriteFile(csv, []byte(syntheticCSV(600, 3)), 0o644))
	train := func(seed int64) string {
		cfg := training.Defaults()
		cfg.DatasetPath, cfg.TargetColumn, cfg.PositiveClass = csv, "label", "pulsar"
		cfg.Epochs, cfg.HiddenLayers, cfg.Seed = 15, []int{8}, seed
		res, err := pipeline.RunTraining(ctx, rt.Pipeline, cfg)
		require.NoError(t, err)
		m, _, err := modelstore.Store{Artifacts: rt.Artifacts}.Get(ctx, "models/"+res.ModelID)
		require.NoError(t, err)
		h.models[res.ModelID] = m
		return res.ModelID
	}
	h.good, h.other, h.broken = train(1), train(2), train(3)
	// Change one byte of the broken model's weights: its SHA-256 no longer matches.
	key := "models/" + h.broken + "/weights.safetensors"
	rc, err := rt.Artifacts.Get(ctx, key)
	require.NoError(t, err)
	data, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	data[len(data)-1] ^= 0x40
	require.NoError(t, rt.Artifacts.Put(ctx, key, bytes.NewReader(data)))

	for _, e := range []store.Endpoint{
		{Name: "syn", Environment: "dev", Routes: map[string]int{h.good: 100}, LiveModelID: h.good},
		{Name: "syn", Environment: "prod", Routes: map[string]int{h.other: 100}, LiveModelID: h.other},
		{Name: "empty", Environment: "dev"},
		{Name: "broken", Environment: "dev", Routes: map[string]int{h.broken: 100}},
	} {
		_, err := rt.DB.PutEndpoint(ctx, e)
		require.NoError(t, err)
	}
	return h
}

// expected is what model id answers for rows, computed without the server.
func (h *predictHome) expected(t *testing.T, id string, rows [][]float64) []serving.Prediction {
	t.Helper()
	p, err := serving.NewPredictor(id, h.models[id], serving.Limits{})
	require.NoError(t, err)
	var x []float64
	for _, r := range rows {
		x = append(x, r...)
	}
	res, err := p.Predict(context.Background(), serving.Batch{X: x, Rows: len(rows)})
	require.NoError(t, err)
	return res.Predictions
}

// raw sends one request and returns the status, headers and body.
func (s *server) raw(t *testing.T, method, path, contentType, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, b
}

// TestServePredicts drives the endpoint routes of `orrery serve` on models
// trained through the training machine: predictions equal the model's own,
// the header names the version, bad input is a problem naming each
// feature, and the endpoint views count what they served.
func TestServePredicts(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three small models")
	}
	h := newPredictHome(t)
	s := startServe(t, "--home", h.home)
	rows := [][]float64{{0.9, 0.8, 0.1}, {0.1, 0.2, -0.4}, {0.5, 0.6, 1.2}}

	predict := func(t *testing.T, path, body string) (int, http.Header, map[string]any) {
		t.Helper()
		code, hdr, b := s.raw(t, http.MethodPost, path, "application/json", body)
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m), "%s", b)
		return code, hdr, m
	}
	decode := func(t *testing.T, m map[string]any) []serving.Prediction {
		t.Helper()
		b, err := json.Marshal(m["predictions"])
		require.NoError(t, err)
		var out []serving.Prediction
		require.NoError(t, json.Unmarshal(b, &out))
		return out
	}

	t.Run("instances and rows answer as the model does", func(t *testing.T) {
		var instances []map[string]float64
		for _, r := range rows {
			instances = append(instances, map[string]float64{"a": r[0], "b": r[1], "noise": r[2]})
		}
		for name, body := range map[string]any{"instances": map[string]any{"instances": instances}, "rows": map[string]any{"rows": rows}} {
			b, err := json.Marshal(body)
			require.NoError(t, err)
			code, hdr, m := predict(t, "/ml/endpoints/syn/predict", string(b))
			require.Equal(t, http.StatusOK, code, "%s: %v", name, m)
			assert.Equal(t, h.good, hdr.Get(serving.ModelIDHeader), name)
			assert.Equal(t, "syn", m["endpoint"])
			assert.Equal(t, h.good, m["model_id"])
			got := decode(t, m)
			assert.Equal(t, h.expected(t, h.good, rows), got, name)
			for _, p := range got {
				assert.Contains(t, []string{"pulsar", "star"}, p.Label)
				require.NotNil(t, p.Probability)
				assert.True(t, *p.Probability >= 0 && *p.Probability <= 1)
			}
		}
	})

	t.Run("environments are separate endpoints", func(t *testing.T) {
		code, hdr, m := predict(t, "/ml/endpoints/syn/predict?environment=prod", `{"rows": [[0.9, 0.8, 0.1]]}`)
		require.Equal(t, http.StatusOK, code, "%v", m)
		assert.Equal(t, h.other, hdr.Get(serving.ModelIDHeader))
		assert.Equal(t, h.expected(t, h.other, rows[:1]), decode(t, m))
		code, _, m = predict(t, "/ml/endpoints/syn/predict?environment=staging", `{"rows": [[0.9, 0.8, 0.1]]}`)
		assert.Equal(t, http.StatusNotFound, code, "%v", m)
		code, _, m = predict(t, "/ml/endpoints/syn/predict?environment=qa", `{"rows": [[0.9, 0.8, 0.1]]}`)
		require.Equal(t, http.StatusBadRequest, code, "%v", m)
		assert.Equal(t, "environment", m["errors"].([]any)[0].(map[string]any)["field"])
	})

	t.Run("features that do not match are named", func(t *testing.T) {
		tests := []struct {
			name, body string
			fields     []string
		}{
			{"missing", `{"instances": [{"a": 1, "b": 2}]}`, []string{"instances[0].noise"}},
			{"extra", `{"instances": [{"a": 1, "b": 2, "noise": 0, "mag": 3}]}`, []string{"instances[0].mag"}},
			{"non-numeric", `{"instances": [{"a": "x", "b": 2, "noise": 0}]}`, []string{"instances[0].a"}},
			{"short row", `{"rows": [[1, 2]]}`, []string{"rows[0]"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				code, hdr, b := s.raw(t, http.MethodPost, "/ml/endpoints/syn/predict", "application/json", tc.body)
				require.Equal(t, http.StatusBadRequest, code, "%s", b)
				assert.Equal(t, serving.ProblemContentType, hdr.Get("Content-Type"))
				assert.Equal(t, h.good, hdr.Get(serving.ModelIDHeader), "the version whose schema refused it")
				var p serving.Problem
				require.NoError(t, json.Unmarshal(b, &p))
				var got []string
				for _, e := range p.Errors {
					got = append(got, e.Field)
				}
				assert.Equal(t, tc.fields, got)
				assert.Equal(t, "urn:orrery:problem:invalid-request", p.Type)
			})
		}
	})

	t.Run("what cannot be answered", func(t *testing.T) {
		tests := []struct {
			name, path, contentType, body string
			status                        int
		}{
			{"unknown endpoint", "/ml/endpoints/nope/predict", "application/json", `{"rows": [[1, 2, 3]]}`, http.StatusNotFound},
			{"nothing deployed", "/ml/endpoints/empty/predict", "application/json", `{"rows": [[1, 2, 3]]}`, http.StatusNotFound},
			{"a model that fails its SHA-256 check", "/ml/endpoints/broken/predict", "application/json", `{"rows": [[1, 2, 3]]}`, http.StatusServiceUnavailable},
			{"not JSON", "/ml/endpoints/syn/predict", "text/csv", "1,2,3\n", http.StatusUnsupportedMediaType},
			{"an endpoint name that is no id", "/ml/endpoints/..x/predict", "application/json", `{"rows": [[1, 2, 3]]}`, http.StatusBadRequest},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				code, hdr, b := s.raw(t, http.MethodPost, tc.path, tc.contentType, tc.body)
				assert.Equal(t, tc.status, code, "%s", b)
				assert.Equal(t, serving.ProblemContentType, hdr.Get("Content-Type"), "%s", b)
			})
		}
		_, _, b := s.raw(t, http.MethodPost, "/ml/endpoints/broken/predict", "application/json", `{"rows": [[1, 2, 3]]}`)
		assert.Contains(t, string(b), h.broken, "the refusal names the model")
		assert.Contains(t, string(b), "weights.safetensors", "and the file")
	})

	t.Run("the views show weights and traffic per version", func(t *testing.T) {
		code, view := s.call(t, http.MethodGet, "/ml/endpoints/syn", "")
		require.Equal(t, http.StatusOK, code, "%v", view)
		assert.Equal(t, map[string]any{h.good: 100.0}, view["routes"])
		assert.Equal(t, h.good, view["live_model_id"])
		versions := view["versions"].([]any)
		require.Len(t, versions, 1)
		v := versions[0].(map[string]any)
		traffic := v["traffic"].(map[string]any)
		assert.EqualValues(t, 6, traffic["requests"], "2 predictions and 4 schema violations reached dev/syn")
		assert.EqualValues(t, 4, traffic["schema_violations"])
		assert.EqualValues(t, 0, traffic["errors"])
		assert.EqualValues(t, 6, traffic["rows"])
		assert.Greater(t, traffic["latency_p99_ms"].(float64), 0.0)

		code, broken := s.call(t, http.MethodGet, "/ml/endpoints/broken", "")
		require.Equal(t, http.StatusOK, code)
		bt := broken["versions"].([]any)[0].(map[string]any)["traffic"].(map[string]any)
		assert.EqualValues(t, 2, bt["errors"], "a refused model's requests are errors of its version")

		code, list := s.call(t, http.MethodGet, "/ml/endpoints", "")
		require.Equal(t, http.StatusOK, code)
		assert.Len(t, list["endpoints"], 4)
		code, list = s.call(t, http.MethodGet, "/ml/endpoints?environment=prod", "")
		require.Equal(t, http.StatusOK, code)
		require.Len(t, list["endpoints"], 1)
		code, _ = s.call(t, http.MethodGet, "/ml/endpoints/nope", "")
		assert.Equal(t, http.StatusNotFound, code)
	})
}
