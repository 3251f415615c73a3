package serving_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/serving"
	"github.com/orrery-ml/orrery/shared/store"
)

// forgeModel rewrites the threshold in the manifest under prefix and
// SHA256SUMS to match, so that the directory's own checks pass.
func forgeModel(t *testing.T, artifacts store.ArtifactStore, prefix string) {
	t.Helper()
	get := func(name string) []byte {
		rc, err := artifacts.Get(t.Context(), path.Join(prefix, name))
		require.NoError(t, err)
		defer rc.Close()
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		return b
	}
	var man map[string]any
	require.NoError(t, json.Unmarshal(get(nn.ManifestFile), &man))
	man["threshold"] = 0.01
	forged, err := json.Marshal(man)
	require.NoError(t, err)
	sums := fmt.Sprintf("%s  %s\n", digest(forged), nn.ManifestFile)
	for _, line := range bytes.Split(bytes.TrimSpace(get(nn.SumsFile)), []byte("\n")) {
		if !bytes.HasSuffix(line, []byte("  "+nn.ManifestFile)) {
			sums += string(line) + "\n"
		}
	}
	require.NoError(t, artifacts.Put(t.Context(), path.Join(prefix, nn.ManifestFile), bytes.NewReader(forged)))
	require.NoError(t, artifacts.Put(t.Context(), path.Join(prefix, nn.SumsFile), bytes.NewReader([]byte(sums))))
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestModelsCheckTheRegistryDigest: a model found through its registry
// record is served while its manifest is the one registered, and refused
// (409, data changed) once manifest and SHA256SUMS were rewritten to agree
// with each other, which the directory's own checks cannot see.
func TestModelsCheckTheRegistryDigest(t *testing.T) {
	e := newEnv(t)
	m := testModel(t, "mdl-d", []string{"0", "1"}, 3)
	require.NoError(t, e.models.Put(t.Context(), "models/mdl-d", m))
	sum, err := e.models.Digest(t.Context(), "models/mdl-d")
	require.NoError(t, err)
	require.NoError(t, e.db.RegisterModel(t.Context(), store.Model{ID: "mdl-d", ArtifactKey: "models/mdl-d",
		ManifestSHA256: sum, CreatedAt: time.Now().UTC()}))

	sound := &serving.Models{Store: e.models, Record: serving.RegistryRecord(e.db)}
	_, err = sound.Get(t.Context(), "mdl-d")
	require.NoError(t, err, "the registered manifest is served")

	forgeModel(t, e.artifacts, "models/mdl-d")
	_, _, err = e.models.Get(t.Context(), "models/mdl-d")
	require.NoError(t, err, "the forged directory passes its own checks")

	models := &serving.Models{Store: e.models, Record: serving.RegistryRecord(e.db)}
	for range 2 {
		_, err = models.Get(t.Context(), "mdl-d")
		require.ErrorIs(t, err, serving.ErrModelRefused)
		require.ErrorIs(t, err, serving.ErrModelChanged)
		assert.Equal(t, fault.DataChanged, fault.CodeOf(err), "409: the model changed under its id")
		assert.ErrorContains(t, err, "registry recorded "+sum)
		assert.ErrorContains(t, err, "mdl-d")
		p := serving.ProblemFor(serving.ModelLoadError("live", "mdl-d", err))
		assert.Equal(t, 409, p.Status)
		assert.Contains(t, p.Detail, "changed since it was registered")
	}
	assert.Equal(t, int64(1), models.Loads(), "the refusal is kept")

	// A record with no digest (registered before digests were kept) loads as before.
	legacy := &serving.Models{Store: e.models, Record: func(_ context.Context, id string) (store.Model, error) {
		return store.Model{ID: id, ArtifactKey: serving.ModelKey(id)}, nil
	}}
	_, err = legacy.Get(t.Context(), "mdl-d")
	require.NoError(t, err)
}
