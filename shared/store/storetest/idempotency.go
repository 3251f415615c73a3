package storetest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
)

// leaseFor is the in-flight lease of fixture reservations.
const leaseFor = time.Minute

// reservation is an in-flight record created at at.
func reservation(key, hash string, at time.Time) store.IdempotencyRecord {
	return store.IdempotencyRecord{Key: key, RequestHash: hash, CreatedAt: at, ExpiresAt: at.Add(leaseFor)}
}

// accepted is the answer fixture: a 202 with a JSON body and two headers.
var accepted = store.IdempotentResponse{
	StatusCode: 202,
	Header:     map[string]string{"Content-Type": "application/json", "Location": "/ml/training/trn-1/status"},
	Body:       []byte(`{"job_id":"trn-1","status":"QUEUED"}`),
}

// TestIdempotencyStore runs the store.IdempotencyStore contract against
// stores made by newStore. Each subtest calls newStore once and expects it
// empty.
func TestIdempotencyStore(t *testing.T, newStore func(t *testing.T) store.IdempotencyStore) {
	t.Run("reserve complete replay", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		key := "POST /ml/training/start 6f1c2a"
		got, ok, err := s.ReserveIdempotencyKey(ctx, reservation(key, "h1", baseTime))
		require.NoError(t, err)
		require.True(t, ok, "a free key is reserved")
		assert.Equal(t, key, got.Key)
		assert.Nil(t, got.Response)

		held, ok, err := s.ReserveIdempotencyKey(ctx, reservation(key, "h1", baseTime.Add(time.Second)))
		require.NoError(t, err)
		assert.False(t, ok, "an in-flight key is not reserved twice")
		assert.Nil(t, held.Response, "still in flight")
		assert.Equal(t, "h1", held.RequestHash)
		assert.Truef(t, held.CreatedAt.Equal(baseTime), "created_at kept: %s", held.CreatedAt)

		require.NoError(t, s.CompleteIdempotencyKey(ctx, key, "h1", accepted, baseTime.Add(24*time.Hour)))
		held, ok, err = s.ReserveIdempotencyKey(ctx, reservation(key, "h1", baseTime.Add(time.Hour)))
		require.NoError(t, err)
		assert.False(t, ok)
		require.NotNil(t, held.Response, "the stored answer is returned")
		assert.Equal(t, accepted.StatusCode, held.Response.StatusCode)
		assert.Equal(t, accepted.Header, held.Response.Header)
		assert.Equal(t, string(accepted.Body), string(held.Response.Body))
		assert.Truef(t, held.ExpiresAt.Equal(baseTime.Add(24*time.Hour)), "expires_at extended: %s", held.ExpiresAt)

		// A different request with the same key gets the record, whose hash
		// tells the caller it was another request.
		held, ok, err = s.ReserveIdempotencyKey(ctx, reservation(key, "h2", baseTime.Add(time.Hour)))
		require.NoError(t, err)
		assert.False(t, ok)
		assert.Equal(t, "h1", held.RequestHash)
	})

	t.Run("empty body and no headers", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		_, ok, err := s.ReserveIdempotencyKey(ctx, reservation("k", "h", baseTime))
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, s.CompleteIdempotencyKey(ctx, "k", "h", store.IdempotentResponse{StatusCode: 204}, baseTime.Add(time.Hour)))
		held, _, err := s.ReserveIdempotencyKey(ctx, reservation("k", "h", baseTime.Add(time.Second)))
		require.NoError(t, err)
		require.NotNil(t, held.Response)
		assert.Equal(t, 204, held.Response.StatusCode)
		assert.Empty(t, held.Response.Header)
		assert.Empty(t, held.Response.Body)
	})

	t.Run("expired records free the key", func(t *testing.T) {
		tests := []struct {
			name     string
			complete bool
		}{
			{"an abandoned in-flight lease", false},
			{"a complete record past retention", true},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				s := newStore(t)
				ctx := t.Context()
				_, ok, err := s.ReserveIdempotencyKey(ctx, reservation("k", "h1", baseTime))
				require.NoError(t, err)
				require.True(t, ok)
				expiry := baseTime.Add(leaseFor)
				if tc.complete {
					expiry = baseTime.Add(2 * time.Hour)
					require.NoError(t, s.CompleteIdempotencyKey(ctx, "k", "h1", accepted, expiry))
				}
				_, ok, err = s.ReserveIdempotencyKey(ctx, reservation("k", "h2", expiry.Add(-time.Millisecond)))
				require.NoError(t, err)
				assert.False(t, ok, "not yet expired")
				got, ok, err := s.ReserveIdempotencyKey(ctx, reservation("k", "h2", expiry))
				require.NoError(t, err)
				require.True(t, ok, "expired at its ExpiresAt")
				assert.Equal(t, "h2", got.RequestHash)
				assert.Nil(t, got.Response)
				// The old owner can no longer complete it.
				require.ErrorIs(t, s.CompleteIdempotencyKey(ctx, "k", "h1", accepted, expiry.Add(time.Hour)), store.ErrConflict)
			})
		}
	})

	t.Run("complete refusals", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		require.ErrorIs(t, s.CompleteIdempotencyKey(ctx, "absent", "h", accepted, baseTime.Add(time.Hour)), store.ErrNotFound)
		_, ok, err := s.ReserveIdempotencyKey(ctx, reservation("k", "h", baseTime))
		require.NoError(t, err)
		require.True(t, ok)
		require.ErrorIs(t, s.CompleteIdempotencyKey(ctx, "k", "other", accepted, baseTime.Add(time.Hour)), store.ErrConflict,
			"another request's hash")
		require.NoError(t, s.CompleteIdempotencyKey(ctx, "k", "h", accepted, baseTime.Add(time.Hour)))
		second := accepted
		second.StatusCode = 500
		require.ErrorIs(t, s.CompleteIdempotencyKey(ctx, "k", "h", second, baseTime.Add(time.Hour)), store.ErrConflict,
			"completed twice")
		held, _, err := s.ReserveIdempotencyKey(ctx, reservation("k", "h", baseTime.Add(time.Second)))
		require.NoError(t, err)
		require.NotNil(t, held.Response)
		assert.Equal(t, 202, held.Response.StatusCode, "the first answer stays")
	})

	t.Run("release", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		require.NoError(t, s.ReleaseIdempotencyKey(ctx, "absent", "h"), "releasing nothing is fine")
		_, ok, err := s.ReserveIdempotencyKey(ctx, reservation("k", "h", baseTime))
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, s.ReleaseIdempotencyKey(ctx, "k", "other"))
		_, ok, err = s.ReserveIdempotencyKey(ctx, reservation("k", "h", baseTime.Add(time.Second)))
		require.NoError(t, err)
		assert.False(t, ok, "another request's release leaves the record")

		require.NoError(t, s.ReleaseIdempotencyKey(ctx, "k", "h"))
		_, ok, err = s.ReserveIdempotencyKey(ctx, reservation("k", "h", baseTime.Add(2*time.Second)))
		require.NoError(t, err)
		require.True(t, ok, "a released key is free")

		require.NoError(t, s.CompleteIdempotencyKey(ctx, "k", "h", accepted, baseTime.Add(time.Hour)))
		require.NoError(t, s.ReleaseIdempotencyKey(ctx, "k", "h"))
		held, ok, err := s.ReserveIdempotencyKey(ctx, reservation("k", "h", baseTime.Add(3*time.Second)))
		require.NoError(t, err)
		assert.False(t, ok, "a complete record is not released")
		require.NotNil(t, held.Response)
	})

	t.Run("zero created_at is now", func(t *testing.T) {
		s := newStore(t)
		before := time.Now().Add(-time.Second)
		rec := store.IdempotencyRecord{Key: "k", RequestHash: "h", ExpiresAt: time.Now().Add(time.Hour)}
		got, ok, err := s.ReserveIdempotencyKey(t.Context(), rec)
		require.NoError(t, err)
		require.True(t, ok)
		assert.True(t, got.CreatedAt.After(before), "created_at %s", got.CreatedAt)
	})

	t.Run("invalid arguments", func(t *testing.T) {
		long := strings.Repeat("k", store.MaxIdempotencyKeyBytes+1)
		reserves := []struct {
			name string
			rec  store.IdempotencyRecord
		}{
			{"empty key", reservation("", "h", baseTime)},
			{"key too long", reservation(long, "h", baseTime)},
			{"empty hash", reservation("k", "", baseTime)},
			{"zero expiry", store.IdempotencyRecord{Key: "k", RequestHash: "h", CreatedAt: baseTime}},
			{"expiry before creation", store.IdempotencyRecord{Key: "k", RequestHash: "h", CreatedAt: baseTime, ExpiresAt: baseTime.Add(-time.Second)}},
		}
		for _, tc := range reserves {
			t.Run("reserve "+tc.name, func(t *testing.T) {
				_, _, err := newStore(t).ReserveIdempotencyKey(t.Context(), tc.rec)
				require.ErrorIs(t, err, store.ErrInvalid)
			})
		}
		bigBody := store.IdempotentResponse{StatusCode: 202, Body: make([]byte, store.MaxIdempotentBodyBytes+1)}
		completes := []struct {
			name      string
			key, hash string
			resp      store.IdempotentResponse
			expires   time.Time
		}{
			{"empty key", "", "h", accepted, baseTime.Add(time.Hour)},
			{"empty hash", "k", "", accepted, baseTime.Add(time.Hour)},
			{"status 0", "k", "h", store.IdempotentResponse{}, baseTime.Add(time.Hour)},
			{"status 600", "k", "h", store.IdempotentResponse{StatusCode: 600}, baseTime.Add(time.Hour)},
			{"body too large", "k", "h", bigBody, baseTime.Add(time.Hour)},
			{"zero expiry", "k", "h", accepted, time.Time{}},
		}
		for _, tc := range completes {
			t.Run("complete "+tc.name, func(t *testing.T) {
				s := newStore(t)
				_, ok, err := s.ReserveIdempotencyKey(t.Context(), reservation("k", "h", baseTime))
				require.NoError(t, err)
				require.True(t, ok)
				require.ErrorIs(t, s.CompleteIdempotencyKey(t.Context(), tc.key, tc.hash, tc.resp, tc.expires), store.ErrInvalid)
			})
		}
		t.Run("release empty key", func(t *testing.T) {
			require.ErrorIs(t, newStore(t).ReleaseIdempotencyKey(t.Context(), "", "h"), store.ErrInvalid)
		})
	})

	t.Run("concurrent reservations: exactly one wins", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		// Half of the keys start expired, so the race covers both the insert
		// and the take-over of an expired record.
		_, ok, err := s.ReserveIdempotencyKey(ctx, reservation("expired", "old", baseTime.Add(-2*leaseFor)))
		require.NoError(t, err)
		require.True(t, ok)
		for _, key := range []string{"fresh", "expired"} {
			var (
				wg   sync.WaitGroup
				mu   sync.Mutex
				wins []string
			)
			for i := range concurrentWriters {
				wg.Add(1)
				go func() {
					defer wg.Done()
					hash := string(rune('a' + i))
					_, ok, err := s.ReserveIdempotencyKey(ctx, reservation(key, hash, baseTime))
					assert.NoError(t, err)
					if ok {
						mu.Lock()
						wins = append(wins, hash)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			require.Len(t, wins, 1, "key %s", key)
			held, ok, err := s.ReserveIdempotencyKey(ctx, reservation(key, "late", baseTime.Add(time.Second)))
			require.NoError(t, err)
			assert.False(t, ok)
			assert.Equal(t, wins[0], held.RequestHash, "the winner holds key %s", key)
		}
	})
}
