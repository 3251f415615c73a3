package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/ml/modelstore"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/serving"
	"github.com/orrery-ml/orrery/shared/serving/emf"
	"github.com/orrery-ml/orrery/shared/store/filestore"
)

// TestHandlerRefusesAModelChangedSinceRegistration: a version bound to a
// model and its manifest's registered digest (the deployment flow's
// config.EnvModelManifestSHA256) answers while the manifest is the
// registered one, and 409 once manifest and SHA256SUMS were rewritten to
// agree with each other.
func TestHandlerRefusesAModelChangedSinceRegistration(t *testing.T) {
	files, err := filestore.New(t.TempDir())
	require.NoError(t, err)
	ms := modelstore.Store{Artifacts: files}
	require.NoError(t, ms.Put(t.Context(), "models/mdl-live", htru2Model(t, "mdl-live", 5)))
	sum, err := ms.Digest(t.Context(), "models/mdl-live")
	require.NoError(t, err)
	env := map[string]string{config.EnvArtifactsBucket: "b", config.EnvModelID: "mdl-live", config.EnvModelManifestSHA256: sum}
	cfg, err := FromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	require.Equal(t, sum, cfg.ManifestSHA256)
	handlerOf := func() *handler {
		cache := &serving.Models{Store: ms, Record: cfg.record}
		return &handler{cfg: cfg, models: func() (*serving.Models, error) { return cache, nil },
			metrics: &emf.Writer{W: io.Discard}, log: slog.New(slog.DiscardHandler)}
	}
	resp, err := handlerOf().Handle(t.Context(), sampleEvent(t))
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, resp.Body)

	// Rewrite the threshold, and SHA256SUMS to match.
	read := func(name string) []byte {
		rc, err := files.Get(t.Context(), "models/mdl-live/"+name)
		require.NoError(t, err)
		defer rc.Close()
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		return b
	}
	var man map[string]any
	require.NoError(t, json.Unmarshal(read(nn.ManifestFile), &man))
	man["threshold"] = 0.01
	forged, err := json.Marshal(man)
	require.NoError(t, err)
	hexsum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	require.NoError(t, files.Put(t.Context(), "models/mdl-live/"+nn.ManifestFile, bytes.NewReader(forged)))
	require.NoError(t, files.Put(t.Context(), "models/mdl-live/"+nn.SumsFile, bytes.NewReader(fmt.Appendf(nil, "%s  %s\n%s  %s\n",
		hexsum(forged), nn.ManifestFile, hexsum(read(nn.WeightsFile)), nn.WeightsFile))))

	resp, err = handlerOf().Handle(t.Context(), sampleEvent(t))
	require.NoError(t, err)
	assert.Equal(t, 409, resp.StatusCode, resp.Body)
	assert.Contains(t, resp.Body, "changed since it was registered")
	assert.Contains(t, resp.Body, sum, "the answer names the registered digest")
}
