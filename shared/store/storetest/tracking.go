package storetest

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
)

// TestTrackingOutbox runs the store.TrackingOutbox contract against stores
// made by newStore. Each subtest calls newStore once and expects it empty.
func TestTrackingOutbox(t *testing.T, newStore func(t *testing.T) store.TrackingOutbox) {
	t.Run("refused append stores nothing", func(t *testing.T) {
		db := newStore(t)
		ctx := t.Context()
		for _, bad := range []store.TrackingEntry{
			{Subject: "j1", Kind: "k", Payload: json.RawMessage(`not json`)},
			{Subject: "", Kind: "k", Payload: json.RawMessage(`{}`)},
			{Subject: "j1", Kind: "", Payload: json.RawMessage(`{}`)},
		} {
			err := db.AppendTracking(ctx, store.TrackingEntry{Subject: "j1", Kind: "k", Payload: json.RawMessage(`{}`)}, bad)
			require.ErrorIs(t, err, store.ErrInvalid)
		}
		all, err := db.PendingTracking(ctx, "", 0)
		require.NoError(t, err)
		assert.Empty(t, all, "a refused append stores nothing")
		_, err = db.PendingTracking(ctx, "", -1)
		require.ErrorIs(t, err, store.ErrInvalid)
	})

	t.Run("order, fail, revive, ack", func(t *testing.T) {
		db := newStore(t)
		ctx := t.Context()
		require.NoError(t, db.AppendTracking(ctx,
			store.TrackingEntry{Subject: "j1", Kind: "epoch", Payload: json.RawMessage(`{"step":1}`)},
			store.TrackingEntry{Subject: "j2", Kind: "epoch", Payload: json.RawMessage(`{"step":1}`)},
			store.TrackingEntry{Subject: "j1", Kind: "end", Payload: json.RawMessage(`{}`)}))
		all, err := db.PendingTracking(ctx, "", 0)
		require.NoError(t, err)
		require.Len(t, all, 3)
		assert.Less(t, all[0].Seq, all[1].Seq)
		assert.Less(t, all[1].Seq, all[2].Seq)
		assert.JSONEq(t, `{"step":1}`, string(all[0].Payload))
		assert.False(t, all[0].CreatedAt.IsZero(), "a zero CreatedAt is filled in")
		j1, err := db.PendingTracking(ctx, "j1", 0)
		require.NoError(t, err)
		require.Len(t, j1, 2)
		assert.Equal(t, []string{"epoch", "end"}, []string{j1[0].Kind, j1[1].Kind})

		// A later append gets greater numbers than every earlier one.
		require.NoError(t, db.AppendTracking(ctx, store.TrackingEntry{Subject: "j3", Kind: "end", Payload: json.RawMessage(`{}`)}))
		all, err = db.PendingTracking(ctx, "", 0)
		require.NoError(t, err)
		require.Len(t, all, 4)
		assert.Equal(t, "j3", all[3].Subject)
		assert.Less(t, all[2].Seq, all[3].Seq)
		first2, err := db.PendingTracking(ctx, "", 2)
		require.NoError(t, err)
		require.Len(t, first2, 2, "limit")
		assert.Equal(t, all[:2], first2)

		due := time.Now().Add(time.Minute)
		require.NoError(t, db.FailTracking(ctx, j1[0].Seq, "connection refused", due, false))
		require.NoError(t, db.FailTracking(ctx, j1[1].Seq, "HTTP 400", time.Time{}, true))
		require.True(t, errors.Is(db.FailTracking(ctx, 99999, "x", due, false), store.ErrNotFound))
		sum, err := db.SummarizeTracking(ctx, "j1")
		require.NoError(t, err)
		assert.Equal(t, store.TrackingSummary{Pending: 1, Dead: 1, LastError: "HTTP 400"}, sum)
		sum, err = db.SummarizeTracking(ctx, "")
		require.NoError(t, err)
		assert.Equal(t, store.TrackingSummary{Pending: 3, Dead: 1, LastError: "HTTP 400"}, sum)
		j1, err = db.PendingTracking(ctx, "j1", 0)
		require.NoError(t, err)
		require.Len(t, j1, 1, "a dead entry is no longer pending")
		assert.Equal(t, 1, j1[0].Attempts)
		assert.Equal(t, "connection refused", j1[0].LastError)
		assert.WithinDuration(t, due, j1[0].NotBefore, time.Millisecond)
		require.NoError(t, db.FailTracking(ctx, j1[0].Seq, "timeout", due, false))
		j1, err = db.PendingTracking(ctx, "j1", 0)
		require.NoError(t, err)
		assert.Equal(t, 2, j1[0].Attempts, "attempts count up")

		n, err := db.ReviveTracking(ctx, "j1")
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		j1, err = db.PendingTracking(ctx, "j1", 1)
		require.NoError(t, err)
		require.Len(t, j1, 1, "limit")
		assert.True(t, j1[0].NotBefore.IsZero(), "revived entries are due now")
		require.NoError(t, db.AckTracking(ctx, j1[0].Seq))
		require.NoError(t, db.AckTracking(ctx, j1[0].Seq), "acking twice is not an error")
		sum, err = db.SummarizeTracking(ctx, "j1")
		require.NoError(t, err)
		assert.Equal(t, 1, sum.Pending)
		assert.Zero(t, sum.Dead)
		sum, err = db.SummarizeTracking(ctx, "nobody")
		require.NoError(t, err)
		assert.Equal(t, store.TrackingSummary{}, sum)
	})

	t.Run("refs", func(t *testing.T) {
		db := newStore(t)
		ctx := t.Context()
		_, err := db.TrackingRef(ctx, "run:training/j1")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.NoError(t, db.PutTrackingRef(ctx, "run:training/j1", "abc"))
		require.NoError(t, db.PutTrackingRef(ctx, "run:training/j1", "def"))
		v, err := db.TrackingRef(ctx, "run:training/j1")
		require.NoError(t, err)
		assert.Equal(t, "def", v)
		require.ErrorIs(t, db.PutTrackingRef(ctx, "", "x"), store.ErrInvalid)
	})
}
