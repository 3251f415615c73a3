package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/orrery-ml/orrery/shared/store"
)

const modelColumns = `id, name, job_id, model_type, artifact_key, artifact_uri, metrics, data_hash, manifest_sha256, created_at`

// scanModel reads one row selected with modelColumns.
func scanModel(r rowScanner) (store.Model, error) {
	var (
		m       store.Model
		metrics sql.NullString
		created string
	)
	if err := r.Scan(&m.ID, &m.Name, &m.JobID, &m.ModelType, &m.ArtifactKey, &m.ArtifactURI,
		&metrics, &m.DataHash, &m.ManifestSHA256, &created); err != nil {
		return store.Model{}, err
	}
	m.Metrics = rawOrNil(metrics)
	var err error
	if m.CreatedAt, err = parseTime(created); err != nil {
		return store.Model{}, fmt.Errorf("model %s created_at: %w", m.ID, err)
	}
	return m, nil
}

// RegisterModel stores m; a zero CreatedAt is set to now. Returns
// store.ErrInvalid if the id is empty or Metrics is not JSON,
// store.ErrConflict if a model with that id exists.
func (s *DB) RegisterModel(ctx context.Context, m store.Model) error {
	if m.ID == "" {
		return fmt.Errorf("register model: empty id: %w", store.ErrInvalid)
	}
	metrics, err := nullJSON("metrics", m.Metrics)
	if err != nil {
		return fmt.Errorf("register model %s: %w", m.ID, err)
	}
	created := m.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO models (id, name, job_id, model_type, artifact_key,
		artifact_uri, metrics, data_hash, manifest_sha256, created_at, created_ns)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		m.ID, m.Name, m.JobID, m.ModelType, m.ArtifactKey, m.ArtifactURI, metrics, m.DataHash, m.ManifestSHA256,
		formatTime(created), created.UnixNano())
	if err != nil {
		return fmt.Errorf("register model %s: %w", m.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("register model %s: %w", m.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("register model %s: id exists: %w", m.ID, store.ErrConflict)
	}
	return nil
}

// GetModel returns the model. Returns store.ErrNotFound if it does not exist.
func (s *DB) GetModel(ctx context.Context, id string) (store.Model, error) {
	m, err := scanModel(s.db.QueryRowContext(ctx, `SELECT `+modelColumns+` FROM models WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Model{}, fmt.Errorf("get model %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Model{}, fmt.Errorf("get model %s: %w", id, err)
	}
	return m, nil
}

// ListModels returns every model, newest first (by CreatedAt, then by
// insertion).
func (s *DB) ListModels(ctx context.Context) ([]store.Model, error) {
	return queryAll(ctx, s.db, "list models", scanModel, `SELECT `+modelColumns+` FROM models ORDER BY created_ns DESC, rowid DESC`)
}
