package parquetfits

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"github.com/orrery-ml/orrery/shared/dataset"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParquetColumnsDirect writes numeric columns of every physical type
// the direct reader takes, with nulls, and checks each cell and the missing
// rows; a boolean column sends the file to the row-wise reader, which must
// read the same values.
func TestParquetColumnsDirect(t *testing.T) {
	const rows = 50000
	for _, withBool := range []bool{false, true} {
		cols := []dataset.WriteColumn{{Name: "d", Type: dataset.Float64}, {Name: "f", Type: dataset.Float32}, {Name: "i", Type: dataset.Int64}, {Name: "j", Type: dataset.Int32}}
		if withBool {
			cols = append(cols, dataset.WriteColumn{Name: "b", Type: dataset.Bool})
		}
		vals := make([]dataset.Values, len(cols))
		for j := range vals {
			if cols[j].Type == dataset.Float64 || cols[j].Type == dataset.Float32 {
				vals[j].F = make([]float64, rows)
			} else {
				vals[j].I = make([]int64, rows)
			}
		}
		for i := range rows {
			vals[0].F[i] = float64(i) * 0.25
			if i%7 == 0 {
				vals[0].F[i] = math.NaN()
			}
			vals[1].F[i] = float64(float32(i) / 3)
			vals[2].I[i] = int64(i) - 1000
			vals[3].I[i] = int64(i % 1000)
			if withBool {
				vals[4].I[i] = int64(i % 2)
			}
		}
		var buf bytes.Buffer
		w, err := dataset.NewTableWriter(&buf, dataset.FormatParquet, cols, rows)
		require.NoError(t, err)
		for lo := 0; lo < rows; lo += 10000 {
			batch := make([]dataset.Values, len(cols))
			for j := range vals {
				if vals[j].F != nil {
					batch[j].F = vals[j].F[lo : lo+10000]
				} else {
					batch[j].I = vals[j].I[lo : lo+10000]
				}
			}
			require.NoError(t, w.Write(context.Background(), batch))
		}
		require.NoError(t, w.Close())
		tb, err := dataset.ReadBytes(context.Background(), buf.Bytes(), "t.parquet", dataset.FormatParquet, dataset.ReadOptions{})
		require.NoError(t, err)
		require.Equal(t, rows, tb.Rows)
		var missing []int
		for i := range rows {
			if i%7 == 0 {
				missing = append(missing, i+1)
				require.True(t, math.IsNaN(tb.Columns[0].Num[i]))
			} else {
				require.Equal(t, float64(i)*0.25, tb.Columns[0].Num[i])
			}
			require.Equal(t, float64(float32(i)/3), tb.Columns[1].Num[i])
			require.Equal(t, float64(i-1000), tb.Columns[2].Num[i])
			require.Equal(t, float64(i%1000), tb.Columns[3].Num[i])
			if withBool {
				require.Equal(t, float64(i%2), tb.Columns[4].Num[i])
			}
		}
		assert.Equal(t, missing, tb.Columns[0].Missing)
		for j := 1; j < len(cols); j++ {
			assert.Empty(t, tb.Columns[j].Missing, "column %s", cols[j].Name)
		}
		// dataset.Read takes a Parquet file through its descriptor, not its bytes:
		// the same table and hash.
		path := filepath.Join(t.TempDir(), "t.parquet")
		require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
		fromFile, err := dataset.Read(context.Background(), path)
		require.NoError(t, err)
		sum := sha256.Sum256(buf.Bytes())
		assert.Equal(t, hex.EncodeToString(sum[:]), fromFile.Hash)
		assert.Equal(t, tb.Hash, fromFile.Hash)
		require.Len(t, fromFile.Columns, len(tb.Columns))
		for j, c := range tb.Columns {
			got := fromFile.Columns[j]
			assert.Equal(t, c.Name, got.Name)
			assert.Equal(t, c.Missing, got.Missing, "column %s", c.Name)
			require.Len(t, got.Num, len(c.Num))
			for i, v := range c.Num {
				if math.Float64bits(v) != math.Float64bits(got.Num[i]) {
					require.Failf(t, "cell differs", "column %s row %d: %v from bytes, %v from the file", c.Name, i+1, v, got.Num[i])
				}
			}
		}
	}
}
