package sqlitestore

import (
	"context"
	"fmt"
	"time"

	"github.com/orrery-ml/orrery/shared/store"
)

var _ store.ModelAliases = (*DB)(nil)

// aliasesMigration holds the registry aliases, one row per (environment,
// model name, alias).
const aliasesMigration = `
	CREATE TABLE model_aliases (
		environment TEXT NOT NULL,
		name        TEXT NOT NULL,
		alias       TEXT NOT NULL,
		model_id    TEXT NOT NULL,
		endpoint    TEXT NOT NULL DEFAULT '',
		updated_at  TEXT NOT NULL,
		PRIMARY KEY (environment, name, alias)
	);`

// SetModelAlias points the alias at a.ModelID; see store.ModelAliases.
func (s *DB) SetModelAlias(ctx context.Context, a store.ModelAlias) error {
	if err := a.Check(); err != nil {
		return fmt.Errorf("set alias %s of %s: %w", a.Alias, a.Name, err)
	}
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = time.Now()
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO model_aliases (environment, name, alias, model_id, endpoint, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (environment, name, alias) DO UPDATE SET
		model_id = excluded.model_id, endpoint = excluded.endpoint, updated_at = excluded.updated_at`,
		a.Environment, a.Name, a.Alias, a.ModelID, a.Endpoint, formatTime(a.UpdatedAt)); err != nil {
		return fmt.Errorf("set alias %s of %s in %s: %w", a.Alias, a.Name, a.Environment, err)
	}
	return nil
}

// RemoveModelAlias removes the alias if it names modelID ("" : whatever it
// names).
func (s *DB) RemoveModelAlias(ctx context.Context, environment, name, alias, modelID string) error {
	q := `DELETE FROM model_aliases WHERE environment = ? AND name = ? AND alias = ?`
	args := []any{environment, name, alias}
	if modelID != "" {
		q += ` AND model_id = ?`
		args = append(args, modelID)
	}
	if _, err := s.db.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("remove alias %s of %s in %s: %w", alias, name, environment, err)
	}
	return nil
}

// ListModelAliases returns the environment's aliases ("" for all).
func (s *DB) ListModelAliases(ctx context.Context, environment string) ([]store.ModelAlias, error) {
	q := `SELECT environment, name, alias, model_id, endpoint, updated_at FROM model_aliases`
	var args []any
	if environment != "" {
		q += ` WHERE environment = ?`
		args = append(args, environment)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY environment, name, alias`, args...)
	if err != nil {
		return nil, fmt.Errorf("list aliases: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := []store.ModelAlias{}
	for rows.Next() {
		var a store.ModelAlias
		var updated string
		if err := rows.Scan(&a.Environment, &a.Name, &a.Alias, &a.ModelID, &a.Endpoint, &updated); err != nil {
			return nil, fmt.Errorf("list aliases: %w", err)
		}
		if a.UpdatedAt, err = parseTime(updated); err != nil {
			return nil, fmt.Errorf("list aliases: alias %s of %s: %w", a.Alias, a.Name, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list aliases: %w", err)
	}
	return out, nil
}
