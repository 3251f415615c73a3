package sqlitestore

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
)

// TestMigrationAddsTheManifestDigest: a database written before the
// registry kept manifest digests (schema version 8) opens with its models
// intact and no digest (so they load as before), and a model registered
// after the migration keeps its digest.
func TestMigrationAddsTheManifestDigest(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "orrery.db")
	raw, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = raw.ExecContext(ctx, `CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`)
	require.NoError(t, err)
	const before = 8 // the last version without models.manifest_sha256
	for v := 1; v <= before; v++ {
		_, err = raw.ExecContext(ctx, migrations[v-1])
		require.NoError(t, err, "version %d", v)
		_, err = raw.ExecContext(ctx, `INSERT INTO schema_version (version, applied_at) VALUES (?, '2026-01-01T00:00:00Z')`, v)
		require.NoError(t, err)
	}
	_, err = raw.ExecContext(ctx, `INSERT INTO models (id, name, artifact_key, created_at, created_ns)
		VALUES ('mdl-old', 'htru2-mlp', 'models/mdl-old', '2026-01-01T00:00:00Z', 1)`)
	require.NoError(t, err)
	require.NoError(t, raw.Close())

	db, err := Open(ctx, path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	v, err := db.SchemaVersion(ctx)
	require.NoError(t, err)
	assert.Equal(t, len(migrations), v)
	old, err := db.GetModel(ctx, "mdl-old")
	require.NoError(t, err)
	assert.Equal(t, "models/mdl-old", old.ArtifactKey)
	assert.Empty(t, old.ManifestSHA256, "a model registered before digests were kept has none")

	digest := "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	require.NoError(t, db.RegisterModel(ctx, store.Model{ID: "mdl-new", ArtifactKey: "models/mdl-new", ManifestSHA256: digest}))
	got, err := db.GetModel(ctx, "mdl-new")
	require.NoError(t, err)
	assert.Equal(t, digest, got.ManifestSHA256)
}
