package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/orrery-ml/orrery/shared/store"
)

var _ store.RetrainingPolicyStore = (*DB)(nil)

// retrainingMigration creates the retraining policies, one row per prefix.
const retrainingMigration = `CREATE TABLE retraining_policies (
		prefix     TEXT PRIMARY KEY,
		model_name TEXT NOT NULL DEFAULT '',
		config     TEXT NOT NULL,
		paused     INTEGER NOT NULL DEFAULT 0,
		updated_at TEXT NOT NULL
	);`

// PutRetrainingPolicy creates the policy or replaces the one with its
// prefix; see store.RetrainingPolicyStore.
func (s *DB) PutRetrainingPolicy(ctx context.Context, p store.RetrainingPolicy) error {
	if err := store.CheckRetrainingPolicy(p); err != nil {
		return err
	}
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = time.Now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO retraining_policies (prefix, model_name, config, paused, updated_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (prefix) DO UPDATE SET model_name = excluded.model_name, config = excluded.config,
			paused = excluded.paused, updated_at = excluded.updated_at`,
		p.Prefix, p.ModelName, string(p.Config), p.Paused, formatTime(p.UpdatedAt))
	if err != nil {
		return fmt.Errorf("put retraining policy %s: %w", p.Prefix, err)
	}
	return nil
}

const policyColumns = `prefix, model_name, config, paused, updated_at`

func scanPolicy(row rowScanner) (store.RetrainingPolicy, error) {
	var p store.RetrainingPolicy
	var config, updated string
	if err := row.Scan(&p.Prefix, &p.ModelName, &config, &p.Paused, &updated); err != nil {
		return p, err
	}
	p.Config = []byte(config)
	t, err := parseTime(updated)
	if err != nil {
		return p, err
	}
	p.UpdatedAt = t
	return p, nil
}

// GetRetrainingPolicy returns the policy with exactly that prefix, or
// store.ErrNotFound.
func (s *DB) GetRetrainingPolicy(ctx context.Context, prefix string) (store.RetrainingPolicy, error) {
	p, err := scanPolicy(s.db.QueryRowContext(ctx, `SELECT `+policyColumns+` FROM retraining_policies WHERE prefix = ?`, prefix))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("get retraining policy %q: %w", prefix, store.ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("get retraining policy %q: %w", prefix, err)
	}
	return p, nil
}

// ListRetrainingPolicies returns every policy, by prefix.
func (s *DB) ListRetrainingPolicies(ctx context.Context) ([]store.RetrainingPolicy, error) {
	return queryAll(ctx, s.db, "list retraining policies", scanPolicy, `SELECT `+policyColumns+` FROM retraining_policies ORDER BY prefix`)
}

// DeleteRetrainingPolicy removes the policy with exactly that prefix, or
// returns store.ErrNotFound.
func (s *DB) DeleteRetrainingPolicy(ctx context.Context, prefix string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM retraining_policies WHERE prefix = ?`, prefix)
	if err != nil {
		return fmt.Errorf("delete retraining policy %q: %w", prefix, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("delete retraining policy %q: %w", prefix, store.ErrNotFound)
	}
	return nil
}
