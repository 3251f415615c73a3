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

var (
	_ store.DeploymentStore = (*DB)(nil)
	_ store.LiveDeployments = (*DB)(nil)
)

// deploymentsMigration creates the deployment records. created_ns and
// updated_ns (Unix nanoseconds) order listings and the live lookup, which
// the index on (alias, status, updated_ns) serves.
const deploymentsMigration = `CREATE TABLE deployments (
		id                TEXT PRIMARY KEY,
		model_id          TEXT NOT NULL,
		previous_model_id TEXT NOT NULL DEFAULT '',
		alias             TEXT NOT NULL,
		strategy          TEXT NOT NULL,
		version           TEXT NOT NULL DEFAULT '',
		previous_version  TEXT NOT NULL DEFAULT '',
		traffic_percent   INTEGER NOT NULL DEFAULT 0 CHECK (traffic_percent BETWEEN 0 AND 100),
		status            TEXT NOT NULL,
		stage             TEXT NOT NULL DEFAULT '',
		config            TEXT,
		gates             TEXT,
		result            TEXT,
		error             TEXT NOT NULL DEFAULT '',
		created_at        TEXT NOT NULL,
		created_ns        INTEGER NOT NULL,
		updated_at        TEXT NOT NULL,
		updated_ns        INTEGER NOT NULL
	);
	CREATE INDEX deployments_by_created ON deployments (created_ns DESC);
	CREATE INDEX deployments_by_model ON deployments (model_id, created_ns DESC);
	CREATE INDEX deployments_live ON deployments (alias, status, updated_ns DESC);`

// deploymentEndpointsMigration adds the endpoint a deployment moves, its
// alarm reading and its timeline (a JSON array, appended to by updates).
const deploymentEndpointsMigration = `ALTER TABLE deployments ADD COLUMN environment TEXT NOT NULL DEFAULT '';
	ALTER TABLE deployments ADD COLUMN endpoint TEXT NOT NULL DEFAULT '';
	ALTER TABLE deployments ADD COLUMN alarms TEXT;
	ALTER TABLE deployments ADD COLUMN events TEXT NOT NULL DEFAULT '[]';
	CREATE INDEX deployments_live_endpoint ON deployments (environment, endpoint, status, updated_ns DESC);`

const deploymentColumns = `id, model_id, previous_model_id, alias, environment, endpoint, strategy, version, previous_version,
	traffic_percent, status, stage, config, gates, result, alarms, events, error, created_at, updated_at`

// scanDeployment reads one row selected with deploymentColumns.
func scanDeployment(r rowScanner) (store.Deployment, error) {
	var (
		d                             store.Deployment
		strategy, status, events      string
		config, gates, result, alarms sql.NullString
		created, updated              string
	)
	if err := r.Scan(&d.ID, &d.ModelID, &d.PreviousModelID, &d.Alias, &d.Environment, &d.Endpoint, &strategy, &d.Version,
		&d.PreviousVersion, &d.TrafficPercent, &status, &d.Stage, &config, &gates, &result, &alarms, &events, &d.Error,
		&created, &updated); err != nil {
		return store.Deployment{}, err
	}
	d.Strategy = store.DeploymentStrategy(strategy)
	d.Status = store.DeploymentStatus(status)
	d.Config, d.Gates, d.Result, d.Alarms = rawOrNil(config), rawOrNil(gates), rawOrNil(result), rawOrNil(alarms)
	if err := json.Unmarshal([]byte(events), &d.Events); err != nil {
		return store.Deployment{}, fmt.Errorf("deployment %s events: %w", d.ID, err)
	}
	if len(d.Events) == 0 {
		d.Events = nil
	}
	var err error
	if d.CreatedAt, err = parseTime(created); err != nil {
		return store.Deployment{}, fmt.Errorf("deployment %s created_at: %w", d.ID, err)
	}
	if d.UpdatedAt, err = parseTime(updated); err != nil {
		return store.Deployment{}, fmt.Errorf("deployment %s updated_at: %w", d.ID, err)
	}
	return d, nil
}

