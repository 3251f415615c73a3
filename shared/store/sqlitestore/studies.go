package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/orrery-ml/orrery/shared/store"
)

var (
	_ store.StudyStore = (*DB)(nil)
	_ store.TrialStore = (*DB)(nil)
)

// studiesSchema is migration 2: studies, and trials keyed by (study, number)
// with a partial unique index on non-empty keys, so a grid point is never
// queued twice even by two processes at once.
const studiesSchema = `CREATE TABLE studies (
		id         TEXT PRIMARY KEY,
		name       TEXT NOT NULL DEFAULT '',
		status     TEXT NOT NULL,
		config     TEXT,
		state      TEXT,
		version    INTEGER NOT NULL,
		created_at TEXT NOT NULL,
		created_ns INTEGER NOT NULL,
		updated_at TEXT NOT NULL
	);
	CREATE INDEX studies_by_created ON studies (created_ns DESC);
	CREATE TABLE trials (
		study_id     TEXT NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
		number       INTEGER NOT NULL,
		key          TEXT NOT NULL DEFAULT '',
		state        TEXT NOT NULL,
		params       TEXT NOT NULL,
		trial_values TEXT,
		intermediate TEXT,
		worker       TEXT NOT NULL DEFAULT '',
		lease_ns     INTEGER NOT NULL DEFAULT 0,
		lease_until  TEXT NOT NULL DEFAULT '',
		attempts     INTEGER NOT NULL DEFAULT 0,
		error        TEXT NOT NULL DEFAULT '',
		created_at   TEXT NOT NULL,
		updated_at   TEXT NOT NULL,
		PRIMARY KEY (study_id, number)
	);
	CREATE UNIQUE INDEX trials_by_key ON trials (study_id, key) WHERE key <> '';
	CREATE INDEX trials_claimable ON trials (study_id, state, number);`

const studyColumns = `id, name, status, config, state, version, created_at, updated_at`

func scanStudy(r rowScanner) (store.Study, error) {
	var (
		s                store.Study
		status           string
		config, state    sql.NullString
		created, updated string
	)
	if err := r.Scan(&s.ID, &s.Name, &status, &config, &state, &s.Version, &created, &updated); err != nil {
		return store.Study{}, err
	}
	s.Status, s.Config, s.State = store.Status(status), rawOrNil(config), rawOrNil(state)
	var err error
	if s.CreatedAt, err = parseTime(created); err != nil {
		return store.Study{}, fmt.Errorf("study %s created_at: %w", s.ID, err)
	}
	if s.UpdatedAt, err = parseTime(updated); err != nil {
		return store.Study{}, fmt.Errorf("study %s updated_at: %w", s.ID, err)
	}
	return s, nil
}

