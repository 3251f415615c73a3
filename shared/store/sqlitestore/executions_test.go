package sqlitestore_test

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
)

func ptr(s string) *string { return &s }

func TestExecutionJournal(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	e := store.Execution{Machine: "training", Name: "trn-1", Input: json.RawMessage(`{"job_id":"trn-1"}`), Owner: "local:b:1:2"}
	require.NoError(t, db.CreateExecution(ctx, e))
	require.ErrorIs(t, db.CreateExecution(ctx, e), store.ErrConflict, "one execution per machine and name")
	require.NoError(t, db.CreateExecution(ctx, store.Execution{Machine: "evaluation", Name: "trn-1"}), "names are per machine")

	got, err := db.GetExecution(ctx, "training", "trn-1")
	require.NoError(t, err)
	assert.Equal(t, store.ExecutionRunning, got.Status)
	assert.Equal(t, 1, got.Runs)
	assert.JSONEq(t, `{"job_id":"trn-1"}`, string(got.Input))
	assert.Equal(t, "local:b:1:2", got.Owner)

	t.Run("refusals", func(t *testing.T) {
		_, err := db.GetExecution(ctx, "training", "nope")
		assert.ErrorIs(t, err, store.ErrNotFound)
		assert.ErrorIs(t, db.CreateExecution(ctx, store.Execution{Machine: "training"}), store.ErrInvalid)
		assert.ErrorIs(t, db.CreateExecution(ctx, store.Execution{Machine: "x", Name: "y", Input: json.RawMessage(`{`)}), store.ErrInvalid)
		_, err = db.UpdateExecution(ctx, "training", "trn-1", store.ExecutionUpdate{Status: store.ExecutionRunning})
		assert.ErrorIs(t, err, store.ErrInvalid, "RUNNING is where executions start, not a change")
		_, err = db.UpdateExecution(ctx, "training", "nope", store.ExecutionUpdate{AddRun: true})
		assert.ErrorIs(t, err, store.ErrNotFound)
		assert.ErrorIs(t, db.AppendEvent(ctx, "training", "nope", json.RawMessage(`{}`)), store.ErrNotFound)
		assert.ErrorIs(t, db.AppendEvent(ctx, "training", "trn-1", json.RawMessage(`nope`)), store.ErrInvalid)
	})

	t.Run("a take-over is conditional on the owner", func(t *testing.T) {
		_, err := db.UpdateExecution(ctx, "training", "trn-1", store.ExecutionUpdate{IfOwner: ptr("someone else"), Owner: ptr("me")})
		require.ErrorIs(t, err, store.ErrConflict)
		var wg sync.WaitGroup
		wins := make(chan string, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				me := "p" + string(rune('0'+i))
				if _, err := db.UpdateExecution(ctx, "training", "trn-1", store.ExecutionUpdate{IfOwner: ptr("local:b:1:2"),
					Owner: &me, AddRun: true}); err == nil {
					wins <- me
				} else {
					assert.ErrorIs(t, err, store.ErrConflict)
				}
			}()
		}
		wg.Wait()
		close(wins)
		var winners []string
		for w := range wins {
			winners = append(winners, w)
		}
		require.Len(t, winners, 1, "exactly one process takes the execution over")
		got, err := db.GetExecution(ctx, "training", "trn-1")
		require.NoError(t, err)
		assert.Equal(t, winners[0], got.Owner)
		assert.Equal(t, 2, got.Runs)
	})

	t.Run("history keeps its order", func(t *testing.T) {
		for i := range 5 {
			require.NoError(t, db.AppendEvent(ctx, "training", "trn-1", json.RawMessage(`{"i":`+string(rune('0'+i))+`}`)))
		}
		h, err := db.History(ctx, "training", "trn-1")
		require.NoError(t, err)
		require.Len(t, h, 5)
		for i, ev := range h {
			assert.JSONEq(t, `{"i":`+string(rune('0'+i))+`}`, string(ev))
		}
		h, err = db.History(ctx, "evaluation", "trn-1")
		require.NoError(t, err)
		assert.Empty(t, h)
	})

	t.Run("an ended execution is final", func(t *testing.T) {
		running, err := db.ListExecutions(ctx, store.ExecutionRunning)
		require.NoError(t, err)
		assert.Len(t, running, 2)
		done, err := db.UpdateExecution(ctx, "training", "trn-1", store.ExecutionUpdate{Status: store.ExecutionSucceeded,
			Output: json.RawMessage(`{"model_id":"m"}`), Owner: ptr("")})
		require.NoError(t, err)
		assert.Equal(t, store.ExecutionSucceeded, done.Status)
		assert.JSONEq(t, `{"model_id":"m"}`, string(done.Output))
		_, err = db.UpdateExecution(ctx, "training", "trn-1", store.ExecutionUpdate{Status: store.ExecutionFailed})
		assert.ErrorIs(t, err, store.ErrConflict)
		_, err = db.UpdateExecution(ctx, "training", "trn-1", store.ExecutionUpdate{AddRun: true})
		assert.ErrorIs(t, err, store.ErrConflict)
		running, err = db.ListExecutions(ctx, store.ExecutionRunning)
		require.NoError(t, err)
		require.Len(t, running, 1)
		assert.Equal(t, "evaluation", running[0].Machine)
		all, err := db.ListExecutions(ctx, "")
		require.NoError(t, err)
		assert.Len(t, all, 2)
	})
}
