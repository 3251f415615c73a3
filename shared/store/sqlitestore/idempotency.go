package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/orrery-ml/orrery/shared/store"
)

var _ store.IdempotencyStore = (*DB)(nil)

// idempotencyMigration creates the idempotency records of the HTTP API.
// status_code 0 marks a request still in flight; expires_ns (Unix
// nanoseconds) is what the conditional writes compare.
const idempotencyMigration = `CREATE TABLE idempotency_keys (
		key          TEXT PRIMARY KEY,
		request_hash TEXT NOT NULL,
		status_code  INTEGER NOT NULL DEFAULT 0,
		header       TEXT,
		body         BLOB,
		created_at   TEXT NOT NULL,
		expires_at   TEXT NOT NULL,
		expires_ns   INTEGER NOT NULL
	);
	CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_ns);`

// reserveAttempts bounds the insert-or-read loop of ReserveIdempotencyKey: a
// record can vanish between the refused insert and the read (released by
// its owner), and the insert is then tried again.
const reserveAttempts = 4

// ReserveIdempotencyKey stores rec as in flight unless a live record holds
// its key; see store.IdempotencyStore. The insert and the expiry check are
// one UPSERT statement, so concurrent reservations of a free or expired key
// let exactly one through.
func (s *DB) ReserveIdempotencyKey(ctx context.Context, rec store.IdempotencyRecord) (store.IdempotencyRecord, bool, error) {
	if err := store.CheckIdempotencyKey(rec.Key, rec.RequestHash); err != nil {
		return store.IdempotencyRecord{}, false, fmt.Errorf("reserve idempotency key: %w", err)
	}
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = time.Now()
	}
	if !rec.ExpiresAt.After(rec.CreatedAt) {
		return store.IdempotencyRecord{}, false, fmt.Errorf("reserve idempotency key %q: expires_at %s is not after created_at %s: %w",
			rec.Key, formatTime(rec.ExpiresAt), formatTime(rec.CreatedAt), store.ErrInvalid)
	}
	rec.Response = nil
	for range reserveAttempts {
		res, err := s.db.ExecContext(ctx, `INSERT INTO idempotency_keys
			(key, request_hash, status_code, header, body, created_at, expires_at, expires_ns)
			VALUES (?, ?, 0, NULL, NULL, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET request_hash = excluded.request_hash, status_code = 0,
				header = NULL, body = NULL, created_at = excluded.created_at,
				expires_at = excluded.expires_at, expires_ns = excluded.expires_ns
			WHERE idempotency_keys.expires_ns <= ?`,
			rec.Key, rec.RequestHash, formatTime(rec.CreatedAt), formatTime(rec.ExpiresAt), rec.ExpiresAt.UnixNano(),
			rec.CreatedAt.UnixNano())
		if err != nil {
			return store.IdempotencyRecord{}, false, fmt.Errorf("reserve idempotency key %q: %w", rec.Key, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return store.IdempotencyRecord{}, false, fmt.Errorf("reserve idempotency key %q: %w", rec.Key, err)
		}
		if n == 1 {
			return rec, true, nil
		}
		held, err := s.getIdempotencyRecord(ctx, rec.Key)
		if errors.Is(err, store.ErrNotFound) {
			continue // released between the two statements: try again
		}
		if err != nil {
			return store.IdempotencyRecord{}, false, fmt.Errorf("reserve idempotency key %q: %w", rec.Key, err)
		}
		return held, false, nil
	}
	return store.IdempotencyRecord{}, false, fmt.Errorf("reserve idempotency key %q: record keeps changing: %w", rec.Key, store.ErrConflict)
}

