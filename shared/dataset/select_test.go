package dataset_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/dataset"
)

// table reads an inline CSV fixture.
func table(t *testing.T, name, data string) *dataset.Table {
	t.Helper()
	tab, err := dataset.ReadCSV(context.Background(), strings.NewReader(data), name, ',')
	require.NoError(t, err)
	return tab
}

func TestSelectErrors(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		opts    dataset.SelectOptions
		want    error
		message []string
	}{
		{"missing target column", "a,b\n1,2\n3,4\n", dataset.SelectOptions{Target: "class"}, dataset.ErrMissingColumn,
			[]string{`target "class"`, "fixture.csv", "columns: a, b"}},
		{"no target given", "a,b\n1,2\n", dataset.SelectOptions{}, dataset.ErrMissingColumn, []string{"no target column"}},
		{"missing target value", "a,class\n1,0\n2,\n3,1\n4,NA\n", dataset.SelectOptions{Target: "class"}, dataset.ErrMissingTarget,
			[]string{`"class"`, "row 2", "2 rows in all"}},
		{"NaN target", "a,class\n1,0\n2,NaN\n3,1\n", dataset.SelectOptions{Target: "class"}, dataset.ErrMissingTarget,
			[]string{"NaN in row 2"}},
		{"text among numeric target", "a,class\n1,0\n2,1\n3,x\n", dataset.SelectOptions{Target: "class"}, dataset.ErrNonNumeric,
			[]string{`"x" in row 3`}},
		{"single class", "a,class\n1,star\n2,star\n", dataset.SelectOptions{Target: "class"}, dataset.ErrSingleClass,
			[]string{`only the label "star"`}},
		{"unknown positive", "a,class\n1,0\n2,1\n", dataset.SelectOptions{Target: "class", Positive: "pulsar"}, dataset.ErrUnknownClass,
			[]string{`"pulsar"`, "labels: 0, 1"}},
		{"unknown feature", "a,b,class\n1,2,0\n3,4,1\n", dataset.SelectOptions{Target: "class", Features: []string{"a", "z"}},
			dataset.ErrMissingColumn, []string{`feature "z"`, "columns: a, b, class"}},
		{"text feature", "a,name,class\n1,,0\n2,vela,1\n", dataset.SelectOptions{Target: "class", Features: []string{"a", "name"}},
			dataset.ErrNonNumeric, []string{`feature "name"`, "row 2", `"vela"`}},
		{"no numeric feature", "name,class\nvela,0\ncrab,1\n", dataset.SelectOptions{Target: "class"}, dataset.ErrNonNumeric,
			[]string{"no numeric column"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := table(t, "fixture.csv", tt.data).Select(tt.opts)
			require.Error(t, err)
			assert.Nil(t, d)
			assert.ErrorIs(t, err, tt.want)
			for _, m := range tt.message {
				assert.Contains(t, err.Error(), m)
			}
		})
	}
	t.Run("target as feature", func(t *testing.T) {
		_, err := table(t, "f.csv", "a,class\n1,0\n2,1\n").Select(dataset.SelectOptions{Target: "class", Features: []string{"class"}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `feature "class" of f.csv is the target`)
	})
	t.Run("feature listed twice", func(t *testing.T) {
		_, err := table(t, "f.csv", "a,class\n1,0\n2,1\n").Select(dataset.SelectOptions{Target: "class", Features: []string{"a", "a"}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "listed twice")
	})
}

func TestSelectLabels(t *testing.T) {
	tests := []struct {
		name     string
		labels   []string
		positive string
		classes  []string
		pos      int
		y        []int
	}{
		{"numeric 0/1", []string{"0", "1", "1", "0"}, "", []string{"0", "1"}, 1, []int{0, 1, 1, 0}},
		{"numeric written as 1.0", []string{"0.0", "1.0", "0"}, "", []string{"0", "1"}, 1, []int{0, 1, 0}},
		{"yes/no", []string{"no", "Yes", "no"}, "", []string{"no", "Yes"}, 1, []int{0, 1, 0}},
		{"minority wins", []string{"rfi", "rfi", "pulsar"}, "", []string{"rfi", "pulsar"}, 1, []int{0, 0, 1}},
		{"tie takes the larger label", []string{"a", "b"}, "", []string{"a", "b"}, 1, []int{0, 1}},
		{"explicit positive", []string{"0", "1", "1"}, "0", []string{"1", "0"}, 1, []int{1, 0, 0}},
		{"numeric equivalence", []string{"0", "1", "1"}, "1.0", []string{"0", "1"}, 1, []int{0, 1, 1}},
		{"case-insensitive", []string{"Star", "Galaxy"}, "star", []string{"Galaxy", "Star"}, 1, []int{1, 0}},
		{"one-vs-rest", []string{"star", "qso", "galaxy", "qso"}, "qso", []string{"not qso", "qso"}, 1, []int{0, 1, 0, 1}},
		{"multi-class sorted", []string{"star", "qso", "galaxy"}, "", []string{"galaxy", "qso", "star"}, -1, []int{2, 1, 0}},
		{"multi-class numeric order", []string{"10", "2", "1", "2"}, "", []string{"1", "2", "10"}, -1, []int{2, 1, 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			b.WriteString("x,label\n")
			for i, l := range tt.labels {
				b.WriteString(strings.Repeat("1", i+1) + "," + l + "\n")
			}
			d, err := table(t, "labels.csv", b.String()).Select(dataset.SelectOptions{Target: "label", Positive: tt.positive})
			require.NoError(t, err)
			assert.Equal(t, tt.classes, d.Classes)
			assert.Equal(t, tt.pos, d.Positive)
			assert.Equal(t, tt.y, d.Y)
		})
	}
}

func TestSelectFeatures(t *testing.T) {
	tab := table(t, "f.csv", "id,a,b,name,class\n1,0.5,NA,vela,0\n2,1.5,2,crab,1\n3,x,3,,0\n4,2.5,4,geminga,1\n")
	t.Run("default takes numeric columns", func(t *testing.T) {
		d, err := tab.Select(dataset.SelectOptions{Target: "class"})
		require.NoError(t, err)
		assert.Equal(t, []string{"id", "a", "b"}, d.FeatureNames)
		assert.Equal(t, 3, d.Features())
		assert.Equal(t, []string{"name"}, d.Skipped)
		assert.Equal(t, 4, d.Rows)
		assert.Equal(t, []int{1, 2, 3, 4}, d.RowIDs)
		assert.Equal(t, "class", d.Target)
		assert.Equal(t, 1.0, d.X[0])
		assert.Equal(t, 0.5, d.X[1])
		assert.True(t, math.IsNaN(d.X[2]), "missing is NaN")
		assert.True(t, math.IsNaN(d.X[2*3+1]), "invalid is NaN")
		assert.Equal(t, 4.0, d.X[3*3+2])
		assert.Equal(t, []int{2, 2}, d.ClassCounts())
	})
	t.Run("explicit order", func(t *testing.T) {
		d, err := tab.Select(dataset.SelectOptions{Target: "class", Features: []string{"b", "a"}})
		require.NoError(t, err)
		assert.Equal(t, []string{"b", "a"}, d.FeatureNames)
		assert.Equal(t, []float64{2, 1.5}, d.X[2:4])
		assert.Equal(t, []string{"name"}, d.Skipped)
	})
	t.Run("subset copies rows", func(t *testing.T) {
		d, err := tab.Select(dataset.SelectOptions{Target: "class", Features: []string{"id"}})
		require.NoError(t, err)
		s := d.Subset([]int{3, 1, 9})
		assert.Equal(t, 2, s.Rows, "out-of-range indices are left out")
		assert.Equal(t, []float64{4, 2}, s.X)
		assert.Equal(t, []int{1, 1}, s.Y)
		assert.Equal(t, []int{4, 2}, s.RowIDs)
		s.X[0] = 99
		s.FeatureNames[0] = "changed"
		assert.Equal(t, 4.0, d.X[3], "the parent is not modified")
		assert.Equal(t, "id", d.FeatureNames[0])
	})
}

func TestSchemaJSON(t *testing.T) {
	tab := table(t, "s.csv", "a,name\n1,x\n2,\n2,y\n")
	s := tab.Schema()
	assert.Equal(t, dataset.Schema{Rows: 3, Columns: []dataset.ColumnSchema{
		{Name: "a", Kind: dataset.Numeric, Distinct: 2},
		{Name: "name", Kind: dataset.Text, Missing: 1, Distinct: 2},
	}}, s)
	b, err := json.Marshal(s)
	require.NoError(t, err)
	assert.JSONEq(t, `{"rows":3,"columns":[
		{"name":"a","kind":"numeric","missing":0,"invalid":0,"distinct":2},
		{"name":"name","kind":"text","missing":1,"invalid":0,"distinct":2}]}`, string(b))
	var back dataset.Schema
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, s, back)
	assert.Error(t, json.Unmarshal([]byte(`{"columns":[{"kind":"date"}]}`), &back))
}

