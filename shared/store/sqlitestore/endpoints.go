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

var _ store.EndpointStore = (*DB)(nil)

// endpointsMigration holds the embedded runtime's endpoints: routes as a
// JSON object of model id to weight.
const endpointsMigration = `CREATE TABLE endpoints (
		environment  TEXT NOT NULL,
		name         TEXT NOT NULL,
		routes       TEXT NOT NULL DEFAULT '{}',
		live_model   TEXT NOT NULL DEFAULT '',
		locked_by    TEXT NOT NULL DEFAULT '',
		locked_until TEXT NOT NULL DEFAULT '',
		revision     INTEGER NOT NULL,
		updated_at   TEXT NOT NULL,
		PRIMARY KEY (environment, name)
	);`

const endpointColumns = `environment, name, routes, live_model, locked_by, locked_until, revision, updated_at`

func scanEndpoint(r rowScanner) (store.Endpoint, error) {
	var (
		e                     store.Endpoint
		routes, until, update string
	)
	if err := r.Scan(&e.Environment, &e.Name, &routes, &e.LiveModelID, &e.LockedBy, &until, &e.Revision, &update); err != nil {
		return store.Endpoint{}, err
	}
	if err := json.Unmarshal([]byte(routes), &e.Routes); err != nil {
		return store.Endpoint{}, fmt.Errorf("endpoint %s/%s routes: %w", e.Environment, e.Name, err)
	}
	var err error
	if until != "" {
		if e.LockedUntil, err = parseTime(until); err != nil {
			return store.Endpoint{}, fmt.Errorf("endpoint %s/%s locked_until: %w", e.Environment, e.Name, err)
		}
	}
	if e.UpdatedAt, err = parseTime(update); err != nil {
		return store.Endpoint{}, fmt.Errorf("endpoint %s/%s updated_at: %w", e.Environment, e.Name, err)
	}
	return e, nil
}

// GetEndpoint returns store.ErrNotFound if there is no such endpoint.
func (s *DB) GetEndpoint(ctx context.Context, environment, name string) (store.Endpoint, error) {
	e, err := scanEndpoint(s.db.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM endpoints
		WHERE environment = ? AND name = ?`, environment, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Endpoint{}, fmt.Errorf("get endpoint %s in %s: %w", name, environment, store.ErrNotFound)
	}
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("get endpoint %s in %s: %w", name, environment, err)
	}
	return e, nil
}

// ListEndpoints returns the environment's endpoints ("" for all), by
// environment and name.
func (s *DB) ListEndpoints(ctx context.Context, environment string) ([]store.Endpoint, error) {
	q, args := `SELECT `+endpointColumns+` FROM endpoints`, []any{}
	if environment != "" {
		q += ` WHERE environment = ?`
		args = append(args, environment)
	}
	return queryAll(ctx, s.db, "list endpoints", scanEndpoint, q+` ORDER BY environment, name`, args...)
}

// PutEndpoint writes e conditionally on its revision (0: create).
func (s *DB) PutEndpoint(ctx context.Context, e store.Endpoint) (store.Endpoint, error) {
	if err := e.Check(); err != nil {
		return store.Endpoint{}, fmt.Errorf("put endpoint %s: %w", e.Name, err)
	}
	routes := e.Routes
	if routes == nil {
		routes = map[string]int{}
	}
	b, err := json.Marshal(routes)
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("put endpoint %s: %w", e.Name, err)
	}
	until := ""
	if !e.LockedUntil.IsZero() {
		until = formatTime(e.LockedUntil)
	}
	now := formatTime(time.Now())
	var res sql.Result
	if e.Revision == 0 {
		res, err = s.db.ExecContext(ctx, `INSERT INTO endpoints (`+endpointColumns+`) VALUES (?, ?, ?, ?, ?, ?, 1, ?)
			ON CONFLICT (environment, name) DO NOTHING`, e.Environment, e.Name, string(b), e.LiveModelID, e.LockedBy, until, now)
	} else {
		res, err = s.db.ExecContext(ctx, `UPDATE endpoints SET routes = ?, live_model = ?, locked_by = ?, locked_until = ?,
			revision = revision + 1, updated_at = ? WHERE environment = ? AND name = ? AND revision = ?`,
			string(b), e.LiveModelID, e.LockedBy, until, now, e.Environment, e.Name, e.Revision)
	}
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("put endpoint %s in %s: %w", e.Name, e.Environment, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return store.Endpoint{}, fmt.Errorf("put endpoint %s in %s: %w", e.Name, e.Environment, err)
	} else if n == 0 {
		return store.Endpoint{}, fmt.Errorf("put endpoint %s in %s: revision %d is not the stored one: %w", e.Name, e.Environment,
			e.Revision, store.ErrConflict)
	}
	return s.GetEndpoint(ctx, e.Environment, e.Name)
}
