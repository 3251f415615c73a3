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

var _ store.TrackingOutbox = (*DB)(nil)

// trackingMigration holds the tracking mirror's outbox (one row per call
// still to send, by seq) and the ids the tracking server gave what was
// sent. not_before_ns is Unix nanoseconds (0: due now).
const trackingMigration = `
	CREATE TABLE tracking_outbox (
		seq           INTEGER PRIMARY KEY AUTOINCREMENT,
		subject       TEXT NOT NULL,
		kind          TEXT NOT NULL,
		payload       TEXT NOT NULL,
		attempts      INTEGER NOT NULL DEFAULT 0,
		last_error    TEXT NOT NULL DEFAULT '',
		not_before_ns INTEGER NOT NULL DEFAULT 0,
		dead          INTEGER NOT NULL DEFAULT 0,
		created_at    TEXT NOT NULL
	);
	CREATE INDEX tracking_outbox_by_subject ON tracking_outbox (subject, seq);
	CREATE TABLE tracking_refs (
		key   TEXT PRIMARY KEY,
		value TEXT NOT NULL
	);`

// AppendTracking stores the entries in one transaction; see
// store.TrackingOutbox.
func (s *DB) AppendTracking(ctx context.Context, entries ...store.TrackingEntry) error {
	for i, e := range entries {
		if e.Subject == "" || e.Kind == "" || !json.Valid(e.Payload) {
			return fmt.Errorf("append tracking entry %d (subject %q, kind %q): subject, kind and a JSON payload are required: %w",
				i, e.Subject, e.Kind, store.ErrInvalid)
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("append tracking entries: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, e := range entries {
		created := e.CreatedAt
		if created.IsZero() {
			created = time.Now()
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tracking_outbox (subject, kind, payload, created_at) VALUES (?, ?, ?, ?)`,
			e.Subject, e.Kind, string(e.Payload), formatTime(created)); err != nil {
			return fmt.Errorf("append tracking entry %s of %s: %w", e.Kind, e.Subject, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("append tracking entries: %w", err)
	}
	return nil
}

// PendingTracking returns the live entries by seq; see store.TrackingOutbox.
func (s *DB) PendingTracking(ctx context.Context, subject string, limit int) ([]store.TrackingEntry, error) {
	if limit < 0 {
		return nil, fmt.Errorf("pending tracking entries: limit %d: %w", limit, store.ErrInvalid)
	}
	q := `SELECT seq, subject, kind, payload, attempts, last_error, not_before_ns, dead, created_at FROM tracking_outbox WHERE dead = 0`
	var args []any
	if subject != "" {
		q += ` AND subject = ?`
		args = append(args, subject)
	}
	q += ` ORDER BY seq`
	if limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("pending tracking entries: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []store.TrackingEntry
	for rows.Next() {
		var e store.TrackingEntry
		var payload, created string
		var notBefore int64
		var dead int
		if err := rows.Scan(&e.Seq, &e.Subject, &e.Kind, &payload, &e.Attempts, &e.LastError, &notBefore, &dead, &created); err != nil {
			return nil, fmt.Errorf("pending tracking entries: %w", err)
		}
		e.Payload, e.Dead = json.RawMessage(payload), dead != 0
		if notBefore != 0 {
			e.NotBefore = time.Unix(0, notBefore)
		}
		if e.CreatedAt, err = parseTime(created); err != nil {
			return nil, fmt.Errorf("pending tracking entries: entry %d: %w", e.Seq, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending tracking entries: %w", err)
	}
	return out, nil
}

// AckTracking removes the entry.
func (s *DB) AckTracking(ctx context.Context, seq int64) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM tracking_outbox WHERE seq = ?`, seq); err != nil {
		return fmt.Errorf("ack tracking entry %d: %w", seq, err)
	}
	return nil
}

// FailTracking counts a failed attempt; see store.TrackingOutbox.
func (s *DB) FailTracking(ctx context.Context, seq int64, lastError string, notBefore time.Time, dead bool) error {
	var nb int64
	if !notBefore.IsZero() {
		nb = notBefore.UnixNano()
	}
	d := 0
	if dead {
		d = 1
	}
	res, err := s.db.ExecContext(ctx, `UPDATE tracking_outbox SET attempts = attempts + 1, last_error = ?, not_before_ns = ?, dead = ? WHERE seq = ?`,
		lastError, nb, d, seq)
	if err != nil {
		return fmt.Errorf("fail tracking entry %d: %w", seq, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("fail tracking entry %d: %w", seq, store.ErrNotFound)
	}
	return nil
}

// ReviveTracking makes dead entries pending and every entry due now.
func (s *DB) ReviveTracking(ctx context.Context, subject string) (int, error) {
	q, args := `UPDATE tracking_outbox SET dead = 0, not_before_ns = 0`, []any{}
	if subject != "" {
		q += ` WHERE subject = ?`
		args = append(args, subject)
	}
	if _, err := s.db.ExecContext(ctx, q, args...); err != nil {
		return 0, fmt.Errorf("revive tracking entries of %q: %w", subject, err)
	}
	sum, err := s.SummarizeTracking(ctx, subject)
	return sum.Pending, err
}

// SummarizeTracking counts the subject's entries ("" : all).
func (s *DB) SummarizeTracking(ctx context.Context, subject string) (store.TrackingSummary, error) {
	q, args := `SELECT dead, COUNT(*) FROM tracking_outbox`, []any{}
	if subject != "" {
		q += ` WHERE subject = ?`
		args = append(args, subject)
	}
	rows, err := s.db.QueryContext(ctx, q+` GROUP BY dead`, args...)
	if err != nil {
		return store.TrackingSummary{}, fmt.Errorf("summarize tracking entries of %q: %w", subject, err)
	}
	defer func() { _ = rows.Close() }()
	var sum store.TrackingSummary
	for rows.Next() {
		var dead, n int
		if err := rows.Scan(&dead, &n); err != nil {
			return sum, fmt.Errorf("summarize tracking entries of %q: %w", subject, err)
		}
		if dead != 0 {
			sum.Dead = n
		} else {
			sum.Pending = n
		}
	}
	if err := rows.Err(); err != nil {
		return sum, fmt.Errorf("summarize tracking entries of %q: %w", subject, err)
	}
	q = `SELECT last_error FROM tracking_outbox WHERE last_error != ''`
	if subject != "" {
		q += ` AND subject = ?`
	}
	err = s.db.QueryRowContext(ctx, q+` ORDER BY seq DESC LIMIT 1`, args...).Scan(&sum.LastError)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return sum, fmt.Errorf("summarize tracking entries of %q: %w", subject, err)
	}
	return sum, nil
}

// TrackingRef returns the value stored under key.
func (s *DB) TrackingRef(ctx context.Context, key string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM tracking_refs WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("tracking ref %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("tracking ref %q: %w", key, err)
	}
	return v, nil
}

// PutTrackingRef stores value under key.
func (s *DB) PutTrackingRef(ctx context.Context, key, value string) error {
	if key == "" {
		return fmt.Errorf("put tracking ref: empty key: %w", store.ErrInvalid)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO tracking_refs (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
		return fmt.Errorf("put tracking ref %q: %w", key, err)
	}
	return nil
}
