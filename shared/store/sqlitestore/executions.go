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

// executionsMigration holds the local executor's journal: one row per
// execution and its history events in order (seq).
const executionsMigration = `CREATE TABLE executions (
		machine    TEXT NOT NULL,
		name       TEXT NOT NULL,
		status     TEXT NOT NULL,
		input      TEXT,
		output     TEXT,
		error      TEXT NOT NULL DEFAULT '',
		cause      TEXT NOT NULL DEFAULT '',
		owner      TEXT NOT NULL DEFAULT '',
		runs       INTEGER NOT NULL DEFAULT 0,
		started_at TEXT NOT NULL,
		started_ns INTEGER NOT NULL,
		updated_at TEXT NOT NULL,
		PRIMARY KEY (machine, name)
	);
	CREATE INDEX executions_by_status ON executions (status, started_ns);
	CREATE TABLE execution_events (
		machine TEXT NOT NULL,
		name    TEXT NOT NULL,
		seq     INTEGER NOT NULL,
		event   TEXT NOT NULL,
		PRIMARY KEY (machine, name, seq),
		FOREIGN KEY (machine, name) REFERENCES executions (machine, name) ON DELETE CASCADE
	);`

var (
	_ store.ExecutionJournal = (*DB)(nil)
	_ store.ExecutionHistory = (*DB)(nil)
)

const executionColumns = `machine, name, status, input, output, error, cause, owner, runs, started_at, updated_at`

func scanExecution(r rowScanner) (store.Execution, error) {
	var (
		e                store.Execution
		status           string
		input, output    sql.NullString
		started, updated string
	)
	if err := r.Scan(&e.Machine, &e.Name, &status, &input, &output, &e.Error, &e.Cause, &e.Owner, &e.Runs,
		&started, &updated); err != nil {
		return store.Execution{}, err
	}
	e.Status = store.ExecutionStatus(status)
	e.Input, e.Output = rawOrNil(input), rawOrNil(output)
	var err error
	if e.StartedAt, err = parseTime(started); err != nil {
		return store.Execution{}, fmt.Errorf("execution %s/%s started_at: %w", e.Machine, e.Name, err)
	}
	if e.UpdatedAt, err = parseTime(updated); err != nil {
		return store.Execution{}, fmt.Errorf("execution %s/%s updated_at: %w", e.Machine, e.Name, err)
	}
	return e, nil
}

func checkExecutionKey(op, machine, name string) error {
	if machine == "" || name == "" {
		return fmt.Errorf("%s execution %q/%q: empty machine or name: %w", op, machine, name, store.ErrInvalid)
	}
	return nil
}

