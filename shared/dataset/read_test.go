package dataset_test

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/dataset"
)

const (
	htru2Path = "../../events/data/htru2.csv"
	htru2Hash = "02aadab3b4c0165d4704ea493277970b72820ec746c423f4380df44543df4106"
)

func TestReadBrokenInputs(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		want    error
		message []string // substrings the message must contain
	}{
		{"empty file", "testdata/empty.csv", dataset.ErrEmptyFile, []string{"testdata/empty.csv"}},
		{"header only", "testdata/header_only.csv", dataset.ErrNoRows, []string{"header_only.csv", "no data rows"}},
		{"ragged row", "testdata/ragged.csv", dataset.ErrRaggedRow,
			[]string{"dataset: ragged row: testdata/ragged.csv line 7 has 5 fields, header has 9"}},
		{"empty header name", "testdata/empty_name.csv", dataset.ErrBadHeader, []string{"empty_name.csv", "column 2", "empty name"}},
		{"duplicate header name", "testdata/duplicate_name.csv", dataset.ErrBadHeader, []string{`two columns named "a"`, "columns 1 and 3"}},
		{"unsupported extension", "testdata/table.json", dataset.ErrUnsupported, []string{`".json"`, "table.json"}},
		{"no extension", "testdata/README", dataset.ErrUnsupported, []string{"no file extension"}},
		{"missing file", "testdata/absent.csv", os.ErrNotExist, []string{"read testdata/absent.csv"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := dataset.Read(context.Background(), tt.path)
			require.Error(t, err)
			assert.Nil(t, tab)
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
			}
			for _, m := range tt.message {
				assert.Contains(t, err.Error(), m)
			}
		})
	}
}

func TestReadNotParquet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broken.parquet")
	require.NoError(t, os.WriteFile(path, []byte("this is not a parquet file"), 0o644))
	_, err := dataset.Read(context.Background(), path)
	require.Error(t, err)
	assert.ErrorIs(t, err, dataset.ErrUnsupported)
	assert.Contains(t, err.Error(), path+" is not a Parquet file")
}

func TestReadCSVFormats(t *testing.T) {
	t.Run("CRLF, BOM and quotes", func(t *testing.T) {
		tab, err := dataset.Read(context.Background(), "testdata/crlf_bom.csv")
		require.NoError(t, err)
		require.Equal(t, 3, tab.Rows)
		require.Len(t, tab.Columns, 4)
		assert.Equal(t, "id", tab.Columns[0].Name, "the BOM is not part of the first name")
		assert.Equal(t, "name, full", tab.Columns[2].Name)

		flux, ok := tab.Column("flux")
		require.True(t, ok)
		assert.Equal(t, dataset.Numeric, flux.Kind)
		assert.Equal(t, 0.5, flux.Num[0])
		assert.True(t, math.IsNaN(flux.Num[1]))
		assert.Equal(t, 1000.0, flux.Num[2])
		assert.Equal(t, []int{2}, flux.Missing)
		assert.Empty(t, flux.Invalid)

		name, ok := tab.Column("name, full")
		require.True(t, ok)
		assert.Equal(t, dataset.Text, name.Kind)
		assert.Equal(t, []string{"Vela, pulsar", "plain", `say "hi"`}, name.Str)
		assert.Nil(t, name.Num)

		sum := tab.Schema()
		assert.Equal(t, 3, sum.Rows)
		assert.Equal(t, dataset.ColumnSchema{Name: "flux", Kind: dataset.Numeric, Missing: 1, Distinct: 2}, sum.Columns[1])
	})
	t.Run("tab-separated", func(t *testing.T) {
		for _, path := range []string{"testdata/tabs.tsv", "testdata/tabs.tab"} {
			tab, err := dataset.Read(context.Background(), path)
			require.NoError(t, err, path)
			require.Len(t, tab.Columns, 3, path)
			assert.Equal(t, []string{"flux", "snr", "class"}, tab.Names())
			cls, _ := tab.Column("class")
			assert.Equal(t, dataset.Text, cls.Kind)
			assert.Equal(t, "yes", cls.Str[0])
		}
	})
	t.Run("same bytes give the same hash as Read", func(t *testing.T) {
		data, err := os.ReadFile("testdata/tabs.tsv")
		require.NoError(t, err)
		fromReader, err := dataset.ReadCSV(context.Background(), bytes.NewReader(data), "tabs", '\t')
		require.NoError(t, err)
		fromPath, err := dataset.Read(context.Background(), "testdata/tabs.tsv")
		require.NoError(t, err)
		assert.Equal(t, fromPath.Hash, fromReader.Hash)
		assert.Len(t, fromReader.Hash, 64)
		assert.Equal(t, "tabs", fromReader.Source)
	})
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := dataset.Read(ctx, "testdata/tabs.tsv")
		assert.ErrorIs(t, err, context.Canceled)
	})
}

