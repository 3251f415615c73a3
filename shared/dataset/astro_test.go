package dataset_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/dataset"
)

// The astropy-written samples in events/data and the CSV of the values
// astropy reads back from the FITS file (scripts/gen_astro_fixtures.py).
const (
	sampleFITS    = "../../events/data/htru2-sample.fits"
	sampleVOTable = "../../events/data/htru2-sample.vot"
	sampleCSV     = "../../events/data/htru2-sample.csv"
)

// sameCells asserts that two tables hold the same columns and cells, NaN
// equal to NaN, missing rows equal.
func sameCells(t *testing.T, want, got *dataset.Table) {
	t.Helper()
	require.Equal(t, want.Names(), got.Names())
	require.Equal(t, want.Rows, got.Rows)
	for j, w := range want.Columns {
		g := got.Columns[j]
		assert.Equal(t, w.Kind, g.Kind, w.Name)
		assert.Equal(t, w.Missing, g.Missing, "missing rows of %s", w.Name)
		for i := range w.Num {
			a, b := w.Num[i], g.Num[i]
			if a != b && !(math.IsNaN(a) && math.IsNaN(b)) {
				t.Fatalf("%s row %d: want %v, got %v", w.Name, i+1, a, b)
			}
		}
		assert.Equal(t, w.Str, g.Str, w.Name)
	}
}

func TestReadAstropyFITSAndVOTable(t *testing.T) {
	ctx := context.Background()
	want, err := dataset.Read(ctx, sampleCSV)
	require.NoError(t, err)
	raw, err := os.ReadFile(sampleFITS)
	require.NoError(t, err)
	gz := filepath.Join(t.TempDir(), "htru2-sample.fits.gz")
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, err = zw.Write(raw)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.NoError(t, os.WriteFile(gz, zb.Bytes(), 0o600))

	tests := []struct {
		name, path, hdu string
	}{
		{"FITS, first table HDU", sampleFITS, "1 CANDIDATES"},
		{"FITS, HDU by number", sampleFITS + "[1]", "1 CANDIDATES"},
		{"FITS, HDU by EXTNAME any case", sampleFITS + "[candidates]", "1 CANDIDATES"},
		{"FITS gzip-compressed", gz, "1 CANDIDATES"},
		{"VOTable TABLEDATA", sampleVOTable, "0"},
		{"VOTable, TABLE by index", sampleVOTable + "[0]", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dataset.Read(ctx, tt.path)
			require.NoError(t, err)
			sameCells(t, want, got)
			assert.Equal(t, tt.hdu, got.HDU)
			assert.Equal(t, tt.path, got.Source)
			mean, _ := got.Column("mean_ip")
			assert.Equal(t, "mJy", mean.Unit, "TUNIT / unit is kept")
			assert.Equal(t, "mJy", got.Schema().Columns[2].Unit)
			nobs, _ := got.Column("n_obs")
			assert.NotEmpty(t, nobs.Missing, "TNULL / empty TD cells are missing")
			kurt, _ := got.Column("kurt_ip")
			assert.NotEmpty(t, kurt.Missing, "NaN floats are missing")
			flags, _ := got.Column("flags")
			assert.Equal(t, 40000.0, flags.Num[0], "unsigned 16-bit: TZERO 32768 applied")
			sd, _ := got.Column("sd_ip")
			assert.InDelta(t, 55.68, sd.Num[0], 1e-9, "TSCAL/TZERO applied")
		})
	}
	t.Run("the hash is the file's bytes", func(t *testing.T) {
		plain, err := dataset.Read(ctx, sampleFITS)
		require.NoError(t, err)
		compressed, err := dataset.Read(ctx, gz)
		require.NoError(t, err)
		assert.NotEqual(t, plain.Hash, compressed.Hash)
		sel, err := dataset.Read(ctx, sampleFITS+"[1]")
		require.NoError(t, err)
		assert.Equal(t, plain.Hash, sel.Hash)
	})
	t.Run("another table HDU", func(t *testing.T) {
		got, err := dataset.Read(ctx, sampleFITS+"[SUMMARY]")
		require.NoError(t, err)
		assert.Equal(t, []string{"class", "rows"}, got.Names())
		assert.Equal(t, 2, got.Rows)
		assert.Equal(t, "2 SUMMARY", got.HDU)
	})
}

