package filestore_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/filestore"
	"github.com/orrery-ml/orrery/shared/store/storetest"
)

func newTemp(t *testing.T) *filestore.Store {
	t.Helper()
	s, err := filestore.New(filepath.Join(t.TempDir(), "artifacts"))
	require.NoError(t, err)
	return s
}

func TestArtifactStore(t *testing.T) {
	storetest.TestArtifactStore(t, func(t *testing.T) store.ArtifactStore { return newTemp(t) })
}

func TestNew(t *testing.T) {
	t.Run("creates the root and makes it absolute", func(t *testing.T) {
		t.Chdir(t.TempDir())
		s, err := filestore.New(filepath.Join(".orrery", "artifacts"))
		require.NoError(t, err)
		assert.True(t, filepath.IsAbs(s.Root()))
		info, err := os.Stat(s.Root())
		require.NoError(t, err)
		assert.True(t, info.IsDir())
	})
	t.Run("refuses an empty root", func(t *testing.T) {
		_, err := filestore.New("")
		require.ErrorIs(t, err, store.ErrInvalid)
	})
	t.Run("refuses a root that is a file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
		_, err := filestore.New(file)
		require.Error(t, err)
	})
}

func TestPath(t *testing.T) {
	s := newTemp(t)
	tests := []struct {
		name string
		key  string
		want string
		err  error
	}{
		{"nested key", "models/m1/manifest.json", filepath.Join(s.Root(), "models", "m1", "manifest.json"), nil},
		{"top-level key", "README", filepath.Join(s.Root(), "README"), nil},
		{"parent", "../escape", "", store.ErrInvalid},
		{"reserved temporary name", "models/.orrery-tmp-123", "", store.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Path(tc.key)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				assert.Empty(t, s.URI(tc.key))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.want, s.URI(tc.key))
		})
	}
}

func TestFileLayout(t *testing.T) {
	s := newTemp(t)
	require.NoError(t, s.Put(t.Context(), "models/m1/manifest.json", strings.NewReader(`{"a":1}`)))

	t.Run("object is a plain readable file", func(t *testing.T) {
		p, err := s.Path("models/m1/manifest.json")
		require.NoError(t, err)
		body, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.Equal(t, `{"a":1}`, string(body))
		info, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o644), info.Mode().Perm())
	})

	t.Run("no temporary files remain", func(t *testing.T) {
		entries, err := os.ReadDir(filepath.Join(s.Root(), "models", "m1"))
		require.NoError(t, err)
		require.Len(t, entries, 1)
		assert.Equal(t, "manifest.json", entries[0].Name())
	})

	t.Run("a leftover temporary file is not listed", func(t *testing.T) {
		leftover := filepath.Join(s.Root(), "models", "m1", ".orrery-tmp-crashed")
		require.NoError(t, os.WriteFile(leftover, []byte("half"), 0o600))
		keys, err := s.List(t.Context(), "")
		require.NoError(t, err)
		assert.Equal(t, []string{"models/m1/manifest.json"}, keys)
	})

	t.Run("a key cannot be both object and directory", func(t *testing.T) {
		err := s.Put(t.Context(), "models/m1", strings.NewReader("x"))
		require.ErrorIs(t, err, store.ErrConflict)
		err = s.Put(t.Context(), "models/m1/manifest.json/inner", strings.NewReader("x"))
		require.ErrorIs(t, err, store.ErrConflict)
	})

	t.Run("delete prunes empty directories", func(t *testing.T) {
		require.NoError(t, s.Put(t.Context(), "tmp/run-1/a/b.bin", strings.NewReader("x")))
		require.NoError(t, s.DeletePrefix(t.Context(), "tmp/"))
		_, err := os.Stat(filepath.Join(s.Root(), "tmp"))
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
}
