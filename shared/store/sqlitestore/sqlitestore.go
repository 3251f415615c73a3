package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	// The pure-Go SQLite driver registers itself as "sqlite".
	_ "modernc.org/sqlite"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/store"
)

// ErrSchemaTooNew is returned by Open when the file was written by a newer
// Orrery whose schema this build does not know.
var ErrSchemaTooNew = fault.New(fault.Internal, "sqlitestore: schema version newer than supported")

// busyTimeoutMillis is how long a connection waits for another writer (a
// goroutine or another process on the same file) before giving up.
const busyTimeoutMillis = 5000

// maxIdleConns is how many connections the pool keeps open between uses.
const maxIdleConns = 16

// DB is a SQLite-backed job store and model registry. It is safe for
// concurrent use.
type DB struct {
	db   *sql.DB
	path string
	// getJob is GetJob's statement, prepared once: job status is the API's
	// hottest read, and re-preparing it was about half of its cost.
	getJob *sql.Stmt
}

var (
	_ store.JobStore      = (*DB)(nil)
	_ store.ModelRegistry = (*DB)(nil)
)

// Open opens (creating it and its parent directories when missing) the SQLite
// database at path, switches it to WAL with a busy timeout and foreign keys,
// and brings its schema up to date. Reopening an up-to-date file changes
// nothing. path is a file path: an empty one, ":memory:" (every pooled
// connection would get its own database) and one containing '?' (the driver
// reads what follows as connection parameters) are refused with
// store.ErrInvalid.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || path == ":memory:" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open sqlite store %q: %w", path, store.ErrInvalid)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open sqlite store %s: create directory: %w", path, err)
	}
	// modernc.org/sqlite DSN parameters (see the driver's Open documentation):
	// each _pragma runs on every new connection, busy_timeout first; _txlock
	// makes BeginTx issue BEGIN IMMEDIATE so a migration takes the write lock
	// up front instead of failing on a read-to-write upgrade.
	dsn := path + fmt.Sprintf("?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)"+
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate", busyTimeoutMillis)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	// database/sql keeps two idle connections by default: with more
	// concurrent readers (the API's status polls) every extra one is
	// opened, its pragmas run and its statement prepared, and closed again
	// per request. Keep as many idle as are likely in use at once.
	db.SetMaxIdleConns(maxIdleConns)
	s := &DB{db: db, path: path}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	if s.getJob, err = db.PrepareContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ?`); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite store %s: prepare: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *DB) Close() error {
	_ = s.getJob.Close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close sqlite store %s: %w", s.path, err)
	}
	return nil
}

// migrations are the schema steps in order; migrations[i] brings the schema
// to version i+1. Append only: a released step is never edited.
var migrations = []string{
	// 1: jobs and models. created_ns (Unix nanoseconds) orders listings, since
	// RFC 3339 text with trimmed fractional seconds does not sort as time.
	`CREATE TABLE jobs (
		id         TEXT PRIMARY KEY,
		kind       TEXT NOT NULL DEFAULT '',
		status     TEXT NOT NULL,
		stage      TEXT NOT NULL DEFAULT '',
		config     TEXT,
		progress   TEXT,
		result     TEXT,
		error      TEXT NOT NULL DEFAULT '',
		model_id   TEXT NOT NULL DEFAULT '',
		attempts   INTEGER NOT NULL DEFAULT 0,
		created_at TEXT NOT NULL,
		created_ns INTEGER NOT NULL,
		updated_at TEXT NOT NULL
	);
	CREATE INDEX jobs_by_created ON jobs (created_ns DESC);
	CREATE TABLE models (
		id           TEXT PRIMARY KEY,
		name         TEXT NOT NULL DEFAULT '',
		job_id       TEXT NOT NULL DEFAULT '',
		model_type   TEXT NOT NULL DEFAULT '',
		artifact_key TEXT NOT NULL DEFAULT '',
		artifact_uri TEXT NOT NULL DEFAULT '',
		metrics      TEXT,
		data_hash    TEXT NOT NULL DEFAULT '',
		created_at   TEXT NOT NULL,
		created_ns   INTEGER NOT NULL
	);
	CREATE INDEX models_by_created ON models (created_ns DESC);`,
	// 2: studies and their trials (studies.go).
	studiesSchema,
	// 3: idempotency records of the HTTP API (idempotency.go).
	idempotencyMigration,
	// 4: deployment records (deployments.go).
	deploymentsMigration,
	// 5: the local executor's execution journal (executions.go).
	executionsMigration,
	// 6: where a job's last attempt resumed from.
	`ALTER TABLE jobs ADD COLUMN resumed_from TEXT NOT NULL DEFAULT ''`,
	// 7: the embedded runtime's endpoints (endpoints.go).
	endpointsMigration,
	// 8: a deployment's environment, endpoint, alarm reading and timeline
	// (deployments.go), and registry aliases (aliases.go).
	deploymentEndpointsMigration + aliasesMigration,
	// 9: the registry's own digest of each model's manifest.
	`ALTER TABLE models ADD COLUMN manifest_sha256 TEXT NOT NULL DEFAULT ''`,
	// 10: retraining policies (retraining.go).
	retrainingMigration,
	// 11: the tracking mirror's outbox and server ids (tracking.go).
	trackingMigration,
}

// migrate applies the steps the file lacks, in one immediate transaction so
// two processes opening a new file at once cannot both apply them.
func (s *DB) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version    INTEGER PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrate: create schema_version: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: read schema version: %w", err)
	}
	if current > len(migrations) {
		return fmt.Errorf("migrate: file at version %d, this build knows %d: %w", current, len(migrations), ErrSchemaTooNew)
	}
	for v := current + 1; v <= len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`,
			v, formatTime(time.Now())); err != nil {
			return fmt.Errorf("migrate to version %d: record version: %w", v, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

// SchemaVersion returns the schema version of the open file.
func (s *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version of %s: %w", s.path, err)
	}
	return v, nil
}

// formatTime renders t as RFC 3339 with nanoseconds, in UTC.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// parseTime reads a time written by formatTime.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// nullJSON maps an empty raw message to NULL and refuses text that is not
// JSON, since the API embeds these fields verbatim in its responses.
func nullJSON(field string, raw []byte) (sql.NullString, error) {
	if len(raw) == 0 {
		return sql.NullString{}, nil
	}
	if !json.Valid(raw) {
		return sql.NullString{}, fmt.Errorf("%s is not valid JSON: %w", field, store.ErrInvalid)
	}
	return sql.NullString{String: string(raw), Valid: true}, nil
}