func TestReadFITSSelectorErrors(t *testing.T) {
	tests := []struct {
		path    string
		want    error
		message string
	}{
		{sampleFITS + "[0]", dataset.ErrUnsupported, "HDU 0 of " + sampleFITS + "[0] is an IMAGE, not a table (HDUs: 0 IMAGE PRIMARY, 1 BINTABLE CANDIDATES, 2 BINTABLE SUMMARY)"},
		{sampleFITS + "[7]", dataset.ErrMissingColumn, "has no HDU 7"},
		{sampleFITS + "[EVENTS]", dataset.ErrMissingColumn, `has no HDU named "EVENTS"`},
		{sampleVOTable + "[3]", dataset.ErrMissingColumn, `has no TABLE "3" (tables: 0)`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			_, err := dataset.Read(context.Background(), tt.path)
			require.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), tt.message)
		})
	}
	_, err := dataset.ReadBytes(context.Background(), []byte("a\n1\n"), "x.csv", dataset.FormatCSV, dataset.ReadOptions{HDU: "1"})
	require.ErrorIs(t, err, dataset.ErrUnsupported, "a selector on a one-table format is refused")
}

func TestFormatOfAndSelectors(t *testing.T) {
	tests := []struct {
		path      string
		format    dataset.Format
		file, hdu string
	}{
		{"a.csv", dataset.FormatCSV, "a.csv", ""},
		{"a.TAB", dataset.FormatTSV, "a.TAB", ""},
		{"s3://b/k/a.parquet", dataset.FormatParquet, "s3://b/k/a.parquet", ""},
		{"cat.fits", dataset.FormatFITS, "cat.fits", ""},
		{"cat.FIT.gz[2]", dataset.FormatFITS, "cat.FIT.gz", "2"},
		{"cat.fts[EVENTS]", dataset.FormatFITS, "cat.fts", "EVENTS"},
		{"cone.vot[results]", dataset.FormatVOTable, "cone.vot", "results"},
		{"cone.xml", dataset.FormatVOTable, "cone.xml", ""},
		{"odd[1].csv", dataset.FormatCSV, "odd[1].csv", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			f, err := dataset.FormatOf(tt.path)
			require.NoError(t, err)
			assert.Equal(t, tt.format, f)
			file, hdu := dataset.SplitHDU(tt.path)
			assert.Equal(t, tt.file, file)
			assert.Equal(t, tt.hdu, hdu)
			assert.Equal(t, tt.path, dataset.WithHDU(file, hdu))
		})
	}
	_, err := dataset.FormatOf("table.xlsx")
	require.ErrorIs(t, err, dataset.ErrUnsupported)
	assert.Contains(t, err.Error(), ".fits")
}

// binary2 builds a VOTable document with a BINARY2 stream.
func binary2(fields string, stream []byte) []byte {
	return []byte(`<?xml version="1.0" encoding="utf-8"?>
<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">
 <RESOURCE><TABLE name="detections">` + fields + `
  <DATA><BINARY2><STREAM encoding="base64">` + base64.StdEncoding.EncodeToString(stream) + `</STREAM></BINARY2></DATA>
 </TABLE></RESOURCE>
</VOTABLE>`)
}

