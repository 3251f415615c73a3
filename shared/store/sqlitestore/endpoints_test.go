package sqlitestore_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
)

func TestEndpointStore(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	e, err := db.PutEndpoint(ctx, store.Endpoint{Name: "pulsars", Environment: "dev", Routes: map[string]int{"mdl-a": 100}, LiveModelID: "mdl-a"})
	require.NoError(t, err)
	assert.EqualValues(t, 1, e.Revision)
	assert.Equal(t, map[string]int{"mdl-a": 100}, e.Routes)
	_, err = db.PutEndpoint(ctx, store.Endpoint{Name: "pulsars", Environment: "dev"})
	require.ErrorIs(t, err, store.ErrConflict, "revision 0 creates; the endpoint exists")
	_, err = db.PutEndpoint(ctx, store.Endpoint{Name: "pulsars", Environment: "prod"})
	require.NoError(t, err, "environments are separate")

	for name, bad := range map[string]store.Endpoint{
		"weights short of 100": {Name: "x", Environment: "dev", Routes: map[string]int{"a": 50}},
		"zero weight":          {Name: "x", Environment: "dev", Routes: map[string]int{"a": 100, "b": 0}},
		"bad name":             {Name: "x/y", Environment: "dev"},
		"lock without expiry":  {Name: "x", Environment: "dev", LockedBy: "dep-1"},
	} {
		_, err := db.PutEndpoint(ctx, bad)
		assert.ErrorIs(t, err, store.ErrInvalid, name)
	}

	// Of racing writers from one revision exactly one wins.
	var wg sync.WaitGroup
	wins := make(chan string, 6)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := e
			w.Routes = map[string]int{"mdl-a": 80, "mdl-b": 20}
			w.LockedBy, w.LockedUntil = "dep-"+string(rune('0'+i)), time.Now().Add(time.Minute)
			if got, err := db.PutEndpoint(ctx, w); err == nil {
				wins <- got.LockedBy
			} else {
				assert.ErrorIs(t, err, store.ErrConflict)
			}
		}()
	}
	wg.Wait()
	close(wins)
	require.Len(t, wins, 1)
	got, err := db.GetEndpoint(ctx, "dev", "pulsars")
	require.NoError(t, err)
	assert.EqualValues(t, 2, got.Revision)
	assert.True(t, got.Locked(time.Now()))
	assert.False(t, got.Locked(time.Now().Add(2*time.Minute)), "a lock lapses")
	assert.Equal(t, []string{"mdl-a", "mdl-b"}, got.RouteModels())

	list, err := db.ListEndpoints(ctx, "")
	require.NoError(t, err)
	assert.Len(t, list, 2)
	list, err = db.ListEndpoints(ctx, "prod")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Empty(t, list[0].Routes)
	_, err = db.GetEndpoint(ctx, "staging", "pulsars")
	assert.ErrorIs(t, err, store.ErrNotFound)
}
