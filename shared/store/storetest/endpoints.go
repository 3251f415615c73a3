package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
)

// TestEndpointStore runs the store.EndpointStore contract against stores
// made by newStore; each subtest calls newStore once and expects an empty
// store.
func TestEndpointStore(t *testing.T, newStore func(t *testing.T) store.EndpointStore) {
	t.Run("create, get, list", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		_, err := s.GetEndpoint(ctx, "dev", "pulsars")
		require.ErrorIs(t, err, store.ErrNotFound)
		e, err := s.PutEndpoint(ctx, store.Endpoint{Name: "pulsars", Environment: "dev", Routes: map[string]int{"mdl-a": 100},
			LiveModelID: "mdl-a"})
		require.NoError(t, err)
		assert.EqualValues(t, 1, e.Revision)
		assert.Equal(t, map[string]int{"mdl-a": 100}, e.Routes)
		_, err = s.PutEndpoint(ctx, store.Endpoint{Name: "pulsars", Environment: "dev"})
		require.ErrorIs(t, err, store.ErrConflict, "revision 0 creates; the endpoint exists")
		_, err = s.PutEndpoint(ctx, store.Endpoint{Name: "pulsars", Environment: "prod"})
		require.NoError(t, err, "environments are separate")
		_, err = s.PutEndpoint(ctx, store.Endpoint{Name: "bogus", Environment: "dev"})
		require.NoError(t, err)

		got, err := s.GetEndpoint(ctx, "dev", "pulsars")
		require.NoError(t, err)
		assert.Equal(t, "mdl-a", got.LiveModelID)
		assert.Equal(t, map[string]int{"mdl-a": 100}, got.Routes)
		assert.False(t, got.UpdatedAt.IsZero())

		all, err := s.ListEndpoints(ctx, "")
		require.NoError(t, err)
		var names []string
		for _, e := range all {
			names = append(names, e.Environment+"/"+e.Name)
		}
		assert.Equal(t, []string{"dev/bogus", "dev/pulsars", "prod/pulsars"}, names)
		dev, err := s.ListEndpoints(ctx, "dev")
		require.NoError(t, err)
		assert.Len(t, dev, 2)
		none, err := s.ListEndpoints(ctx, "staging")
		require.NoError(t, err)
		assert.Empty(t, none)
	})

	t.Run("refuses", func(t *testing.T) {
		s := newStore(t)
		for name, bad := range map[string]store.Endpoint{
			"weights short of 100": {Name: "x", Environment: "dev", Routes: map[string]int{"a": 50}},
			"zero weight":          {Name: "x", Environment: "dev", Routes: map[string]int{"a": 100, "b": 0}},
			"bad name":             {Name: "x/y", Environment: "dev"},
			"bad environment":      {Name: "x", Environment: ""},
			"lock without expiry":  {Name: "x", Environment: "dev", LockedBy: "dep-1"},
		} {
			_, err := s.PutEndpoint(t.Context(), bad)
			assert.ErrorIs(t, err, store.ErrInvalid, name)
		}
		all, err := s.ListEndpoints(t.Context(), "")
		require.NoError(t, err)
		assert.Empty(t, all, "a refused write stores nothing")
		_, err = s.PutEndpoint(t.Context(), store.Endpoint{Name: "x", Environment: "dev", Revision: 3})
		require.ErrorIs(t, err, store.ErrConflict, "a revision of an endpoint that does not exist")
	})

	t.Run("a lock and racing writers", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		e, err := s.PutEndpoint(ctx, store.Endpoint{Name: "pulsars", Environment: "dev", Routes: map[string]int{"mdl-a": 100}})
		require.NoError(t, err)
		var wg sync.WaitGroup
		wins := make(chan string, concurrentWriters)
		for i := range concurrentWriters {
			wg.Go(func() {
				w := e
				w.Routes = map[string]int{"mdl-a": 80, "mdl-b": 20}
				w.LockedBy, w.LockedUntil = "dep-"+string(rune('a'+i)), time.Now().Add(time.Minute)
				if got, err := s.PutEndpoint(ctx, w); err == nil {
					wins <- got.LockedBy
				} else {
					assert.ErrorIs(t, err, store.ErrConflict)
				}
			})
		}
		wg.Wait()
		close(wins)
		require.Len(t, wins, 1, "of racing writers from one revision exactly one wins")
		winner := <-wins
		got, err := s.GetEndpoint(ctx, "dev", "pulsars")
		require.NoError(t, err)
		assert.EqualValues(t, 2, got.Revision)
		assert.Equal(t, winner, got.LockedBy)
		assert.Equal(t, map[string]int{"mdl-a": 80, "mdl-b": 20}, got.Routes)
		assert.True(t, got.Locked(time.Now()))
		assert.False(t, got.Locked(time.Now().Add(2*time.Minute)), "a lock lapses")

		got.LockedBy, got.LockedUntil = "", time.Time{}
		released, err := s.PutEndpoint(ctx, got)
		require.NoError(t, err)
		assert.False(t, released.Locked(time.Now()))
		assert.EqualValues(t, 3, released.Revision)
	})
}

