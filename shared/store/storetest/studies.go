package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
)

// StudyTrialStore is what a study adapter implements.
type StudyTrialStore interface {
	store.StudyStore
	store.TrialStore
}

func fixtureStudy(id string, created time.Time) store.Study {
	return store.Study{ID: id, Name: "htru2-mlp", Status: store.Running,
		Config:    json.RawMessage(`{"strategy":"bayesian","directions":["maximize"]}`),
		CreatedAt: created, UpdatedAt: created}
}

func waiting(number int, key string) store.Trial {
	return store.Trial{Number: number, Key: key, State: store.TrialWaiting,
		Params: json.RawMessage(fmt.Sprintf(`{"learning_rate":0.00%d1}`, number))}
}

// TestStudyStore checks the StudyStore and TrialStore contracts of
// shared/store/studies.go against an adapter.
func TestStudyStore(t *testing.T, newStore func(t *testing.T) StudyTrialStore) {
	t.Run("create get list", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		require.NoError(t, s.CreateStudy(ctx, fixtureStudy("st-1", baseTime)))
		require.NoError(t, s.CreateStudy(ctx, fixtureStudy("st-2", baseTime.Add(time.Second))))
		err := s.CreateStudy(ctx, fixtureStudy("st-1", baseTime))
		require.ErrorIs(t, err, store.ErrConflict)
		got, err := s.GetStudy(ctx, "st-1")
		require.NoError(t, err)
		assert.Equal(t, 1, got.Version)
		assert.Equal(t, store.Running, got.Status)
		assertRaw(t, "config", fixtureStudy("", baseTime).Config, got.Config)
		assert.True(t, baseTime.Equal(got.CreatedAt))
		_, err = s.GetStudy(ctx, "nope")
		require.ErrorIs(t, err, store.ErrNotFound)
		all, err := s.ListStudies(ctx, 0)
		require.NoError(t, err)
		require.Len(t, all, 2)
		assert.Equal(t, "st-2", all[0].ID)
		one, err := s.ListStudies(ctx, 1)
		require.NoError(t, err)
		require.Len(t, one, 1)
		_, err = s.ListStudies(ctx, -1)
		require.ErrorIs(t, err, store.ErrInvalid)
	})
	t.Run("invalid studies", func(t *testing.T) {
		s := newStore(t)
		for name, st := range map[string]store.Study{
			"empty id":     {Status: store.Running},
			"empty status": {ID: "x"},
			"bad status":   {ID: "x", Status: "DONE"},
			"bad json":     {ID: "x", Status: store.Running, Config: json.RawMessage(`{`)},
		} {
			require.ErrorIs(t, s.CreateStudy(t.Context(), st), store.ErrInvalid, name)
		}
	})
	t.Run("versioned updates", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		require.NoError(t, s.CreateStudy(ctx, fixtureStudy("st", baseTime)))
		got, err := s.UpdateStudy(ctx, "st", 1, store.StudyUpdate{State: json.RawMessage(`{"gp":[1,2]}`)})
		require.NoError(t, err)
		assert.Equal(t, 2, got.Version)
		assertRaw(t, "state", json.RawMessage(`{"gp":[1,2]}`), got.State)
		assertRaw(t, "config kept", fixtureStudy("", baseTime).Config, got.Config)
		_, err = s.UpdateStudy(ctx, "st", 1, store.StudyUpdate{Status: store.Succeeded})
		require.ErrorIs(t, err, store.ErrConflict)
		_, err = s.UpdateStudy(ctx, "nope", 1, store.StudyUpdate{Status: store.Succeeded})
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = s.UpdateStudy(ctx, "st", 2, store.StudyUpdate{State: json.RawMessage(`nope`)})
		require.ErrorIs(t, err, store.ErrInvalid)

		// Concurrent writers at the same version: exactly one wins.
		var wg sync.WaitGroup
		wins := make(chan int, concurrentWriters)
		for i := range concurrentWriters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.UpdateStudy(ctx, "st", 2, store.StudyUpdate{State: json.RawMessage(fmt.Sprint(i))}); err == nil {
					wins <- i
				} else {
					assert.ErrorIs(t, err, store.ErrConflict)
				}
			}()
		}
		wg.Wait()
		close(wins)
		assert.Len(t, wins, 1)
		// A finished study can be reopened (extended).
		got, err = s.UpdateStudy(ctx, "st", 3, store.StudyUpdate{Status: store.Succeeded})
		require.NoError(t, err)
		_, err = s.UpdateStudy(ctx, "st", got.Version, store.StudyUpdate{Status: store.Running})
		require.NoError(t, err)
	})
	t.Run("trials are added all or none and keys are unique", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		require.ErrorIs(t, s.AddTrials(ctx, "nope", []store.Trial{waiting(0, "")}), store.ErrNotFound)
		require.NoError(t, s.CreateStudy(ctx, fixtureStudy("st", baseTime)))
		require.NoError(t, s.AddTrials(ctx, "st", []store.Trial{waiting(0, "g0"), waiting(1, "g1")}))
		require.ErrorIs(t, s.AddTrials(ctx, "st", []store.Trial{waiting(2, "g2"), waiting(3, "g1")}), store.ErrConflict)
		require.ErrorIs(t, s.AddTrials(ctx, "st", []store.Trial{waiting(1, "")}), store.ErrConflict)
		require.ErrorIs(t, s.AddTrials(ctx, "st", []store.Trial{{Number: 5, Params: json.RawMessage(`{`)}}), store.ErrInvalid)
		require.ErrorIs(t, s.AddTrials(ctx, "st", []store.Trial{{Number: -1, Params: json.RawMessage(`{}`)}}), store.ErrInvalid)
		// Two empty keys never collide.
		require.NoError(t, s.AddTrials(ctx, "st", []store.Trial{waiting(2, ""), waiting(3, "")}))
		ts, err := s.ListTrials(ctx, "st")
		require.NoError(t, err)
		require.Len(t, ts, 4, "the failed batch left nothing behind")
		for i, tr := range ts {
			assert.Equal(t, i, tr.Number)
			assert.Equal(t, store.TrialWaiting, tr.State)
			assertRaw(t, "params", waiting(i, "").Params, tr.Params)
		}
	})
	t.Run("claims are exclusive and leases expire", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		require.NoError(t, s.CreateStudy(ctx, fixtureStudy("st", baseTime)))
		var batch []store.Trial
		for i := range concurrentWriters / 2 {
			batch = append(batch, waiting(i, ""))
		}
		require.NoError(t, s.AddTrials(ctx, "st", batch))
		now := time.Now()
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			claimed = map[int]string{}
		)
		for w := range concurrentWriters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				worker := fmt.Sprintf("w%d", w)
				tr, err := s.ClaimTrial(ctx, "st", worker, now, time.Minute)
				if err != nil {
					assert.ErrorIs(t, err, store.ErrNotFound)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				_, dup := claimed[tr.Number]
				assert.False(t, dup, "trial %d claimed twice", tr.Number)
				claimed[tr.Number] = worker
			}()
		}
		wg.Wait()
		require.Len(t, claimed, len(batch))
		_, err := s.ClaimTrial(ctx, "st", "late", now, time.Minute)
		require.ErrorIs(t, err, store.ErrNotFound)

		holder := claimed[0]
		inter := json.RawMessage(`[{"step":1,"values":[0.5]}]`)
		tr, err := s.UpdateTrial(ctx, "st", 0, holder, store.TrialUpdate{Intermediate: inter})
		require.NoError(t, err)
		assert.Equal(t, store.TrialRunning, tr.State)
		_, err = s.UpdateTrial(ctx, "st", 0, "intruder", store.TrialUpdate{State: store.TrialComplete})
		require.ErrorIs(t, err, store.ErrConflict)
		_, err = s.UpdateTrial(ctx, "st", 99, holder, store.TrialUpdate{State: store.TrialComplete})
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = s.UpdateTrial(ctx, "st", 0, holder, store.TrialUpdate{State: store.TrialWaiting})
		require.ErrorIs(t, err, store.ErrInvalid)

		// The holder crashes: after its lease another worker gets the trial,
		// with its intermediate values, and the old holder is locked out.
		tr, err = s.ClaimTrial(ctx, "st", "rescuer", now.Add(2*time.Minute), time.Minute)
		require.NoError(t, err)
		assert.Equal(t, 0, tr.Number)
		assert.Equal(t, 2, tr.Attempts)
		assertRaw(t, "intermediate kept", inter, tr.Intermediate)
		_, err = s.UpdateTrial(ctx, "st", 0, holder, store.TrialUpdate{State: store.TrialComplete})
		require.ErrorIs(t, err, store.ErrConflict)
		tr, err = s.UpdateTrial(ctx, "st", 0, "rescuer", store.TrialUpdate{State: store.TrialComplete, Values: json.RawMessage(`[0.9]`)})
		require.NoError(t, err)
		assert.Equal(t, store.TrialComplete, tr.State)
		assertRaw(t, "values", json.RawMessage(`[0.9]`), tr.Values)
		_, err = s.UpdateTrial(ctx, "st", 0, "rescuer", store.TrialUpdate{State: store.TrialFailed})
		require.ErrorIs(t, err, store.ErrConflict, "a finished trial never changes")
	})
}