func TestVOTableBinary2Nulls(t *testing.T) {
	fields := `
  <FIELD name="id" datatype="short"><VALUES null="-1"/></FIELD>
  <FIELD name="flux" datatype="double" unit="mJy"/>
  <FIELD name="ok" datatype="boolean"/>
  <FIELD name="band" datatype="char" arraysize="*"/>
  <FIELD name="pos" datatype="float" arraysize="2"/>`
	var b bytes.Buffer
	row := func(flags byte, id int16, flux float64, ok byte, band string, x, y float32) {
		b.WriteByte(flags)
		_ = binary.Write(&b, binary.BigEndian, id)
		_ = binary.Write(&b, binary.BigEndian, flux)
		b.WriteByte(ok)
		_ = binary.Write(&b, binary.BigEndian, uint32(len(band)))
		b.WriteString(band)
		_ = binary.Write(&b, binary.BigEndian, x)
		_ = binary.Write(&b, binary.BigEndian, y)
	}
	row(0, 7, 1.5, 'T', "g", 1, 2)
	row(0x40, 8, 0, 'F', "r", 3, 4)                         // flux flagged null
	row(0, -1, math.NaN(), '?', "", 5, float32(math.NaN())) // VALUES null, NaN, boolean null, empty string
	row(0x08, 9, 2.5, 'T', "i", 0, 0)                       // pos flagged null (fifth column)
	tab, err := dataset.ReadBytes(context.Background(), binary2(fields, b.Bytes()), "det.vot", dataset.FormatVOTable, dataset.ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"id", "flux", "ok", "band", "pos_0", "pos_1"}, tab.Names())
	assert.Equal(t, 4, tab.Rows)
	assert.Equal(t, "0 detections", tab.HDU)
	col := func(n string) *dataset.Column { c, _ := tab.Column(n); return c }
	assert.Equal(t, []int{3}, col("id").Missing)
	assert.Equal(t, []int{2, 3}, col("flux").Missing)
	assert.Equal(t, "mJy", col("flux").Unit)
	assert.Equal(t, []int{3}, col("ok").Missing)
	assert.Equal(t, []float64{1, 0}, col("ok").Num[:2])
	assert.Equal(t, []int{3}, col("band").Missing)
	assert.Equal(t, []string{"g", "r", "", "i"}, col("band").Str)
	assert.Equal(t, []int{4}, col("pos_0").Missing)
	assert.Equal(t, []int{3, 4}, col("pos_1").Missing)
	assert.Equal(t, 5.0, col("pos_0").Num[2])
}

func TestVOTableRefusals(t *testing.T) {
	tests := []struct {
		name, doc, message string
		want               error
	}{
		{"complex", `<VOTABLE><RESOURCE><TABLE><FIELD name="z" datatype="doubleComplex"/><FIELD name="v" datatype="int" arraysize="*"/>
			<DATA><TABLEDATA><TR><TD>1 2</TD><TD>1</TD></TR></TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>`,
			`FIELDs "z" (complex numbers), "v" (a variable-length array) cannot be read`, dataset.ErrUnsupported},
		{"remote stream", `<VOTABLE><RESOURCE><TABLE><FIELD name="a" datatype="int"/>
			<DATA><BINARY2><STREAM href="http://example.org/x.bin"/></BINARY2></DATA></TABLE></RESOURCE></VOTABLE>`,
			"refers to remote data", dataset.ErrUnsupported},
		{"not a VOTable", `<html><body><TABLE></TABLE></body></html>`, "not a VOTable", dataset.ErrUnsupported},
		{"ragged TABLEDATA", `<VOTABLE><RESOURCE><TABLE><FIELD name="a" datatype="int"/><FIELD name="b" datatype="int"/>
			<DATA><TABLEDATA><TR><TD>1</TD><TD>2</TD></TR><TR><TD>3</TD></TR></TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>`,
			"row 2 has 1 TD cells, the table has 2 FIELDs", dataset.ErrRaggedRow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dataset.ReadBytes(context.Background(), []byte(tt.doc), "t.vot", dataset.FormatVOTable, dataset.ReadOptions{})
			require.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), tt.message)
		})
	}
}

func TestVOTableTableDataValues(t *testing.T) {
	doc := `<VOTABLE><RESOURCE><TABLE ID="t1"><FIELD name="n" datatype="int"><VALUES null="-99"/></FIELD>
		<FIELD name="h" datatype="short"/><FIELD name="f" datatype="boolean"/><FIELD name="s" datatype="char" arraysize="8"/>
		<FIELD name="x" datatype="double"/>
		<DATA><TABLEDATA>
		<TR><TD>-99</TD><TD>0xffff</TD><TD>true</TD><TD> M31 </TD><TD>+Inf</TD></TR>
		<TR><TD>4</TD><TD>12</TD><TD>F</TD><TD/><TD>abc</TD></TR>
		</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>`
	tab, err := dataset.ReadBytes(context.Background(), []byte(doc), "t.vot", dataset.FormatVOTable, dataset.ReadOptions{HDU: "t1"})
	require.NoError(t, err)
	col := func(n string) *dataset.Column { c, _ := tab.Column(n); return c }
	assert.Equal(t, []int{1}, col("n").Missing)
	assert.Equal(t, []float64{-1, 12}, col("h").Num, "hexadecimal is the datatype's bits")
	assert.Equal(t, []float64{1, 0}, col("f").Num)
	assert.Equal(t, "M31", col("s").Str[0])
	assert.Equal(t, []int{2}, col("s").Missing)
	assert.True(t, math.IsInf(col("x").Num[0], 1))
	assert.Equal(t, []dataset.Cell{{Row: 2, Value: "abc"}}, col("x").Invalid)
}