// CreateStudy stores a new study with Version 1.
func (s *DB) CreateStudy(ctx context.Context, st store.Study) error {
	if st.ID == "" || st.Status == "" {
		return fmt.Errorf("create study %q: empty id or status: %w", st.ID, store.ErrInvalid)
	}
	if !knownStatus(st.Status) {
		return fmt.Errorf("create study %s: unknown status %q: %w", st.ID, st.Status, store.ErrInvalid)
	}
	config, err := nullJSON("config", st.Config)
	if err != nil {
		return fmt.Errorf("create study %s: %w", st.ID, err)
	}
	state, err := nullJSON("state", st.State)
	if err != nil {
		return fmt.Errorf("create study %s: %w", st.ID, err)
	}
	now := time.Now()
	if st.CreatedAt.IsZero() {
		st.CreatedAt = now
	}
	if st.UpdatedAt.IsZero() {
		st.UpdatedAt = st.CreatedAt
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO studies (`+studyColumns+`, created_ns)
		VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		st.ID, st.Name, string(st.Status), config, state, formatTime(st.CreatedAt), formatTime(st.UpdatedAt), st.CreatedAt.UnixNano())
	if err != nil {
		return fmt.Errorf("create study %s: %w", st.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("create study %s: %w", st.ID, err)
	} else if n == 0 {
		return fmt.Errorf("create study %s: id exists: %w", st.ID, store.ErrConflict)
	}
	return nil
}

// GetStudy returns the study.
func (s *DB) GetStudy(ctx context.Context, id string) (store.Study, error) {
	st, err := scanStudy(s.db.QueryRowContext(ctx, `SELECT `+studyColumns+` FROM studies WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Study{}, fmt.Errorf("get study %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Study{}, fmt.Errorf("get study %s: %w", id, err)
	}
	return st, nil
}

// UpdateStudy applies u when the stored version is version.
func (s *DB) UpdateStudy(ctx context.Context, id string, version int, u store.StudyUpdate) (store.Study, error) {
	if u.Status != "" && !knownStatus(u.Status) {
		return store.Study{}, fmt.Errorf("update study %s: unknown status %q: %w", id, u.Status, store.ErrInvalid)
	}
	config, err := nullJSON("config", u.Config)
	if err != nil {
		return store.Study{}, fmt.Errorf("update study %s: %w", id, err)
	}
	state, err := nullJSON("state", u.State)
	if err != nil {
		return store.Study{}, fmt.Errorf("update study %s: %w", id, err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE studies SET
			status = CASE WHEN ? <> '' THEN ? ELSE status END,
			config = COALESCE(?, config),
			state = COALESCE(?, state),
			version = version + 1,
			updated_at = ?
		WHERE id = ? AND version = ?`,
		string(u.Status), string(u.Status), config, state, formatTime(time.Now()), id, version)
	if err != nil {
		return store.Study{}, fmt.Errorf("update study %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return store.Study{}, fmt.Errorf("update study %s: %w", id, err)
	}
	if n == 0 {
		cur, err := s.GetStudy(ctx, id)
		if err != nil {
			return store.Study{}, fmt.Errorf("update study %s: %w", id, err)
		}
		return store.Study{}, fmt.Errorf("update study %s: version %d, stored %d: %w", id, version, cur.Version, store.ErrConflict)
	}
	return s.GetStudy(ctx, id)
}

// ListStudies returns studies, newest first.
func (s *DB) ListStudies(ctx context.Context, limit int) ([]store.Study, error) {
	if limit < 0 {
		return nil, fmt.Errorf("list studies: limit %d: %w", limit, store.ErrInvalid)
	}
	q := `SELECT ` + studyColumns + ` FROM studies ORDER BY created_ns DESC, id`
	args := []any{}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	return queryAll(ctx, s.db, "list studies", scanStudy, q, args...)
}

const trialColumns = `study_id, number, key, state, params, trial_values, intermediate, worker, lease_until, attempts, error, created_at, updated_at`

func scanTrial(r rowScanner) (store.Trial, error) {
	var (
		t                      store.Trial
		state, params          string
		values, inter          sql.NullString
		lease, created, update string
	)
	if err := r.Scan(&t.StudyID, &t.Number, &t.Key, &state, &params, &values, &inter, &t.Worker, &lease,
		&t.Attempts, &t.Error, &created, &update); err != nil {
		return store.Trial{}, err
	}
	t.State, t.Params = store.TrialState(state), []byte(params)
	t.Values, t.Intermediate = rawOrNil(values), rawOrNil(inter)
	var err error
	if lease != "" {
		if t.LeaseUntil, err = parseTime(lease); err != nil {
			return store.Trial{}, fmt.Errorf("trial %s/%d lease_until: %w", t.StudyID, t.Number, err)
		}
	}
	if t.CreatedAt, err = parseTime(created); err != nil {
		return store.Trial{}, fmt.Errorf("trial %s/%d created_at: %w", t.StudyID, t.Number, err)
	}
	if t.UpdatedAt, err = parseTime(update); err != nil {
		return store.Trial{}, fmt.Errorf("trial %s/%d updated_at: %w", t.StudyID, t.Number, err)
	}
	return t, nil
}

// AddTrials stores new WAITING trials in one transaction.
func (s *DB) AddTrials(ctx context.Context, studyID string, trials []store.Trial) error {
	for _, t := range trials {
		if t.Number < 0 || (t.State != "" && t.State != store.TrialWaiting) {
			return fmt.Errorf("add trial %s/%d: state %q: %w", studyID, t.Number, t.State, store.ErrInvalid)
		}
		if _, err := nullJSON("params", t.Params); err != nil || len(t.Params) == 0 {
			return fmt.Errorf("add trial %s/%d: params must be JSON: %w", studyID, t.Number, store.ErrInvalid)
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add trials to study %s: %w", studyID, err)
	}
	defer func() { _ = tx.Rollback() }()
	var one int
	if err := tx.QueryRowContext(ctx, `SELECT 1 FROM studies WHERE id = ?`, studyID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("add trials to study %s: %w", studyID, store.ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("add trials to study %s: %w", studyID, err)
	}
	now := formatTime(time.Now())
	for _, t := range trials {
		_, err := tx.ExecContext(ctx, `INSERT INTO trials (study_id, number, key, state, params, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, studyID, t.Number, t.Key, string(store.TrialWaiting), string(t.Params), now, now)
		if err != nil {
			if isConstraint(err) {
				return fmt.Errorf("add trial %s/%d (key %q): number or key exists: %w", studyID, t.Number, t.Key, store.ErrConflict)
			}
			return fmt.Errorf("add trial %s/%d: %w", studyID, t.Number, err)
		}
	}
	if err := tx.Commit(); err != nil {
		if isConstraint(err) {
			return fmt.Errorf("add trials to study %s: %w", studyID, store.ErrConflict)
		}
		return fmt.Errorf("add trials to study %s: %w", studyID, err)
	}
	return nil
}

// isConstraint reports a uniqueness or primary-key violation.
func isConstraint(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint") || strings.Contains(msg, "PRIMARY KEY") || strings.Contains(msg, "constraint failed")
}

// ClaimTrial marks the lowest claimable trial RUNNING for worker, in one
// conditional UPDATE.
func (s *DB) ClaimTrial(ctx context.Context, studyID, worker string, now time.Time, lease time.Duration) (store.Trial, error) {
	if worker == "" || lease <= 0 {
		return store.Trial{}, fmt.Errorf("claim trial in study %s: empty worker or non-positive lease: %w", studyID, store.ErrInvalid)
	}
	until := now.Add(lease)
	row := s.db.QueryRowContext(ctx, `UPDATE trials SET state = ?, worker = ?, lease_ns = ?, lease_until = ?,
			attempts = attempts + 1, updated_at = ?
		WHERE study_id = ? AND number = (
			SELECT number FROM trials WHERE study_id = ?
				AND (state = ? OR (state = ? AND lease_ns < ?))
			ORDER BY number LIMIT 1)
		RETURNING `+trialColumns,
		string(store.TrialRunning), worker, until.UnixNano(), formatTime(until), formatTime(now),
		studyID, studyID, string(store.TrialWaiting), string(store.TrialRunning), now.UnixNano())
	t, err := scanTrial(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Trial{}, fmt.Errorf("claim trial in study %s: none claimable: %w", studyID, store.ErrNotFound)
	}
	if err != nil {
		return store.Trial{}, fmt.Errorf("claim trial in study %s: %w", studyID, err)
	}
	return t, nil
}

// UpdateTrial applies u to the RUNNING trial worker holds.
func (s *DB) UpdateTrial(ctx context.Context, studyID string, number int, worker string, u store.TrialUpdate) (store.Trial, error) {
	if u.State != "" && (!u.State.Known() || u.State == store.TrialWaiting) {
		return store.Trial{}, fmt.Errorf("update trial %s/%d: state %q: %w", studyID, number, u.State, store.ErrInvalid)
	}
	values, err := nullJSON("values", u.Values)
	if err != nil {
		return store.Trial{}, fmt.Errorf("update trial %s/%d: %w", studyID, number, err)
	}
	inter, err := nullJSON("intermediate", u.Intermediate)
	if err != nil {
		return store.Trial{}, fmt.Errorf("update trial %s/%d: %w", studyID, number, err)
	}
	var leaseNS sql.NullInt64
	var leaseText sql.NullString
	if !u.LeaseUntil.IsZero() {
		leaseNS = sql.NullInt64{Int64: u.LeaseUntil.UnixNano(), Valid: true}
		leaseText = sql.NullString{String: formatTime(u.LeaseUntil), Valid: true}
	}
	row := s.db.QueryRowContext(ctx, `UPDATE trials SET
			state = CASE WHEN ? <> '' THEN ? ELSE state END,
			trial_values = COALESCE(?, trial_values),
			intermediate = COALESCE(?, intermediate),
			lease_ns = COALESCE(?, lease_ns),
			lease_until = COALESCE(?, lease_until),
			error = CASE WHEN ? <> '' THEN ? ELSE error END,
			updated_at = ?
		WHERE study_id = ? AND number = ? AND state = ? AND worker = ?
		RETURNING `+trialColumns,
		string(u.State), string(u.State), values, inter, leaseNS, leaseText, u.Error, u.Error, formatTime(time.Now()),
		studyID, number, string(store.TrialRunning), worker)
	t, err := scanTrial(row)
	if errors.Is(err, sql.ErrNoRows) {
		var state, holder string
		err := s.db.QueryRowContext(ctx, `SELECT state, worker FROM trials WHERE study_id = ? AND number = ?`, studyID, number).Scan(&state, &holder)
		if errors.Is(err, sql.ErrNoRows) {
			return store.Trial{}, fmt.Errorf("update trial %s/%d: %w", studyID, number, store.ErrNotFound)
		}
		if err != nil {
			return store.Trial{}, fmt.Errorf("update trial %s/%d: %w", studyID, number, err)
		}
		return store.Trial{}, fmt.Errorf("update trial %s/%d: it is %s, held by %q, not by %q: %w",
			studyID, number, state, holder, worker, store.ErrConflict)
	}
	if err != nil {
		return store.Trial{}, fmt.Errorf("update trial %s/%d: %w", studyID, number, err)
	}
	return t, nil
}

// ListTrials returns the study's trials by number.
func (s *DB) ListTrials(ctx context.Context, studyID string) ([]store.Trial, error) {
	return queryAll(ctx, s.db, fmt.Sprintf("list trials of study %s", studyID), scanTrial,
		`SELECT `+trialColumns+` FROM trials WHERE study_id = ? ORDER BY number`, studyID)
}
