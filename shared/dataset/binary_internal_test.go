package dataset

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNoBinaryFormats: without parquetfits registered, the Parquet and
// FITS entry points answer ErrNoBinaryFormats, and CSV still reads. The
// test swaps the registration, so it must not run in parallel.
func TestNoBinaryFormats(t *testing.T) {
	saved := registered
	registered = nil
	t.Cleanup(func() { registered = saved })
	ctx := context.Background()
	_, err := ReadParquet(ctx, bytes.NewReader([]byte("PAR1PAR1")), 8, "x.parquet")
	require.ErrorIs(t, err, ErrNoBinaryFormats)
	_, err = ReadBytes(ctx, []byte("SIMPLE  =                    T"), "x.fits", FormatFITS, ReadOptions{})
	require.ErrorIs(t, err, ErrNoBinaryFormats)
	_, err = OpenParquetStream(ctx, filepath.Join(t.TempDir(), "x.parquet"), SelectOptions{Target: "y"})
	require.ErrorIs(t, err, ErrNoBinaryFormats)
	_, err = NewTableWriter(&bytes.Buffer{}, FormatParquet, []WriteColumn{{Name: "x"}}, 1)
	require.ErrorIs(t, err, ErrNoBinaryFormats)
	tab, err := ReadBytes(ctx, []byte("a,b\n1,2\n"), "x.csv", FormatCSV, ReadOptions{})
	require.NoError(t, err)
	require.Equal(t, 1, tab.Rows)
}