// TestModelAliases runs the store.ModelAliases contract against stores made
// by newStore.
func TestModelAliases(t *testing.T, newStore func(t *testing.T) store.ModelAliases) {
	t.Run("set, replace, remove", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		list := func(env string) []string {
			t.Helper()
			got, err := s.ListModelAliases(ctx, env)
			require.NoError(t, err)
			out := []string{}
			for _, a := range got {
				assert.False(t, a.UpdatedAt.IsZero())
				out = append(out, a.Environment+"/"+a.Name+"/"+a.Alias+"="+a.ModelID)
			}
			return out
		}
		assert.Empty(t, list(""))
		set := func(a store.ModelAlias) {
			t.Helper()
			require.NoError(t, s.SetModelAlias(ctx, a))
		}
		set(store.ModelAlias{Environment: "dev", Name: "htru2 pulsars", Alias: store.AliasChampion, ModelID: "mdl-a", Endpoint: "pulsars"})
		set(store.ModelAlias{Environment: "dev", Name: "htru2 pulsars", Alias: store.AliasChallenger, ModelID: "mdl-b"})
		set(store.ModelAlias{Environment: "prod", Name: "htru2 pulsars", Alias: store.AliasChampion, ModelID: "mdl-a"})
		assert.Equal(t, []string{"dev/htru2 pulsars/challenger=mdl-b", "dev/htru2 pulsars/champion=mdl-a",
			"prod/htru2 pulsars/champion=mdl-a"}, list(""))

		// Promotion: the challenger becomes the champion.
		set(store.ModelAlias{Environment: "dev", Name: "htru2 pulsars", Alias: store.AliasChampion, ModelID: "mdl-b"})
		require.NoError(t, s.RemoveModelAlias(ctx, "dev", "htru2 pulsars", store.AliasChallenger, "mdl-b"))
		assert.Equal(t, []string{"dev/htru2 pulsars/champion=mdl-b"}, list("dev"))

		// Removing an alias that names another model leaves it.
		require.NoError(t, s.RemoveModelAlias(ctx, "prod", "htru2 pulsars", store.AliasChampion, "mdl-z"))
		require.NoError(t, s.RemoveModelAlias(ctx, "prod", "htru2 pulsars", "absent", ""))
		assert.Equal(t, []string{"prod/htru2 pulsars/champion=mdl-a"}, list("prod"))
		require.NoError(t, s.RemoveModelAlias(ctx, "prod", "htru2 pulsars", store.AliasChampion, ""))
		assert.Empty(t, list("prod"))
	})

	t.Run("refuses", func(t *testing.T) {
		s := newStore(t)
		for name, bad := range map[string]store.ModelAlias{
			"no environment": {Name: "m", Alias: "champion", ModelID: "mdl-a"},
			"no name":        {Environment: "dev", Alias: "champion", ModelID: "mdl-a"},
			"bad alias":      {Environment: "dev", Name: "m", Alias: "cham pion", ModelID: "mdl-a"},
			"no model":       {Environment: "dev", Name: "m", Alias: "champion"},
			"bad endpoint":   {Environment: "dev", Name: "m", Alias: "champion", ModelID: "mdl-a", Endpoint: "a/b"},
		} {
			assert.ErrorIs(t, s.SetModelAlias(t.Context(), bad), store.ErrInvalid, name)
		}
		got, err := s.ListModelAliases(t.Context(), "")
		require.NoError(t, err)
		assert.Empty(t, got)
	})
}
