package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/orrery-ml/orrery/shared/store"
)

// statuses lists every job status, in lifecycle order.
var statuses = []store.Status{store.Queued, store.Running, store.Succeeded, store.Failed, store.Cancelled}

// knownStatus reports whether st is one of statuses.
func knownStatus(st store.Status) bool {
	for _, s := range statuses {
		if s == st {
			return true
		}
	}
	return false
}

// writableFrom returns the stored statuses from which an update may be
// applied: those that CanTransition to next when next is set, and the
// non-terminal ones when the update changes no status.
func writableFrom(next store.Status) []store.Status {
	var from []store.Status
	for _, s := range statuses {
		if next == "" && !s.Terminal() || next != "" && s.CanTransition(next) {
			from = append(from, s)
		}
	}
	return from
}

const jobColumns = `id, kind, status, stage, config, progress, result, error, model_id, attempts, resumed_from, created_at, updated_at`

// rowScanner is what *sql.Row and *sql.Rows have in common.
type rowScanner interface {
	Scan(dest ...any) error
}

// queryAll runs the SELECT q and scans every row it returns with scan; op
// starts every error ("list jobs"). No row is an empty slice, not nil.
func queryAll[T any](ctx context.Context, db *sql.DB, op string, scan func(rowScanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer func() { _ = rows.Close() }()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// scanJob reads one row selected with jobColumns.
func scanJob(r rowScanner) (store.Job, error) {
	var (
		j                        store.Job
		status                   string
		config, progress, result sql.NullString
		created, updated         string
	)
	if err := r.Scan(&j.ID, &j.Kind, &status, &j.Stage, &config, &progress, &result,
		&j.Error, &j.ModelID, &j.Attempts, &j.ResumedFrom, &created, &updated); err != nil {
		return store.Job{}, err
	}
	j.Status = store.Status(status)
	j.Config = rawOrNil(config)
	j.Progress = rawOrNil(progress)
	j.Result = rawOrNil(result)
	var err error
	if j.CreatedAt, err = parseTime(created); err != nil {
		return store.Job{}, fmt.Errorf("job %s created_at: %w", j.ID, err)
	}
	if j.UpdatedAt, err = parseTime(updated); err != nil {
		return store.Job{}, fmt.Errorf("job %s updated_at: %w", j.ID, err)
	}
	return j, nil
}

// rawOrNil turns a nullable TEXT column into a raw JSON message.
func rawOrNil(s sql.NullString) json.RawMessage {
	if !s.Valid {
		return nil
	}
	return json.RawMessage(s.String)
}

// CreateJob stores a new job. A zero CreatedAt is set to now and a zero
// UpdatedAt to CreatedAt. Returns store.ErrInvalid if the id is empty, the
// status is empty or unknown, or Config, Progress or Result is not JSON;
// store.ErrConflict if a job with that id exists.
func (s *DB) CreateJob(ctx context.Context, j store.Job) error {
	if j.ID == "" {
		return fmt.Errorf("create job: empty id: %w", store.ErrInvalid)
	}
	if !knownStatus(j.Status) {
		return fmt.Errorf("create job %s: status %q: %w", j.ID, j.Status, store.ErrInvalid)
	}
	created := j.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	updated := j.UpdatedAt
	if updated.IsZero() {
		updated = created
	}
	config, err := nullJSON("config", j.Config)
	if err != nil {
		return fmt.Errorf("create job %s: %w", j.ID, err)
	}
	progress, err := nullJSON("progress", j.Progress)
	if err != nil {
		return fmt.Errorf("create job %s: %w", j.ID, err)
	}
	result, err := nullJSON("result", j.Result)
	if err != nil {
		return fmt.Errorf("create job %s: %w", j.ID, err)
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO jobs (id, kind, status, stage, config, progress, result,
		error, model_id, attempts, resumed_from, created_at, created_ns, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		j.ID, j.Kind, string(j.Status), j.Stage, config, progress, result, j.Error, j.ModelID, j.Attempts, j.ResumedFrom,
		formatTime(created), created.UnixNano(), formatTime(updated))
	if err != nil {
		return fmt.Errorf("create job %s: %w", j.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("create job %s: %w", j.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("create job %s: id exists: %w", j.ID, store.ErrConflict)
	}
	return nil
}

// GetJob returns the job. Returns store.ErrNotFound if it does not exist.
func (s *DB) GetJob(ctx context.Context, id string) (store.Job, error) {
	j, err := scanJob(s.getJob.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Job{}, fmt.Errorf("get job %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Job{}, fmt.Errorf("get job %s: %w", id, err)
	}
	return j, nil
}

// UpdateJob applies u in one conditional UPDATE statement and returns the job
// as that statement left it. The rule:
//
//   - With a status change (u.Status set) the write happens only if the stored
//     status CanTransition to u.Status. The other fields of u are written in
//     the same statement, which is how Result, ModelID and Error land together
//     with the terminal transition.
//   - Without a status change the write happens only while the job is not
//     terminal (QUEUED or RUNNING): once finished, a job's record is final, so
//     a late progress event cannot overwrite it.
//
// A refused write returns store.ErrConflict; a missing job store.ErrNotFound;
// an unknown status, or Progress or Result that is not JSON, store.ErrInvalid.
// Empty fields of u are left as they are; UpdatedAt becomes now.
func (s *DB) UpdateJob(ctx context.Context, id string, u store.JobUpdate) (store.Job, error) {
	if id == "" {
		return store.Job{}, fmt.Errorf("update job: empty id: %w", store.ErrInvalid)
	}
	if u.Status != "" && !knownStatus(u.Status) {
		return store.Job{}, fmt.Errorf("update job %s: status %q: %w", id, u.Status, store.ErrInvalid)
	}
	progress, err := nullJSON("progress", u.Progress)
	if err != nil {
		return store.Job{}, fmt.Errorf("update job %s: %w", id, err)
	}
	result, err := nullJSON("result", u.Result)
	if err != nil {
		return store.Job{}, fmt.Errorf("update job %s: %w", id, err)
	}

	from := writableFrom(u.Status)
	if len(from) == 0 {
		// Nothing may become u.Status (QUEUED): refused whatever is stored.
		return store.Job{}, s.refusedUpdate(ctx, id, u.Status)
	}

	var (
		sets []string
		args []any
	)
	set := func(column string, v any) {
		sets = append(sets, column+" = ?")
		args = append(args, v)
	}
	if u.Status != "" {
		set("status", string(u.Status))
	}
	if u.Stage != "" {
		set("stage", u.Stage)
	}
	if progress.Valid {
		set("progress", progress)
	}
	if result.Valid {
		set("result", result)
	}
	if u.Error != "" {
		set("error", u.Error)
	}
	if u.ModelID != "" {
		set("model_id", u.ModelID)
	}
	if u.AddAttempt {
		sets = append(sets, "attempts = attempts + 1")
	}
	if u.ResumedFrom != "" {
		set("resumed_from", u.ResumedFrom)
	}
	set("updated_at", formatTime(time.Now()))

	args = append(args, id)
	for _, st := range from {
		args = append(args, string(st))
	}
	q := `UPDATE jobs SET ` + strings.Join(sets, ", ") +
		` WHERE id = ? AND status IN (?` + strings.Repeat(", ?", len(from)-1) + `) RETURNING ` + jobColumns
	// With RETURNING, SQLite makes every change during the first step, so the
	// row read here is exactly what this statement wrote.
	j, err := scanJob(s.db.QueryRowContext(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Job{}, s.refusedUpdate(ctx, id, u.Status)
	}
	if err != nil {
		return store.Job{}, fmt.Errorf("update job %s: %w", id, err)
	}
	return j, nil
}

// refusedUpdate explains why a conditional update wrote nothing: the job does
// not exist, or its status forbade the write.
func (s *DB) refusedUpdate(ctx context.Context, id string, next store.Status) error {
	var status string
	err := s.db.QueryRowContext(ctx, `SELECT status FROM jobs WHERE id = ?`, id).Scan(&status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("update job %s: %w", id, store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("update job %s: %w", id, err)
	case next != "":
		return fmt.Errorf("update job %s: status %s cannot become %s: %w", id, status, next, store.ErrConflict)
	default:
		return fmt.Errorf("update job %s: job is %s and can no longer change: %w", id, status, store.ErrConflict)
	}
}

// ListJobs returns jobs, newest first (by CreatedAt, then by insertion), at
// most limit of them (0 = all). A negative limit returns store.ErrInvalid.
func (s *DB) ListJobs(ctx context.Context, limit int) ([]store.Job, error) {
	if limit < 0 {
		return nil, fmt.Errorf("list jobs: limit %d: %w", limit, store.ErrInvalid)
	}
	sqlLimit := limit
	if limit == 0 {
		sqlLimit = -1 // SQLite: a negative LIMIT means no limit
	}
	return queryAll(ctx, s.db, "list jobs", scanJob, `SELECT `+jobColumns+` FROM jobs
		ORDER BY created_ns DESC, rowid DESC LIMIT ?`, sqlLimit)
}