// CreateDeployment stores a new deployment; see store.DeploymentStore. A
// zero CreatedAt is set to now and a zero UpdatedAt to CreatedAt.
func (s *DB) CreateDeployment(ctx context.Context, d store.Deployment) error {
	if err := d.Check(); err != nil {
		return fmt.Errorf("create deployment %q: %w", d.ID, err)
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = time.Now()
	}
	if d.UpdatedAt.IsZero() {
		d.UpdatedAt = d.CreatedAt
	}
	// Check has refused text that is not JSON, so nullJSON only maps empty
	// fields to NULL here.
	config, _ := nullJSON("config", d.Config)
	gates, _ := nullJSON("gates", d.Gates)
	result, _ := nullJSON("result", d.Result)
	alarms, _ := nullJSON("alarms", d.Alarms)
	events, err := eventsJSON(d.Events)
	if err != nil {
		return fmt.Errorf("create deployment %s: %w", d.ID, err)
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO deployments (`+deploymentColumns+`, created_ns, updated_ns)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		d.ID, d.ModelID, d.PreviousModelID, d.Alias, d.Environment, d.Endpoint, string(d.Strategy), d.Version, d.PreviousVersion,
		d.TrafficPercent, string(d.Status), d.Stage, config, gates, result, alarms, events, d.Error,
		formatTime(d.CreatedAt), formatTime(d.UpdatedAt), d.CreatedAt.UnixNano(), d.UpdatedAt.UnixNano())
	if err != nil {
		return fmt.Errorf("create deployment %s: %w", d.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("create deployment %s: %w", d.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("create deployment %s: id exists: %w", d.ID, store.ErrConflict)
	}
	return nil
}

// GetDeployment returns the deployment, or store.ErrNotFound.
func (s *DB) GetDeployment(ctx context.Context, id string) (store.Deployment, error) {
	d, err := scanDeployment(s.db.QueryRowContext(ctx, `SELECT `+deploymentColumns+` FROM deployments WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Deployment{}, fmt.Errorf("get deployment %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Deployment{}, fmt.Errorf("get deployment %s: %w", id, err)
	}
	return d, nil
}

// UpdateDeployment applies u in one UPDATE statement conditioned on the
// stored status being one of u.WritableFrom(), and returns the row that
// statement left; see store.DeploymentStore.
func (s *DB) UpdateDeployment(ctx context.Context, id string, u store.DeploymentUpdate) (store.Deployment, error) {
	if err := store.CheckID("deployment id", id); err != nil {
		return store.Deployment{}, fmt.Errorf("update deployment: %w", err)
	}
	if err := u.Check(); err != nil {
		return store.Deployment{}, fmt.Errorf("update deployment %s: %w", id, err)
	}
	from := u.WritableFrom()
	if len(from) == 0 {
		return store.Deployment{}, s.refusedDeploymentUpdate(ctx, id, u)
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
	if pct, ok := u.Traffic(); ok {
		set("traffic_percent", pct)
	}
	if u.Version != "" {
		set("version", u.Version)
	}
	if u.PreviousVersion != "" {
		set("previous_version", u.PreviousVersion)
	}
	if len(u.Gates) > 0 {
		set("gates", string(u.Gates))
	}
	if len(u.Result) > 0 {
		set("result", string(u.Result))
	}
	if len(u.Alarms) > 0 {
		set("alarms", string(u.Alarms))
	}
	if len(u.AddEvents) > 0 {
		// Appended in the statement itself, so concurrent writers never lose
		// each other's events; one assignment nests every insert (SQLite
		// keeps only the last assignment of a column).
		expr := "events"
		for _, e := range u.AddEvents {
			b, err := json.Marshal(e)
			if err != nil {
				return store.Deployment{}, fmt.Errorf("update deployment %s: encode event: %w", id, err)
			}
			expr = "json_insert(" + expr + ", '$[#]', json(?))"
			args = append(args, string(b))
		}
		sets = append(sets, "events = "+expr)
	}
	if u.Error != "" {
		set("error", u.Error)
	}
	now := time.Now()
	set("updated_at", formatTime(now))
	set("updated_ns", now.UnixNano())

	args = append(args, id)
	for _, st := range from {
		args = append(args, string(st))
	}
	q := `UPDATE deployments SET ` + strings.Join(sets, ", ") +
		` WHERE id = ? AND status IN (?` + strings.Repeat(", ?", len(from)-1) + `) RETURNING ` + deploymentColumns
	d, err := scanDeployment(s.db.QueryRowContext(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Deployment{}, s.refusedDeploymentUpdate(ctx, id, u)
	}
	if err != nil {
		return store.Deployment{}, fmt.Errorf("update deployment %s: %w", id, err)
	}
	return d, nil
}

// refusedDeploymentUpdate explains why a conditional update wrote nothing:
// the deployment does not exist, or its status forbade u.
func (s *DB) refusedDeploymentUpdate(ctx context.Context, id string, u store.DeploymentUpdate) error {
	var status string
	err := s.db.QueryRowContext(ctx, `SELECT status FROM deployments WHERE id = ?`, id).Scan(&status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("update deployment %s: %w", id, store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("update deployment %s: %w", id, err)
	}
	return fmt.Errorf("update deployment %s: %s: %w", id, u.RefusedReason(store.DeploymentStatus(status)), store.ErrConflict)
}

// ListDeployments returns the deployments f selects, newest first.
func (s *DB) ListDeployments(ctx context.Context, f store.DeploymentFilter) ([]store.Deployment, error) {
	if err := f.Check(); err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	q := `SELECT ` + deploymentColumns + ` FROM deployments WHERE 1 = 1`
	var args []any
	if f.ModelID != "" {
		q += ` AND model_id = ?`
		args = append(args, f.ModelID)
	}
	if f.Alias != "" {
		q += ` AND alias = ?`
		args = append(args, f.Alias)
	}
	if f.Environment != "" {
		q += ` AND environment = ?`
		args = append(args, f.Environment)
	}
	if f.Endpoint != "" {
		q += ` AND endpoint = ?`
		args = append(args, f.Endpoint)
	}
	limit := f.Limit
	if limit == 0 {
		limit = -1 // SQLite: a negative LIMIT means no limit
	}
	q += ` ORDER BY created_ns DESC, id DESC LIMIT ?`
	args = append(args, limit)
	return s.queryDeployments(ctx, "list deployments", q, args...)
}

// LiveDeployment returns the endpoint's deployment that succeeded last; see
// store.LiveDeployments.
func (s *DB) LiveDeployment(ctx context.Context, environment, endpoint string) (store.Deployment, error) {
	if err := store.CheckID("environment", environment); err != nil {
		return store.Deployment{}, fmt.Errorf("live deployment: %w", err)
	}
	if err := store.CheckID("endpoint", endpoint); err != nil {
		return store.Deployment{}, fmt.Errorf("live deployment: %w", err)
	}
	op := "live deployment of " + endpoint + " in " + environment
	ds, err := s.queryDeployments(ctx, op, `SELECT `+deploymentColumns+` FROM deployments
		WHERE environment = ? AND endpoint = ? AND status = ? ORDER BY updated_ns DESC, created_ns DESC, id DESC LIMIT 1`,
		environment, endpoint, string(store.DeploymentSucceeded))
	if err != nil {
		return store.Deployment{}, err
	}
	if len(ds) == 0 {
		return store.Deployment{}, fmt.Errorf("%s: no deployment succeeded: %w", op, store.ErrNotFound)
	}
	return ds[0], nil
}

// eventsJSON is the events column of a new deployment.
func eventsJSON(events []store.DeploymentEvent) (string, error) {
	if len(events) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(events)
	if err != nil {
		return "", fmt.Errorf("encode events: %w", err)
	}
	return string(b), nil
}

// queryDeployments runs a SELECT of deploymentColumns.
func (s *DB) queryDeployments(ctx context.Context, op, q string, args ...any) ([]store.Deployment, error) {
	return queryAll(ctx, s.db, op, scanDeployment, q, args...)
}
