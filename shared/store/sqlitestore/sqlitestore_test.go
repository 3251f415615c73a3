package sqlitestore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
	"github.com/orrery-ml/orrery/shared/store/storetest"
)

// openTemp opens a fresh database in the test's temporary directory and closes
// it when the test ends.
func openTemp(t *testing.T) *sqlitestore.DB {
	t.Helper()
	db, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "state", "orrery.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

func TestJobStore(t *testing.T) {
	storetest.TestJobStore(t, func(t *testing.T) store.JobStore { return openTemp(t) })
}

func TestModelRegistry(t *testing.T) {
	storetest.TestModelRegistry(t, func(t *testing.T) store.ModelRegistry { return openTemp(t) })
}

func TestOpen(t *testing.T) {
	t.Run("refuses bad paths", func(t *testing.T) {
		for _, path := range []string{"", ":memory:", filepath.Join(t.TempDir(), "odd?name.db")} {
			_, err := sqlitestore.Open(t.Context(), path)
			require.ErrorIs(t, err, store.ErrInvalid, "path %q", path)
		}
	})

	t.Run("reopen keeps data and schema", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nested", "dir", "orrery.db")
		db, err := sqlitestore.Open(t.Context(), path)
		require.NoError(t, err)
		require.NoError(t, db.CreateJob(t.Context(), store.Job{ID: "job-1", Kind: "training", Status: store.Queued,
			Config: json.RawMessage(`{"epochs":3}`)}))
		v1, err := db.SchemaVersion(t.Context())
		require.NoError(t, err)
		assert.Positive(t, v1)
		require.NoError(t, db.Close())

		for range 2 {
			db, err = sqlitestore.Open(t.Context(), path)
			require.NoError(t, err)
			v, err := db.SchemaVersion(t.Context())
			require.NoError(t, err)
			assert.Equal(t, v1, v, "reopening applies no step twice")
			got, err := db.GetJob(t.Context(), "job-1")
			require.NoError(t, err)
			assert.JSONEq(t, `{"epochs":3}`, string(got.Config))
			require.NoError(t, db.Close())
		}

		raw := rawDB(t, path)
		var rows int
		require.NoError(t, raw.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM schema_version`).Scan(&rows))
		assert.Equal(t, v1, rows, "one schema_version row per step")
		var mode string
		require.NoError(t, raw.QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode))
		assert.Equal(t, "wal", strings.ToLower(mode))
	})

	t.Run("refuses a newer schema", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "orrery.db")
		db, err := sqlitestore.Open(t.Context(), path)
		require.NoError(t, err)
		require.NoError(t, db.Close())
		_, err = rawDB(t, path).ExecContext(t.Context(),
			`INSERT INTO schema_version (version, applied_at) VALUES (999, '2030-01-01T00:00:00Z')`)
		require.NoError(t, err)
		_, err = sqlitestore.Open(t.Context(), path)
		require.ErrorIs(t, err, sqlitestore.ErrSchemaTooNew)
	})

	t.Run("times are RFC 3339 UTC text", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "orrery.db")
		db, err := sqlitestore.Open(t.Context(), path)
		require.NoError(t, err)
		require.NoError(t, db.CreateJob(t.Context(), store.Job{ID: "job-1", Status: store.Queued}))
		require.NoError(t, db.Close())
		var created, updated string
		require.NoError(t, rawDB(t, path).QueryRowContext(t.Context(),
			`SELECT created_at, updated_at FROM jobs WHERE id = 'job-1'`).Scan(&created, &updated))
		assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$`, created)
		assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$`, updated)
	})
}

// TestSharedFile checks that two handles on one file, as an `orrery serve`
// process and a trainer child process have, still let exactly one terminal
// transition win.
func TestSharedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orrery.db")
	a, err := sqlitestore.Open(t.Context(), path)
	require.NoError(t, err)
	defer func() { require.NoError(t, a.Close()) }()
	b, err := sqlitestore.Open(t.Context(), path)
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()

	require.NoError(t, a.CreateJob(t.Context(), store.Job{ID: "job-1", Status: store.Running}))
	_, err = b.UpdateJob(t.Context(), "job-1", store.JobUpdate{Status: store.Succeeded, ModelID: "model-1"})
	require.NoError(t, err)
	_, err = a.UpdateJob(t.Context(), "job-1", store.JobUpdate{Status: store.Failed, Error: "late"})
	require.ErrorIs(t, err, store.ErrConflict)
	got, err := a.GetJob(t.Context(), "job-1")
	require.NoError(t, err)
	assert.Equal(t, store.Succeeded, got.Status)
	assert.Equal(t, "model-1", got.ModelID)
	assert.Empty(t, got.Error)
}

// rawDB opens path with the plain driver, for checks below the adapter.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, raw.Close()) })
	require.NoError(t, raw.PingContext(context.Background()))
	return raw
}

func TestStudyStore(t *testing.T) {
	storetest.TestStudyStore(t, func(t *testing.T) storetest.StudyTrialStore { return openTemp(t) })
}

func TestRetrainingPolicyStore(t *testing.T) {
	storetest.TestRetrainingPolicyStore(t, func(t *testing.T) store.RetrainingPolicyStore { return openTemp(t) })
}