func TestTypeInference(t *testing.T) {
	const data = "num,mostly,text,blank,markers,nan\n" +
		"1,1,a,,NA,NaN\n" +
		"2,2,b,,N/A,inf\n" +
		"3,x,3,,null,-Inf\n" +
		"4,4,d,,NULL,1\n" +
		"5,5,e,,None,2\n" +
		"6,6,f,,?,3\n"
	tab, err := dataset.ReadCSV(context.Background(), strings.NewReader(data), "inline.csv", ',')
	require.NoError(t, err)
	tests := []struct {
		column  string
		kind    dataset.Kind
		missing []int
		invalid []dataset.Cell
	}{
		{"num", dataset.Numeric, nil, nil},
		{"mostly", dataset.Numeric, nil, []dataset.Cell{{Row: 3, Value: "x"}}},
		{"text", dataset.Text, nil, nil},
		{"blank", dataset.Numeric, []int{1, 2, 3, 4, 5, 6}, nil},
		{"markers", dataset.Numeric, []int{1, 2, 3, 4, 5, 6}, nil},
		{"nan", dataset.Numeric, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.column, func(t *testing.T) {
			c, ok := tab.Column(tt.column)
			require.True(t, ok)
			assert.Equal(t, tt.kind, c.Kind)
			assert.Equal(t, tt.missing, c.Missing)
			assert.Equal(t, tt.invalid, c.Invalid)
		})
	}
	mostly, _ := tab.Column("mostly")
	assert.True(t, math.IsNaN(mostly.Num[2]), "an invalid cell is NaN")
	text, _ := tab.Column("text")
	assert.Equal(t, "3", text.Str[2], "numbers in a text column keep their raw string")
	nan, _ := tab.Column("nan")
	assert.True(t, math.IsNaN(nan.Num[0]))
	assert.True(t, math.IsInf(nan.Num[1], 1))
	assert.True(t, math.IsInf(nan.Num[2], -1))
}

// TestReadHTRU2 reads the bundled sample; how fast is BenchmarkReadHTRU2's
// business (scripts/bench.sh), not a timed assertion's.
func TestReadHTRU2(t *testing.T) {
	tab, err := dataset.Read(context.Background(), htru2Path)
	require.NoError(t, err)
	assert.Equal(t, 17898, tab.Rows)
	assert.Len(t, tab.Columns, 9)
	assert.Equal(t, htru2Hash, tab.Hash)
	assert.Equal(t, htru2Path, tab.Source)
	for _, c := range tab.Columns {
		assert.Equal(t, dataset.Numeric, c.Kind, c.Name)
		assert.Empty(t, c.Missing, c.Name)
		assert.Empty(t, c.Invalid, c.Name)
		assert.Len(t, c.Num, 17898, c.Name)
	}
	first, _ := tab.Column("meanprof")
	assert.Equal(t, 140.5625, first.Num[0])
}

// observation is one row of the Parquet round-trip fixture; pointers make the
// columns optional so that nulls can be written.
type observation struct {
	ID    string   `parquet:"id,optional"`
	Flux  *float64 `parquet:"flux,optional"`
	Count *int64   `parquet:"count,optional"`
	Ratio float32  `parquet:"ratio"`
	Small int32    `parquet:"small"`
	Flag  bool     `parquet:"flag"`
	Class string   `parquet:"class"`
}