func TestSelectHTRU2(t *testing.T) {
	tab, err := dataset.Read(context.Background(), htru2Path)
	require.NoError(t, err)
	d, err := tab.Select(dataset.SelectOptions{Target: "class"})
	require.NoError(t, err)
	assert.Equal(t, []string{"0", "1"}, d.Classes)
	assert.Equal(t, 1, d.Positive)
	assert.Equal(t, []int{16259, 1639}, d.ClassCounts())
	assert.Equal(t, 8, d.Features())
	assert.Len(t, d.X, 17898*8)
	assert.Empty(t, d.Skipped)
}

func TestSelectTextInNumericColumn(t *testing.T) {
	tab, err := dataset.Read(context.Background(), "testdata/text_in_numeric.csv")
	require.NoError(t, err)
	snr, ok := tab.Column("snr")
	require.True(t, ok)
	assert.Equal(t, dataset.Numeric, snr.Kind, "two of three cells are numbers")
	assert.Equal(t, []dataset.Cell{{Row: 2, Value: "abc"}}, snr.Invalid)

	d, err := tab.Select(dataset.SelectOptions{Target: "class"})
	require.NoError(t, err, "invalid cells are NaN; validation reports them")
	assert.Equal(t, []string{"flux", "snr"}, d.FeatureNames)
	assert.True(t, math.IsNaN(d.X[1*2+1]))
	assert.Equal(t, []string{"a", "b"}, d.Classes)
	assert.Equal(t, 1, tab.Schema().Columns[1].Invalid)
}

// TestSelectTransposesEveryBlock checks the design matrix of a table with
// more rows than one transpose block, its last block partial, and a
// feature order unlike the file's: every cell lands at its row and column.
func TestSelectTransposesEveryBlock(t *testing.T) {
	const rows = 150_037 // 147 blocks, the last short: enough for two writers
	var b strings.Builder
	b.WriteString("a,label,b,c\n")
	for i := range rows {
		fmt.Fprintf(&b, "%d,%d,%d.5,-%d\n", i, i%2, 10*i, 3*i)
	}
	d, err := table(t, "blocks.csv", b.String()).Select(dataset.SelectOptions{Target: "label", Features: []string{"c", "a", "b"}})
	require.NoError(t, err)
	require.Equal(t, rows, d.Rows)
	require.Equal(t, []string{"c", "a", "b"}, d.FeatureNames)
	for i := range rows {
		require.Equal(t, []float64{-3 * float64(i), float64(i), 10*float64(i) + 0.5}, d.X[i*3:i*3+3], "row %d", i)
	}
}