// CreateExecution stores a new RUNNING execution (Status is ignored; Runs
// defaults to 1, StartedAt to now). Returns store.ErrConflict if the machine
// has an execution of that name, store.ErrInvalid for an empty key or an
// Input that is not JSON.
func (s *DB) CreateExecution(ctx context.Context, e store.Execution) error {
	if err := checkExecutionKey("create", e.Machine, e.Name); err != nil {
		return err
	}
	input, err := nullJSON("input", e.Input)
	if err != nil {
		return fmt.Errorf("create execution %s/%s: %w", e.Machine, e.Name, err)
	}
	started := e.StartedAt
	if started.IsZero() {
		started = time.Now()
	}
	runs := e.Runs
	if runs == 0 {
		runs = 1
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO executions (machine, name, status, input, owner, runs,
		started_at, started_ns, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (machine, name) DO NOTHING`,
		e.Machine, e.Name, string(store.ExecutionRunning), input, e.Owner, runs, formatTime(started), started.UnixNano(),
		formatTime(time.Now()))
	if err != nil {
		return fmt.Errorf("create execution %s/%s: %w", e.Machine, e.Name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("create execution %s/%s: %w", e.Machine, e.Name, err)
	} else if n == 0 {
		return fmt.Errorf("create execution %s/%s: it exists: %w", e.Machine, e.Name, store.ErrConflict)
	}
	return nil
}

// GetExecution returns store.ErrNotFound if there is no such execution.
func (s *DB) GetExecution(ctx context.Context, machine, name string) (store.Execution, error) {
	if err := checkExecutionKey("get", machine, name); err != nil {
		return store.Execution{}, err
	}
	e, err := scanExecution(s.db.QueryRowContext(ctx, `SELECT `+executionColumns+` FROM executions
		WHERE machine = ? AND name = ?`, machine, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Execution{}, fmt.Errorf("get execution %s/%s: %w", machine, name, store.ErrNotFound)
	}
	if err != nil {
		return store.Execution{}, fmt.Errorf("get execution %s/%s: %w", machine, name, err)
	}
	return e, nil
}

// ListExecutions returns the executions with the status ("" for all),
// oldest first.
func (s *DB) ListExecutions(ctx context.Context, status store.ExecutionStatus) ([]store.Execution, error) {
	q := `SELECT ` + executionColumns + ` FROM executions`
	var args []any
	if status != "" {
		q += ` WHERE status = ?`
		args = append(args, string(status))
	}
	return queryAll(ctx, s.db, "list executions", scanExecution, q+` ORDER BY started_ns, rowid`, args...)
}

// UpdateExecution applies u in one conditional UPDATE: only while the
// execution is RUNNING (an ended one is final: store.ErrConflict), only to a
// terminal status, and, with IfOwner, only while the owner is *IfOwner.
func (s *DB) UpdateExecution(ctx context.Context, machine, name string, u store.ExecutionUpdate) (store.Execution, error) {
	if err := checkExecutionKey("update", machine, name); err != nil {
		return store.Execution{}, err
	}
	switch u.Status {
	case "", store.ExecutionSucceeded, store.ExecutionFailed, store.ExecutionAborted:
	default:
		return store.Execution{}, fmt.Errorf("update execution %s/%s: status %q: %w", machine, name, u.Status, store.ErrInvalid)
	}
	output, err := nullJSON("output", u.Output)
	if err != nil {
		return store.Execution{}, fmt.Errorf("update execution %s/%s: %w", machine, name, err)
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
	if output.Valid {
		set("output", output)
	}
	if u.Error != "" {
		set("error", u.Error)
	}
	if u.Cause != "" {
		set("cause", u.Cause)
	}
	if u.Owner != nil {
		set("owner", *u.Owner)
	}
	if u.AddRun {
		sets = append(sets, "runs = runs + 1")
	}
	set("updated_at", formatTime(time.Now()))
	q := `UPDATE executions SET ` + strings.Join(sets, ", ") + ` WHERE machine = ? AND name = ? AND status = ?`
	args = append(args, machine, name, string(store.ExecutionRunning))
	if u.IfOwner != nil {
		q += ` AND owner = ?`
		args = append(args, *u.IfOwner)
	}
	e, err := scanExecution(s.db.QueryRowContext(ctx, q+` RETURNING `+executionColumns, args...))
	if errors.Is(err, sql.ErrNoRows) {
		cur, gerr := s.GetExecution(ctx, machine, name)
		switch {
		case gerr != nil:
			return store.Execution{}, fmt.Errorf("update execution %s/%s: %w", machine, name, gerr)
		case cur.Status.Terminal():
			return store.Execution{}, fmt.Errorf("update execution %s/%s: it is %s: %w", machine, name, cur.Status, store.ErrConflict)
		default:
			return store.Execution{}, fmt.Errorf("update execution %s/%s: owned by %q, not %q: %w", machine, name, cur.Owner,
				*u.IfOwner, store.ErrConflict)
		}
	}
	if err != nil {
		return store.Execution{}, fmt.Errorf("update execution %s/%s: %w", machine, name, err)
	}
	return e, nil
}

// AppendEvent adds one event after the execution's last.
func (s *DB) AppendEvent(ctx context.Context, machine, name string, event json.RawMessage) error {
	if err := checkExecutionKey("append event to", machine, name); err != nil {
		return err
	}
	if !json.Valid(event) {
		return fmt.Errorf("append event to execution %s/%s: not JSON: %w", machine, name, store.ErrInvalid)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO execution_events (machine, name, seq, event)
		SELECT ?, ?, COALESCE(MAX(seq), 0) + 1, ? FROM execution_events WHERE machine = ? AND name = ?`,
		machine, name, string(event), machine, name)
	if err != nil {
		if strings.Contains(err.Error(), "FOREIGN KEY") {
			return fmt.Errorf("append event to execution %s/%s: %w", machine, name, store.ErrNotFound)
		}
		return fmt.Errorf("append event to execution %s/%s: %w", machine, name, err)
	}
	return nil
}

// History returns the events in order.
func (s *DB) History(ctx context.Context, machine, name string) ([]json.RawMessage, error) {
	if err := checkExecutionKey("read history of", machine, name); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT event FROM execution_events WHERE machine = ? AND name = ? ORDER BY seq`,
		machine, name)
	if err != nil {
		return nil, fmt.Errorf("read history of execution %s/%s: %w", machine, name, err)
	}
	defer func() { _ = rows.Close() }()
	var out []json.RawMessage
	for rows.Next() {
		var ev string
		if err := rows.Scan(&ev); err != nil {
			return nil, fmt.Errorf("read history of execution %s/%s: %w", machine, name, err)
		}
		out = append(out, json.RawMessage(ev))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read history of execution %s/%s: %w", machine, name, err)
	}
	return out, nil
}
