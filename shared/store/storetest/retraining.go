package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
)

// fixturePolicy retrains the HTRU2 classifier from uploads under prefix.
func fixturePolicy(prefix string) store.RetrainingPolicy {
	return store.RetrainingPolicy{
		Prefix:    prefix,
		ModelName: "htru2-mlp",
		Config:    json.RawMessage(`{"model_type":"mlp","target_column":"class","positive_class":"1","epochs":30}`),
		UpdatedAt: baseTime,
	}
}

// TestRetrainingPolicyStore runs the store.RetrainingPolicyStore contract
// against stores made by newStore. Each subtest calls newStore once and
// expects it empty.
func TestRetrainingPolicyStore(t *testing.T, newStore func(t *testing.T) store.RetrainingPolicyStore) {
	t.Run("put and get", func(t *testing.T) {
		s := newStore(t)
		p := fixturePolicy("incoming/htru2/")
		require.NoError(t, s.PutRetrainingPolicy(t.Context(), p))
		got, err := s.GetRetrainingPolicy(t.Context(), p.Prefix)
		require.NoError(t, err)
		assertPolicy(t, p, got)
	})

	t.Run("replace", func(t *testing.T) {
		s := newStore(t)
		p := fixturePolicy("incoming/htru2/")
		require.NoError(t, s.PutRetrainingPolicy(t.Context(), p))
		p.Paused = true
		p.ModelName = "htru2-logreg"
		p.Config = json.RawMessage(`{"model_type":"logistic_regression","target_column":"class"}`)
		p.UpdatedAt = baseTime.Add(time.Hour)
		require.NoError(t, s.PutRetrainingPolicy(t.Context(), p))
		got, err := s.GetRetrainingPolicy(t.Context(), p.Prefix)
		require.NoError(t, err)
		assertPolicy(t, p, got)
	})

	t.Run("zero updated_at is now", func(t *testing.T) {
		s := newStore(t)
		p := fixturePolicy("incoming/")
		p.UpdatedAt = time.Time{}
		before := time.Now().Add(-time.Second)
		require.NoError(t, s.PutRetrainingPolicy(t.Context(), p))
		got, err := s.GetRetrainingPolicy(t.Context(), p.Prefix)
		require.NoError(t, err)
		assert.True(t, got.UpdatedAt.After(before), "updated_at %s", got.UpdatedAt)
	})

	t.Run("exact prefix only", func(t *testing.T) {
		s := newStore(t)
		require.NoError(t, s.PutRetrainingPolicy(t.Context(), fixturePolicy("incoming/htru2/")))
		for _, prefix := range []string{"incoming/", "incoming/htru2/2026/", "incoming/htru"} {
			_, err := s.GetRetrainingPolicy(t.Context(), prefix)
			require.ErrorIs(t, err, store.ErrNotFound, "prefix %q", prefix)
		}
	})

	t.Run("refuses", func(t *testing.T) {
		noSlash := fixturePolicy("incoming/htru2")
		empty := fixturePolicy("")
		noConfig := fixturePolicy("incoming/a/")
		noConfig.Config = nil
		array := fixturePolicy("incoming/b/")
		array.Config = json.RawMessage(`[1,2]`)
		broken := fixturePolicy("incoming/c/")
		broken.Config = json.RawMessage(`{"epochs":`)
		tests := []struct {
			name string
			p    store.RetrainingPolicy
		}{
			{"prefix without slash", noSlash},
			{"empty prefix", empty},
			{"no config", noConfig},
			{"config not an object", array},
			{"config not JSON", broken},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				s := newStore(t)
				require.ErrorIs(t, s.PutRetrainingPolicy(t.Context(), tc.p), store.ErrInvalid)
				if tc.p.Prefix != "" {
					_, err := s.GetRetrainingPolicy(t.Context(), tc.p.Prefix)
					require.ErrorIs(t, err, store.ErrNotFound, "a refused policy is not stored")
				}
			})
		}
	})

	t.Run("list and delete", func(t *testing.T) {
		s := newStore(t)
		list, err := s.ListRetrainingPolicies(t.Context())
		require.NoError(t, err)
		assert.Empty(t, list)
		b, a := fixturePolicy("incoming/ztf/"), fixturePolicy("incoming/htru2/")
		require.NoError(t, s.PutRetrainingPolicy(t.Context(), b))
		require.NoError(t, s.PutRetrainingPolicy(t.Context(), a))
		list, err = s.ListRetrainingPolicies(t.Context())
		require.NoError(t, err)
		require.Len(t, list, 2)
		assertPolicy(t, a, list[0]) // by prefix
		assertPolicy(t, b, list[1])
		require.NoError(t, s.DeleteRetrainingPolicy(t.Context(), a.Prefix))
		_, err = s.GetRetrainingPolicy(t.Context(), a.Prefix)
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, s.DeleteRetrainingPolicy(t.Context(), a.Prefix), store.ErrNotFound, "deleted once")
		require.ErrorIs(t, s.DeleteRetrainingPolicy(t.Context(), "incoming/"), store.ErrNotFound, "exact prefix only")
		list, err = s.ListRetrainingPolicies(t.Context())
		require.NoError(t, err)
		require.Len(t, list, 1)
		assertPolicy(t, b, list[0])
	})
}

// assertPolicy compares every field.
func assertPolicy(t *testing.T, want, got store.RetrainingPolicy) {
	t.Helper()
	assert.Equal(t, want.Prefix, got.Prefix, "prefix")
	assert.Equal(t, want.ModelName, got.ModelName, "model_name")
	assertRaw(t, "config", want.Config, got.Config)
	assert.Equal(t, want.Paused, got.Paused, "paused")
	assert.Truef(t, want.UpdatedAt.Equal(got.UpdatedAt), "updated_at: want %s, got %s", want.UpdatedAt, got.UpdatedAt)
}
