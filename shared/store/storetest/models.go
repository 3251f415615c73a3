package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
)

// fixtureModel is a registered HTRU2 classifier.
func fixtureModel(id string, created time.Time) store.Model {
	return store.Model{
		ID:          id,
		Name:        "htru2-mlp",
		JobID:       "job-" + id,
		ModelType:   "mlp",
		ArtifactKey: "models/" + id,
		ArtifactURI: "file:///tmp/orrery/models/" + id,
		Metrics:     json.RawMessage(`{"auc_pr":0.912,"f1":0.87,"threshold":0.42}`),
		DataHash:    "sha256:0f1e2d3c",
		// The registry's own digest of the manifest, checked on every load.
		ManifestSHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		CreatedAt:      created,
	}
}

// assertModel compares every field.
func assertModel(t *testing.T, want, got store.Model) {
	t.Helper()
	assert.Equal(t, want.ID, got.ID, "id")
	assert.Equal(t, want.Name, got.Name, "name")
	assert.Equal(t, want.JobID, got.JobID, "job_id")
	assert.Equal(t, want.ModelType, got.ModelType, "model_type")
	assert.Equal(t, want.ArtifactKey, got.ArtifactKey, "artifact_key")
	assert.Equal(t, want.ArtifactURI, got.ArtifactURI, "artifact_uri")
	assertRaw(t, "metrics", want.Metrics, got.Metrics)
	assert.Equal(t, want.DataHash, got.DataHash, "data_hash")
	assert.Equal(t, want.ManifestSHA256, got.ManifestSHA256, "manifest_sha256: the registry keeps the digest it registered")
	assert.Truef(t, want.CreatedAt.Equal(got.CreatedAt), "created_at: want %s, got %s", want.CreatedAt, got.CreatedAt)
}

// TestModelRegistry runs the store.ModelRegistry contract against registries
// made by newStore. Each subtest calls newStore once and expects it empty.
func TestModelRegistry(t *testing.T, newStore func(t *testing.T) store.ModelRegistry) {
	t.Run("register and get", func(t *testing.T) {
		tests := []struct {
			name  string
			model store.Model
		}{
			{"every field", fixtureModel("model-1", baseTime)},
			{"id only", store.Model{ID: "model-2"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				s := newStore(t)
				before := time.Now().Add(-time.Second)
				require.NoError(t, s.RegisterModel(t.Context(), tc.model))
				got, err := s.GetModel(t.Context(), tc.model.ID)
				require.NoError(t, err)
				want := tc.model
				if want.CreatedAt.IsZero() {
					assert.True(t, got.CreatedAt.After(before), "zero created_at is set to now, got %s", got.CreatedAt)
					want.CreatedAt = got.CreatedAt
				}
				assertModel(t, want, got)
			})
		}
	})

	t.Run("register refuses", func(t *testing.T) {
		existing := fixtureModel("model-1", baseTime)
		duplicate := fixtureModel("model-1", baseTime.Add(time.Hour))
		duplicate.Name = "impostor"
		notJSON := fixtureModel("model-2", baseTime)
		notJSON.Metrics = json.RawMessage(`{"auc_pr":`)
		tests := []struct {
			name  string
			model store.Model
			want  error
		}{
			{"empty id", fixtureModel("", baseTime), store.ErrInvalid},
			{"metrics not JSON", notJSON, store.ErrInvalid},
			{"duplicate id", duplicate, store.ErrConflict},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				s := newStore(t)
				require.NoError(t, s.RegisterModel(t.Context(), existing))
				require.ErrorIs(t, s.RegisterModel(t.Context(), tc.model), tc.want)
				got, err := s.GetModel(t.Context(), existing.ID)
				require.NoError(t, err)
				assertModel(t, existing, got)
				models, err := s.ListModels(t.Context())
				require.NoError(t, err)
				assert.Len(t, models, 1, "a refused registration stores nothing")
			})
		}
	})

	t.Run("get missing", func(t *testing.T) {
		s := newStore(t)
		_, err := s.GetModel(t.Context(), "no-such-model")
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("list newest first", func(t *testing.T) {
		s := newStore(t)
		empty, err := s.ListModels(t.Context())
		require.NoError(t, err)
		assert.Empty(t, empty)

		for _, m := range []store.Model{
			fixtureModel("model-b", baseTime.Add(2*time.Second)),
			fixtureModel("model-c", baseTime.Add(10*time.Second+250*time.Millisecond)),
			fixtureModel("model-a", baseTime.Add(1*time.Second)),
		} {
			require.NoError(t, s.RegisterModel(t.Context(), m))
		}
		models, err := s.ListModels(t.Context())
		require.NoError(t, err)
		ids := make([]string, len(models))
		for i, m := range models {
			ids[i] = m.ID
		}
		assert.Equal(t, []string{"model-c", "model-b", "model-a"}, ids)
		for _, m := range models {
			assertModel(t, fixtureModel(m.ID, m.CreatedAt), m)
		}
	})
}
