package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
)

// TestNamesArePrintedSafely: names stored before names were checked —
// holding NUL, a right-to-left override, an escape sequence, a newline, a
// zero-width space, or a million characters — are printed escaped and
// bounded by every command that shows them (models, studies list and
// show, retrain list), never raw.
func TestNamesArePrintedSafely(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	code, _, errOut := runArgs(t, "models", "--home", home) // creates the home
	require.Equal(t, 0, code, errOut)
	db, err := sqlitestore.Open(t.Context(), filepath.Join(home, "orrery.db"))
	require.NoError(t, err)
	evil := "pulsar\x00null\u202egnp.exe\x1b[31mred\x07\nnext\u200bzw\x7f"
	long := strings.Repeat("n", 1_000_000)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	require.NoError(t, db.RegisterModel(t.Context(), store.Model{ID: "mdl-evil", Name: evil, ModelType: "mlp", ArtifactKey: "models/mdl-evil", CreatedAt: now}))
	require.NoError(t, db.RegisterModel(t.Context(), store.Model{ID: "mdl-long", Name: long, ModelType: "mlp", ArtifactKey: "models/mdl-long", CreatedAt: now}))
	require.NoError(t, db.CreateStudy(t.Context(), store.Study{ID: "hpo-evil", Name: evil, Status: store.Running, Config: []byte(`{}`), CreatedAt: now}))
	require.NoError(t, db.PutRetrainingPolicy(t.Context(), store.RetrainingPolicy{Prefix: "incoming/x/", ModelName: evil,
		Config: []byte(`{"target_column":"class"}`), UpdatedAt: now}))
	require.NoError(t, db.Close())

	for name, args := range map[string][]string{
		"models":       {"models"},
		"studies list": {"studies", "list"},
		"studies show": {"studies", "show", "hpo-evil"},
		"retrain list": {"retrain", "list"},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runArgs(t, append(args, "--home", home)...)
			require.Equal(t, 0, code, errOut)
			for _, raw := range []string{"\x00", "\u202e", "\x1b", "\x07", "\u200b", "\x7f", "\nnext"} {
				assert.NotContains(t, out, raw, "%q is printed raw", raw)
			}
			assert.Contains(t, out, `pulsar\x00null\u202egnp.exe\x1b[31mred\a\nnext\u200bzw\x7f`, "written as Go escapes")
			assert.NotContains(t, out, strings.Repeat("n", 201), "a name is bounded")
		})
	}
}