// getIdempotencyRecord reads one record; store.ErrNotFound if it is absent.
func (s *DB) getIdempotencyRecord(ctx context.Context, key string) (store.IdempotencyRecord, error) {
	var (
		rec              store.IdempotencyRecord
		status           int
		header           sql.NullString
		body             []byte
		created, expires string
	)
	err := s.db.QueryRowContext(ctx, `SELECT key, request_hash, status_code, header, body, created_at, expires_at
		FROM idempotency_keys WHERE key = ?`, key).Scan(&rec.Key, &rec.RequestHash, &status, &header, &body, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return store.IdempotencyRecord{}, fmt.Errorf("idempotency key %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return store.IdempotencyRecord{}, fmt.Errorf("idempotency key %q: %w", key, err)
	}
	if rec.CreatedAt, err = parseTime(created); err != nil {
		return store.IdempotencyRecord{}, fmt.Errorf("idempotency key %q created_at: %w", key, err)
	}
	if rec.ExpiresAt, err = parseTime(expires); err != nil {
		return store.IdempotencyRecord{}, fmt.Errorf("idempotency key %q expires_at: %w", key, err)
	}
	if status != 0 {
		resp := &store.IdempotentResponse{StatusCode: status, Body: body}
		if header.Valid {
			if err := json.Unmarshal([]byte(header.String), &resp.Header); err != nil {
				return store.IdempotencyRecord{}, fmt.Errorf("idempotency key %q header: %w", key, err)
			}
		}
		rec.Response = resp
	}
	return rec, nil
}

// CompleteIdempotencyKey stores the answer of an in-flight record; see
// store.IdempotencyStore.
func (s *DB) CompleteIdempotencyKey(ctx context.Context, key, requestHash string, resp store.IdempotentResponse, expiresAt time.Time) error {
	if err := store.CheckIdempotencyKey(key, requestHash); err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	if resp.StatusCode < 100 || resp.StatusCode > 599 {
		return fmt.Errorf("complete idempotency key %q: status code %d: %w", key, resp.StatusCode, store.ErrInvalid)
	}
	if len(resp.Body) > store.MaxIdempotentBodyBytes {
		return fmt.Errorf("complete idempotency key %q: body of %d bytes is larger than %d: %w",
			key, len(resp.Body), store.MaxIdempotentBodyBytes, store.ErrInvalid)
	}
	if expiresAt.IsZero() {
		return fmt.Errorf("complete idempotency key %q: zero expires_at: %w", key, store.ErrInvalid)
	}
	var header sql.NullString
	if len(resp.Header) > 0 {
		b, err := json.Marshal(resp.Header)
		if err != nil {
			return fmt.Errorf("complete idempotency key %q: encode header: %w", key, err)
		}
		header = sql.NullString{String: string(b), Valid: true}
	}
	body := resp.Body
	if body == nil {
		body = []byte{}
	}
	res, err := s.db.ExecContext(ctx, `UPDATE idempotency_keys
		SET status_code = ?, header = ?, body = ?, expires_at = ?, expires_ns = ?
		WHERE key = ? AND request_hash = ? AND status_code = 0`,
		resp.StatusCode, header, body, formatTime(expiresAt), expiresAt.UnixNano(), key, requestHash)
	if err != nil {
		return fmt.Errorf("complete idempotency key %q: %w", key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("complete idempotency key %q: %w", key, err)
	}
	if n == 1 {
		return nil
	}
	held, err := s.getIdempotencyRecord(ctx, key)
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	if held.RequestHash != requestHash {
		return fmt.Errorf("complete idempotency key %q: held by another request: %w", key, store.ErrConflict)
	}
	return fmt.Errorf("complete idempotency key %q: already complete: %w", key, store.ErrConflict)
}

// ReleaseIdempotencyKey deletes an in-flight record; see
// store.IdempotencyStore.
func (s *DB) ReleaseIdempotencyKey(ctx context.Context, key, requestHash string) error {
	if err := store.CheckIdempotencyKey(key, requestHash); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM idempotency_keys
		WHERE key = ? AND request_hash = ? AND status_code = 0`, key, requestHash); err != nil {
		return fmt.Errorf("release idempotency key %q: %w", key, err)
	}
	return nil
}