func TestTableWritersRoundTrip(t *testing.T) {
	cols := []dataset.WriteColumn{
		{Name: "z_id", Type: dataset.Int64}, {Name: "mag", Type: dataset.Float64, Unit: "mag"},
		{Name: "flux", Type: dataset.Float32}, {Name: "good", Type: dataset.Bool},
		{Name: "band", Type: dataset.String, Width: 4}, {Name: "n", Type: dataset.Int32},
	}
	batches := [][]dataset.Values{
		{{I: []int64{10, 11}}, {F: []float64{19.25, math.NaN()}}, {F: []float64{0.5, 1.5}}, {I: []int64{1, 0}},
			{S: []string{"g", "r,i"}}, {I: []int64{-3, 4}}},
		{{I: []int64{12}}, {F: []float64{21}}, {F: []float64{2.5}}, {I: []int64{1}}, {S: []string{"z"}}, {I: []int64{5}}},
	}
	dir := t.TempDir()
	for _, name := range []string{"t.csv", "t.tsv", "t.parquet", "t.fits", "t.fits.gz"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			w, err := dataset.CreateFile(path, cols, 3)
			require.NoError(t, err)
			for _, b := range batches {
				require.NoError(t, w.Write(context.Background(), b))
			}
			require.NoError(t, w.Close())
			got, err := dataset.Read(context.Background(), path)
			require.NoError(t, err)
			assert.Equal(t, []string{"z_id", "mag", "flux", "good", "band", "n"}, got.Names(), "column order is kept")
			col := func(n string) *dataset.Column { c, _ := got.Column(n); return c }
			assert.Equal(t, []float64{10, 11, 12}, col("z_id").Num)
			assert.Equal(t, []int{2}, col("mag").Missing)
			assert.Equal(t, 19.25, col("mag").Num[0])
			assert.Equal(t, []float64{0.5, 1.5, 2.5}, col("flux").Num)
			assert.Equal(t, []float64{1, 0, 1}, col("good").Num)
			assert.Equal(t, []string{"g", "r,i", "z"}, col("band").Str)
			assert.Equal(t, []float64{-3, 4, 5}, col("n").Num)
			if strings.Contains(name, "fits") {
				assert.Equal(t, "mag", col("mag").Unit)
				assert.Equal(t, "1 TABLE", got.HDU)
			}
		})
	}
	t.Run("FITS refuses a short table and leaves no file", func(t *testing.T) {
		path := filepath.Join(dir, "short.fits")
		w, err := dataset.CreateFile(path, cols, 5)
		require.NoError(t, err)
		require.NoError(t, w.Write(context.Background(), batches[0]))
		err = w.Close()
		require.ErrorIs(t, err, dataset.ErrWrite)
		assert.Contains(t, err.Error(), "declared 5 rows, 2 were written")
		assert.NoFileExists(t, path)
	})
	t.Run("a batch that does not match the columns", func(t *testing.T) {
		w, err := dataset.NewTableWriter(&bytes.Buffer{}, dataset.FormatCSV, cols, 0)
		require.NoError(t, err)
		err = w.Write(context.Background(), batches[0][:3])
		require.ErrorIs(t, err, dataset.ErrWrite)
		bad := append([]dataset.Values{{I: []int64{1}}}, batches[0][1:]...)
		err = w.Write(context.Background(), bad)
		require.ErrorIs(t, err, dataset.ErrWrite)
		assert.Contains(t, err.Error(), `column "mag" has 2 values in a batch of 1 rows`)
	})
	t.Run("a FITS string longer than its width", func(t *testing.T) {
		w, err := dataset.NewTableWriter(&bytes.Buffer{}, dataset.FormatFITS, cols, 1)
		require.NoError(t, err)
		b := []dataset.Values{{I: []int64{1}}, {F: []float64{1}}, {F: []float64{1}}, {I: []int64{1}}, {S: []string{"toolong"}}, {I: []int64{1}}}
		require.ErrorIs(t, w.Write(context.Background(), b), dataset.ErrWrite)
	})
}

