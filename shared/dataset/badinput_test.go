package dataset_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/dataset"
)

// TestReadSniffsSeparators: a .csv whose fields are separated by tabs, ';'
// or '|' (and a .tsv with commas) is read with the separator its header
// uses, instead of as one column named "a\tb\t...".
func TestReadSniffsSeparators(t *testing.T) {
	for _, tc := range []struct{ name, content string }{
		{"tabs.csv", "a\tb\tclass\n1\t2\tx\n3\t4\ty\n"},
		{"semicolons.csv", "a;b;class\n1;2;x\n3;4;y\n"},
		{"pipes.csv", "a|b|class\n1|2|x\n3|4|y\n"},
		{"commas.tsv", "a,b,class\n1,2,x\n3,4,y\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), tc.name)
			require.NoError(t, os.WriteFile(p, []byte(tc.content), 0o644))
			tab, err := dataset.Read(context.Background(), p)
			require.NoError(t, err)
			assert.Equal(t, []string{"a", "b", "class"}, tab.Names())
			assert.Equal(t, 2, tab.Rows)
		})
	}
	// A real one-column file stays one column.
	p := filepath.Join(t.TempDir(), "one.csv")
	require.NoError(t, os.WriteFile(p, []byte("a\n1\n2\n"), 0o644))
	tab, err := dataset.Read(context.Background(), p)
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, tab.Names())
}

// TestReadNamesBadBytes: invalid UTF-8 is refused naming the line and
// byte (the header's as a bad header), and a Parquet file too short to
// hold its magic says so instead of a reader's "negative offset".
func TestReadNamesBadBytes(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		content []byte
		want    error
		msg     string
	}{
		{"latin1-header.csv", []byte("a,temp\xe9rature,class\n1,2,x\n"), dataset.ErrBadHeader, "the header (line 1) is not valid UTF-8 at byte 6 (0xe9)"},
		{"latin1-row.csv", []byte("a,b,class\n1,2,caf\xe9\n"), dataset.ErrUnsupported, "line 2 is not valid UTF-8"},
		{"eight.parquet", []byte("PAR1PAR1"), dataset.ErrUnsupported, "8 bytes, too short to be Parquet"},
		{"csv.parquet", []byte("a,b,class\n1,2,x\n"), dataset.ErrUnsupported, "not a Parquet file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			require.NoError(t, os.WriteFile(p, tc.content, 0o644))
			_, err := dataset.Read(context.Background(), p)
			require.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), tc.msg)
			assert.Contains(t, err.Error(), p)
		})
	}
}
