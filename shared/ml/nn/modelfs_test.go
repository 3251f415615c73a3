package nn

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mapFS turns EncodeDir's files into an in-memory directory.
func mapFS(files []File) fstest.MapFS {
	fsys := fstest.MapFS{}
	for _, f := range files {
		fsys[f.Name] = &fstest.MapFile{Data: bytes.Clone(f.Data)}
	}
	return fsys
}

// TestEncodeDirLoadFSRoundTrip: the files EncodeDir returns load back through
// LoadFS without touching the disk, to the same model, and are byte for byte
// what SaveDir writes.
func TestEncodeDirLoadFSRoundTrip(t *testing.T) {
	m := testModel(t)
	files, err := EncodeDir(m)
	require.NoError(t, err)
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name
	}
	assert.Equal(t, []string{WeightsFile, ManifestFile, SumsFile}, names, "SHA256SUMS is written last")
	assert.Equal(t, hexSHA256(files[0].Data), m.Manifest.Files[WeightsFile], "EncodeDir fills in the manifest")

	got, err := LoadFS(mapFS(files))
	require.NoError(t, err)
	assert.Equal(t, m.Manifest.Files, got.Manifest.Files)
	x := rawRows(40)
	want, err := m.PredictProba(context.Background(), x, 40)
	require.NoError(t, err)
	have, err := got.PredictProba(context.Background(), x, 40)
	require.NoError(t, err)
	require.Equal(t, want, have)

	dir := filepath.Join(t.TempDir(), "m")
	require.NoError(t, SaveDir(dir, m))
	for _, f := range files {
		onDisk, err := os.ReadFile(filepath.Join(dir, f.Name))
		require.NoError(t, err)
		assert.Equal(t, f.Data, onDisk, "SaveDir writes EncodeDir's %s", f.Name)
	}
}

func TestEncodeDirRefusesInvalidModels(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Model)
	}{
		{"no network", func(m *Model) { m.Net = nil }},
		{"classes", func(m *Model) { m.Manifest.Classes = []string{"only"} }},
		{"threshold", func(m *Model) { m.Manifest.Threshold = 2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testModel(t)
			tc.edit(m)
			before := m.Manifest
			files, err := EncodeDir(m)
			require.ErrorIs(t, err, ErrInvalidModel)
			assert.Nil(t, files)
			assert.Equal(t, before, m.Manifest, "a refused model is left as it was")
		})
	}
}

// TestLoadFSNamesTheBadFile flips one byte of each file, or leaves one out,
// and expects an error naming that file.
func TestLoadFSNamesTheBadFile(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		change     func(fstest.MapFS, string)
		want       error
	}{
		{"weights corrupted", WeightsFile, flipByte, ErrChecksum},
		{"manifest corrupted", ManifestFile, flipByte, ErrChecksum},
		{"weights missing", WeightsFile, func(fsys fstest.MapFS, name string) { delete(fsys, name) }, fs.ErrNotExist},
		{"sums missing", SumsFile, func(fsys fstest.MapFS, name string) { delete(fsys, name) }, fs.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, err := EncodeDir(testModel(t))
			require.NoError(t, err)
			fsys := mapFS(files)
			tc.change(fsys, tc.file)
			_, err = LoadFS(fsys)
			require.ErrorIs(t, err, tc.want)
			assert.ErrorContains(t, err, tc.file)
		})
	}
}

func flipByte(fsys fstest.MapFS, name string) {
	data := fsys[name].Data
	data[len(data)/2] ^= 0x01
}
