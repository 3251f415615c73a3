package nn

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/fault"
)

// TestBadModelDirectoryCorpus: model directories damaged the ways a disk,
// a copy or a hand edit damages them — the bad-input corpus's model
// directory part. Each is refused by LoadDir with a client-side code
// (invalid, or data changed for a checksum mismatch) — a missing file with
// fs.ErrNotExist, which the stores map to not found —, an error naming the
// file (and the field or line) at fault, and the directory left as it was.
func TestBadModelDirectoryCorpus(t *testing.T) {
	// resum rewrites SHA256SUMS to match the files, so that only the damage
	// under test remains.
	resum := func(t *testing.T, dir string) {
		names, err := os.ReadDir(dir)
		require.NoError(t, err)
		var lines []string
		for _, e := range names {
			if e.Name() == SumsFile {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			require.NoError(t, err)
			s := sha256.Sum256(b)
			lines = append(lines, hex.EncodeToString(s[:])+"  "+e.Name())
		}
		sort.Strings(lines)
		require.NoError(t, os.WriteFile(filepath.Join(dir, SumsFile), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	}
	editManifest := func(edit func(m map[string]any)) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
			require.NoError(t, err)
			var m map[string]any
			require.NoError(t, json.Unmarshal(b, &m))
			edit(m)
			out, err := json.Marshal(m)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, ManifestFile), out, 0o644))
			resum(t, dir)
		}
	}
	write := func(name, content string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
		}
	}
	tests := []struct {
		kind   string
		damage func(t *testing.T, dir string)
		code   fault.Code // "": a missing file, fs.ErrNotExist
		want   []string   // texts the error holds: the file, the field or line
	}{
		{"SHA256SUMS missing", func(t *testing.T, dir string) { require.NoError(t, os.Remove(filepath.Join(dir, SumsFile))) },
			"", []string{SumsFile}},
		{"SHA256SUMS malformed", write(SumsFile, "not a checksum line\n"), fault.Invalid, []string{SumsFile, "line 1"}},
		{"SHA256SUMS without the weights", func(t *testing.T, dir string) {
			b, err := os.ReadFile(filepath.Join(dir, SumsFile))
			require.NoError(t, err)
			var keep []string
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				if !strings.HasSuffix(l, WeightsFile) {
					keep = append(keep, l)
				}
			}
			require.NoError(t, os.WriteFile(filepath.Join(dir, SumsFile), []byte(strings.Join(keep, "\n")+"\n"), 0o644))
		}, fault.Invalid, []string{SumsFile, WeightsFile}},
		{"weights deleted", func(t *testing.T, dir string) { require.NoError(t, os.Remove(filepath.Join(dir, WeightsFile))) },
			"", []string{WeightsFile}},
		{"weights bit flipped", func(t *testing.T, dir string) {
			p := filepath.Join(dir, WeightsFile)
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			b[len(b)-1] ^= 1
			require.NoError(t, os.WriteFile(p, b, 0o644))
		}, fault.DataChanged, []string{WeightsFile, "SHA-256"}},
		{"manifest truncated, sums rewritten", func(t *testing.T, dir string) {
			p := filepath.Join(dir, ManifestFile)
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, b[:len(b)/2], 0o644))
			resum(t, dir)
		}, fault.Invalid, []string{ManifestFile}},
		{"format_version from the future", editManifest(func(m map[string]any) { m["format_version"] = 99 }),
			fault.Invalid, []string{"format_version 99"}},
		{"manifest lists a path outside", editManifest(func(m map[string]any) {
			m["files"].(map[string]any)["../escape"] = strings.Repeat("0", 64)
		}), fault.Invalid, []string{`"../escape"`}},
		{"a feature fewer than the weights", editManifest(func(m map[string]any) {
			f := m["features"].([]any)
			m["features"] = f[:len(f)-1]
		}), fault.Invalid, []string{"feature"}},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, SaveDir(dir, testModel(t)))
			tc.damage(t, dir)
			before := snapshot(t, dir)
			_, err := LoadDir(dir)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			if tc.code == "" {
				assert.ErrorIs(t, err, fs.ErrNotExist)
			} else {
				assert.Equal(t, tc.code, fault.CodeOf(err), "%v", err)
			}
			assert.Equal(t, before, snapshot(t, dir), "loading wrote nothing")
		})
	}
}

// snapshot is every file of dir with its SHA-256.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		out[e.Name()] = fmt.Sprintf("%x", sha256.Sum256(b))
	}
	return out
}