func TestMarkMissing(t *testing.T) {
	tab, err := dataset.ReadCSV(context.Background(), strings.NewReader("mag,flux,name\n99,0,a\n18.5,99.99,b\n-99,,c\n"), "m.csv", ',')
	require.NoError(t, err)
	f32 := float64(float32(99.99))
	flux, _ := tab.Column("flux")
	flux.Num[1] = f32 // a single-precision column's 99.99
	counts, err := tab.MarkMissing(map[string][]float64{"mag": {99, -99}, "flux": {99.99, 0}})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"mag": 2, "flux": 2}, counts, "zero is a sentinel like any other")
	mag, _ := tab.Column("mag")
	assert.Equal(t, []int{1, 3}, mag.Missing)
	assert.Equal(t, []int{1, 2, 3}, flux.Missing, "merged with the empty cell")
	_, err = tab.MarkMissing(map[string][]float64{"absent": {1}})
	require.ErrorIs(t, err, dataset.ErrMissingColumn)
	_, err = tab.MarkMissing(map[string][]float64{"name": {1}})
	require.ErrorIs(t, err, dataset.ErrNonNumeric)
}

// groupedData is 60 objects of 1-5 detections each, every fourth object
// positive.
func groupedData(t *testing.T) (*dataset.Dataset, []string) {
	var b strings.Builder
	b.WriteString("obj,x,y\n")
	for o := range 60 {
		for k := range 1 + o%5 {
			fmt.Fprintf(&b, "%d,%d,%d\n", o, o*10+k, map[bool]int{true: 1}[o%4 == 0])
		}
	}
	tab, err := dataset.ReadCSV(context.Background(), strings.NewReader(b.String()), "g.csv", ',')
	require.NoError(t, err)
	d, err := tab.Select(dataset.SelectOptions{Target: "y", Exclude: []string{"obj"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"x"}, d.FeatureNames, "an excluded column is never a feature")
	labels, err := tab.Labels("obj")
	require.NoError(t, err)
	return d, labels
}

func TestStratifiedGroupSplitKeepsGroupsTogether(t *testing.T) {
	d, groups := groupedData(t)
	split, err := dataset.StratifiedGroupSplit(d, groups, 0.2, 0.2, 7)
	require.NoError(t, err)
	owner := map[string]string{}
	total := 0
	for name, part := range map[string]*dataset.Dataset{"train": split.Train, "validation": split.Validation, "test": split.Test} {
		total += part.Rows
		for _, id := range part.RowIDs {
			g := groups[id-1]
			if prev, ok := owner[g]; ok {
				require.Equal(t, prev, name, "group %s straddles %s and %s", g, prev, name)
			}
			owner[g] = name
		}
		assert.Greater(t, part.ClassCounts()[1], 0, "%s has positives", name)
	}
	assert.Equal(t, d.Rows, total)
	again, err := dataset.StratifiedGroupSplit(d, groups, 0.2, 0.2, 7)
	require.NoError(t, err)
	assert.Equal(t, split.Test.RowIDs, again.Test.RowIDs, "the same seed gives the same split")
	assert.InDelta(t, 0.2, float64(split.Test.Rows)/float64(d.Rows), 0.08)
}

func TestSplitByLabels(t *testing.T) {
	tab, err := dataset.ReadCSV(context.Background(), strings.NewReader("x,y,s\n1,0,TRAIN\n2,1,train\n3,0,val\n4,1,test\n5,0,test\n"), "s.csv", ',')
	require.NoError(t, err)
	d, err := tab.Select(dataset.SelectOptions{Target: "y", Exclude: []string{"s"}})
	require.NoError(t, err)
	labels, err := tab.Labels("s")
	require.NoError(t, err)
	split, err := dataset.SplitByLabels(d, labels, "s", dataset.SplitNames{Validation: "val"})
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2}, split.Train.RowIDs)
	assert.Equal(t, []int{3}, split.Validation.RowIDs)
	assert.Equal(t, []int{4, 5}, split.Test.RowIDs, "the test split is exactly the marked rows")

	labels[2] = "holdout"
	_, err = dataset.SplitByLabels(d, labels, "s", dataset.SplitNames{Validation: "val"})
	require.ErrorIs(t, err, dataset.ErrUnknownClass)
	assert.Contains(t, err.Error(), `holds "holdout" in row 3`)
}
