package dataset_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/dataset"
	// The Parquet and FITS readers, for the tests of Read and the writers.
	_ "github.com/orrery-ml/orrery/shared/dataset/parquetfits"
)

// TestBinaryFormatsRegistered: with parquetfits linked, a Parquet table
// written by NewTableWriter reads back through Read.
func TestBinaryFormatsRegistered(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.parquet")
	w, err := dataset.CreateFile(path, []dataset.WriteColumn{{Name: "x", Type: dataset.Float64}}, 2)
	require.NoError(t, err)
	require.NoError(t, w.Write(context.Background(), []dataset.Values{{F: []float64{1, 2}}}))
	require.NoError(t, w.Close())
	_, err = os.Stat(path)
	require.NoError(t, err)
	tab, err := dataset.Read(context.Background(), path)
	require.NoError(t, err)
	assert.Equal(t, 2, tab.Rows)
	assert.Equal(t, []float64{1, 2}, tab.Columns[0].Num)
}