func TestParquetRoundTrip(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	n := func(v int64) *int64 { return &v }
	rows := []observation{
		{ID: "J0437", Flux: f(0.5), Count: n(3), Ratio: 0.25, Small: -2, Flag: true, Class: "pulsar"},
		{ID: "", Flux: nil, Count: n(4), Ratio: 1.5, Small: 7, Flag: false, Class: "rfi"},
		{ID: "B1919", Flux: f(-2.75), Count: nil, Ratio: 2, Small: 0, Flag: true, Class: "rfi"},
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "obs.parquet")
	out, err := os.Create(path)
	require.NoError(t, err)
	w := parquet.NewGenericWriter[observation](out)
	_, err = w.Write(rows)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, out.Close())

	fromParquet, err := dataset.Read(context.Background(), path)
	require.NoError(t, err)

	const csvText = "id,flux,count,ratio,small,flag,class\n" +
		"J0437,0.5,3,0.25,-2,1,pulsar\n" +
		",,4,1.5,7,0,rfi\n" +
		"B1919,-2.75,NA,2,0,1,rfi\n"
	fromCSV, err := dataset.ReadCSV(context.Background(), strings.NewReader(csvText), "obs.csv", ',')
	require.NoError(t, err)

	assert.Equal(t, path, fromParquet.Source)
	assert.Len(t, fromParquet.Hash, 64)
	assert.NotEqual(t, fromCSV.Hash, fromParquet.Hash)
	requireSameTable(t, fromCSV, fromParquet)

	flux, _ := fromParquet.Column("flux")
	assert.Equal(t, []int{2}, flux.Missing, "a null is missing")
	id, _ := fromParquet.Column("id")
	assert.Equal(t, dataset.Text, id.Kind)
	assert.Equal(t, []int{2}, id.Missing, "an empty string is missing")
	flag, _ := fromParquet.Column("flag")
	assert.Equal(t, []float64{1, 0, 1}, flag.Num, "booleans read as 0/1")

	ds, err := fromParquet.Select(dataset.SelectOptions{Target: "class"})
	require.NoError(t, err)
	assert.Equal(t, []string{"rfi", "pulsar"}, ds.Classes, "the minority class is positive")
	assert.Equal(t, []string{"id"}, ds.Skipped)
	assert.Equal(t, []string{"flux", "count", "ratio", "small", "flag"}, ds.FeatureNames)

	t.Run("ReadParquet from a reader", func(t *testing.T) {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		tab, err := dataset.ReadParquet(context.Background(), bytes.NewReader(data), int64(len(data)), "memory")
		require.NoError(t, err)
		assert.Equal(t, fromParquet.Hash, tab.Hash)
		requireSameTable(t, fromParquet, tab)
	})
	t.Run("empty parquet file", func(t *testing.T) {
		_, err := dataset.ReadParquet(context.Background(), bytes.NewReader(nil), 0, "nothing.parquet")
		assert.ErrorIs(t, err, dataset.ErrEmptyFile)
	})
	t.Run("parquet without rows", func(t *testing.T) {
		var buf bytes.Buffer
		w := parquet.NewGenericWriter[observation](&buf)
		require.NoError(t, w.Close())
		_, err := dataset.ReadParquet(context.Background(), bytes.NewReader(buf.Bytes()), int64(buf.Len()), "norows.parquet")
		assert.ErrorIs(t, err, dataset.ErrNoRows)
		assert.Contains(t, err.Error(), "norows.parquet")
	})
}

// requireSameTable compares two tables cell by cell (NaN equals NaN), leaving
// out Source and Hash.
func requireSameTable(t *testing.T, want, got *dataset.Table) {
	t.Helper()
	require.Equal(t, want.Rows, got.Rows)
	require.Equal(t, want.Names(), got.Names())
	for j, w := range want.Columns {
		g := got.Columns[j]
		assert.Equal(t, w.Kind, g.Kind, w.Name)
		assert.Equal(t, w.Missing, g.Missing, w.Name)
		assert.Equal(t, w.Invalid, g.Invalid, w.Name)
		assert.Equal(t, w.Str, g.Str, w.Name)
		require.Len(t, g.Num, len(w.Num), w.Name)
		for i := range w.Num {
			if math.IsNaN(w.Num[i]) {
				assert.True(t, math.IsNaN(g.Num[i]), "%s row %d", w.Name, i+1)
				continue
			}
			assert.Equal(t, w.Num[i], g.Num[i], "%s row %d", w.Name, i+1)
		}
	}
	assert.Equal(t, want.Schema(), got.Schema())
}

func BenchmarkReadHTRU2(b *testing.B) {
	data, err := os.ReadFile(htru2Path)
	require.NoError(b, err)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := dataset.ReadCSV(context.Background(), bytes.NewReader(data), "htru2.csv", ','); err != nil {
			b.Fatal(err)
		}
	}
}
