package training

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
)

const htru2Path = "../../../events/data/htru2.csv"

// fixture is a small table as rows of cells; rows[k] is data row k+1.
type fixture struct {
	header []string
	rows   [][]string
}

// baseFixture has two noisy features that do not separate the balanced
// classes, so no check fires on it.
func baseFixture() *fixture {
	rng := rand.New(rand.NewPCG(1, 2))
	f := &fixture{header: []string{"a", "b", "class"}}
	for i := range 40 {
		f.rows = append(f.rows, []string{
			fmt.Sprintf("%.4f", rng.NormFloat64()),
			fmt.Sprintf("%.4f", 10+rng.NormFloat64()),
			fmt.Sprint(i % 2),
		})
	}
	return f
}

// addColumn inserts a column before the target; value(k) fills row k (0-based).
func (f *fixture) addColumn(name string, value func(k int) string) *fixture {
	at := len(f.header) - 1
	f.header = slices.Insert(f.header, at, name)
	for k := range f.rows {
		f.rows[k] = slices.Insert(f.rows[k], at, value(k))
	}
	return f
}

func (f *fixture) set(k, col int, v string) *fixture {
	f.rows[k][col] = v
	return f
}

func (f *fixture) csv() string {
	var b strings.Builder
	b.WriteString(strings.Join(f.header, ",") + "\n")
	for _, r := range f.rows {
		b.WriteString(strings.Join(r, ",") + "\n")
	}
	return b.String()
}

func (f *fixture) load(t *testing.T, opts dataset.SelectOptions) (*dataset.Table, *dataset.Dataset) {
	t.Helper()
	tab, err := dataset.ReadCSV(context.Background(), strings.NewReader(f.csv()), "fixture.csv", ',')
	require.NoError(t, err)
	if opts.Target == "" {
		opts.Target = "class"
	}
	d, err := tab.Select(opts)
	require.NoError(t, err)
	return tab, d
}

func findings(r *ValidationReport, check string) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Check == check {
			out = append(out, f)
		}
	}
	return out
}

func TestValidateBaseFixtureIsClean(t *testing.T) {
	tab, d := baseFixture().load(t, dataset.SelectOptions{})
	r := ValidationPipeline{}.Validate(context.Background(), tab, d)
	assert.Empty(t, r.Findings)
	require.NoError(t, r.Err())
	assert.Equal(t, map[string]int{"0": 20, "1": 20}, r.ClassCounts)
	assert.Equal(t, map[string]float64{"0": 1, "1": 1}, r.ProposedClassWeights)
	assert.Equal(t, "fixture.csv", r.Source)
	assert.Equal(t, 40, r.Rows)
	assert.Equal(t, 3, r.Columns)
	assert.Equal(t, []string{"a", "b"}, r.Features)
}

func TestValidateChecks(t *testing.T) {
	mean := func(k int) string { return fmt.Sprint(k % 2) } // equals the class
	tests := []struct {
		name     string
		fixture  func() *fixture
		opts     ValidationOptions
		selectIn dataset.SelectOptions
		want     Finding  // Message is left out of the comparison
		message  []string // substrings of Message
	}{
		{"non-numeric cell", func() *fixture { return baseFixture().set(2, 0, "abc") }, ValidationOptions{}, dataset.SelectOptions{},
			Finding{Check: CheckNonNumeric, Severity: SeverityError, Column: "a", Row: 3, Count: 1},
			[]string{"column 'a'", "row 3", `"abc"`}},
		{"infinite value", func() *fixture { return baseFixture().set(4, 1, "-inf").set(6, 1, "Inf") }, ValidationOptions{}, dataset.SelectOptions{},
			Finding{Check: CheckNonFinite, Severity: SeverityError, Column: "b", Row: 5, Count: 2},
			[]string{"column 'b'", "row 5", "-Inf"}},
		{"missing values", func() *fixture { return baseFixture().set(1, 0, "").set(7, 0, "NaN") }, ValidationOptions{}, dataset.SelectOptions{},
			Finding{Check: CheckMissingValues, Severity: SeverityWarning, Column: "a", Row: 2, Count: 2},
			[]string{"column 'a'", "2 missing values", "row 2", "imputed"}},
		{"all missing", func() *fixture { return baseFixture().addColumn("empty", func(int) string { return "" }) }, ValidationOptions{}, dataset.SelectOptions{},
			Finding{Check: CheckAllMissing, Severity: SeverityError, Column: "empty", Count: 40},
			[]string{"column 'empty' has no values"}},
		{"all NaN", func() *fixture { return baseFixture().addColumn("nan", func(int) string { return "NaN" }) }, ValidationOptions{}, dataset.SelectOptions{},
			Finding{Check: CheckAllMissing, Severity: SeverityError, Column: "nan", Count: 40},
			[]string{"column 'nan' has no values"}},
		{"constant column", func() *fixture { return baseFixture().addColumn("k", func(int) string { return "3" }) }, ValidationOptions{}, dataset.SelectOptions{},
			Finding{Check: CheckConstantColumn, Severity: SeverityWarning, Column: "k", Count: 40},
			[]string{"column 'k' is constant", "every value is 3"}},
		{"duplicate column", func() *fixture {
			f := baseFixture()
			return f.addColumn("a2", func(k int) string { return f.rows[k][0] })
		}, ValidationOptions{}, dataset.SelectOptions{},
			Finding{Check: CheckDuplicateColumn, Severity: SeverityWarning, Column: "a2"},
			[]string{"column 'a2' duplicates column 'a'"}},
		{"duplicate column with gaps and signed zeros", func() *fixture {
			g := func(neg string) func(int) string {
				return func(k int) string {
					switch {
					case k%5 == 0:
						return ""
					case k%3 == 0:
						return neg + "0"
					}
					return fmt.Sprint(k)
				}
			}
			return baseFixture().addColumn("g1", g("")).addColumn("g2", g("-"))
		}, ValidationOptions{}, dataset.SelectOptions{},
			Finding{Check: CheckDuplicateColumn, Severity: SeverityWarning, Column: "g2"},
			[]string{"column 'g2' duplicates column 'g1'"}},
		{"duplicate rows", func() *fixture {
			f := baseFixture()
			f.rows[9] = slices.Clone(f.rows[3])
			f.rows[20] = slices.Clone(f.rows[3])
			f.rows[20][2] = "0"
			f.rows[25] = slices.Clone(f.rows[3])
			return f
		}, ValidationOptions{}, dataset.SelectOptions{},
			Finding{Check: CheckDuplicateRows, Severity: SeverityWarning, Row: 10, Count: 3},
			[]string{"3 rows repeat", "first row 10", "copy of row 4", "; 1 of them has a different label"}},
		{"class too small", func() *fixture {
			f := baseFixture()
			f.rows = f.rows[:24]
			for k := 6; k < 24; k++ {
				f.rows[k][2] = "0"
			}
			return f
		}, ValidationOptions{ImbalanceRatio: 0.01}, dataset.SelectOptions{},
			Finding{Check: CheckClassTooSmall, Severity: SeverityError, Column: "class", Count: 3},
			[]string{"class '1'", "3 rows", "at least 10"}},
		{"class imbalance", func() *fixture {
			f := baseFixture()
			for k := 0; k < 30; k++ {
				f.rows[k][2] = "0"
			}
			return f
		}, ValidationOptions{}, dataset.SelectOptions{},
			Finding{Check: CheckClassImbalance, Severity: SeverityWarning, Column: "class", Count: 5},
			[]string{"class '1' has 5 rows", "class '0' 35", "ratio 0.143", "'0' 0.571", "'1' 4.000"}},
		{"target leakage", func() *fixture { return baseFixture().addColumn("leak", mean) }, ValidationOptions{}, dataset.SelectOptions{},
			Finding{Check: CheckTargetLeakage, Severity: SeverityError, Column: "leak"},
			[]string{"column 'leak'", "ROC AUC 1.0000", "target 'class'"}},
		{"target leakage with missing cells", func() *fixture {
			return baseFixture().addColumn("gappy", func(k int) string {
				if k%7 == 3 {
					return ""
				}
				return mean(k)
			})
		}, ValidationOptions{}, dataset.SelectOptions{},
			Finding{Check: CheckTargetLeakage, Severity: SeverityError, Column: "gappy"},
			[]string{"column 'gappy'", "ROC AUC 1.0000"}},
		{"reversed leakage as a warning", func() *fixture {
			return baseFixture().addColumn("anti", func(k int) string { return fmt.Sprint(-float64(k%2) + float64(k)/1000) })
		}, ValidationOptions{LeakageSeverity: SeverityWarning}, dataset.SelectOptions{},
			Finding{Check: CheckTargetLeakage, Severity: SeverityWarning, Column: "anti"},
			[]string{"column 'anti'", "ROC AUC 1.0000"}},
		{"multi-class leakage", func() *fixture {
			f := baseFixture()
			for k := range f.rows {
				f.rows[k][2] = fmt.Sprint(k % 3)
			}
			return f.addColumn("leak01", func(k int) string { return fmt.Sprint(min(k%3, 1)) })
		}, ValidationOptions{}, dataset.SelectOptions{},
			Finding{Check: CheckTargetLeakage, Severity: SeverityError, Column: "leak01"},
			[]string{"class '0' from the rest"}},
		{"skipped text column", func() *fixture {
			return baseFixture().addColumn("name", func(k int) string { return fmt.Sprintf("J%04d", k) })
		}, ValidationOptions{}, dataset.SelectOptions{},
			Finding{Check: CheckSkippedColumn, Severity: SeverityWarning, Column: "name"},
			[]string{"text column 'name' is dropped", "J0000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, d := tt.fixture().load(t, tt.selectIn)
			r := ValidationPipeline{Options: tt.opts}.Validate(context.Background(), tab, d)
			got := findings(r, tt.want.Check)
			require.Len(t, got, 1, "findings: %+v", r.Findings)
			msg := got[0].Message
			got[0].Message = ""
			assert.Equal(t, tt.want, got[0])
			for _, m := range tt.message {
				assert.Contains(t, msg, m)
			}
			if tt.want.Severity == SeverityError {
				err := r.Err()
				require.ErrorIs(t, err, ErrInvalidData)
				assert.Contains(t, err.Error(), msg)
			}
			for i := 1; i < len(r.Findings); i++ {
				assert.LessOrEqual(t, r.Findings[i-1].Severity.rank(), r.Findings[i].Severity.rank(), "errors come first")
			}
		})
	}
}

func TestValidateNoData(t *testing.T) {
	r := ValidationPipeline{}.Validate(context.Background(), nil, nil)
	require.ErrorIs(t, r.Err(), ErrInvalidData)
	assert.Equal(t, CheckNoRows, r.Findings[0].Check)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tab, d := baseFixture().load(t, dataset.SelectOptions{})
	r = ValidationPipeline{}.Validate(ctx, tab, d)
	require.Error(t, r.Err())
	assert.Len(t, findings(r, CheckCancelled), 1)
}

func TestReportErrCountsTheRest(t *testing.T) {
	f := baseFixture().set(2, 0, "abc").set(4, 1, "inf").addColumn("empty", func(int) string { return "" })
	tab, d := f.load(t, dataset.SelectOptions{})
	r := ValidationPipeline{}.Validate(context.Background(), tab, d)
	require.Len(t, r.Errors(), 3)
	err := r.Err()
	require.ErrorIs(t, err, ErrInvalidData)
	assert.Equal(t, "training: invalid data: "+r.Errors()[0].Message+" (and 2 more)", err.Error())
	// Errors sort by column: a, b, empty.
	assert.Equal(t, []string{"a", "b", "empty"}, []string{r.Errors()[0].Column, r.Errors()[1].Column, r.Errors()[2].Column})
}

func TestValidateHTRU2(t *testing.T) {
	tab, err := dataset.Read(context.Background(), htru2Path)
	require.NoError(t, err)
	d, err := tab.Select(dataset.SelectOptions{Target: "class"})
	require.NoError(t, err)

	r := ValidationPipeline{}.Validate(context.Background(), tab, d)
	require.NoError(t, r.Err())
	assert.Empty(t, r.Errors())
	assert.Equal(t, map[string]int{"0": 16259, "1": 1639}, r.ClassCounts)
	assert.InDelta(t, 17898.0/(2*1639), r.ProposedClassWeights["1"], 1e-12)
	assert.InDelta(t, 17898.0/(2*16259), r.ProposedClassWeights["0"], 1e-12)
	assert.Equal(t, "02aadab3b4c0165d4704ea493277970b72820ec746c423f4380df44543df4106", r.DataHash)
	for _, f := range r.Findings {
		assert.Contains(t, []string{CheckClassImbalance}, f.Check, "unexpected finding %+v", f)
	}
	assert.Len(t, findings(r, CheckClassImbalance), 1, "HTRU2 is 9%% positive")

	s, err := dataset.StratifiedSplit(d, 0.15, 0.2, 42)
	require.NoError(t, err)
	ValidationPipeline{}.CheckSplit(context.Background(), r, s)
	assert.Empty(t, findings(r, CheckTrainTestOverlap))
	assert.Empty(t, findings(r, CheckTrainValidationOverlap))

	t.Run("report JSON round-trips", func(t *testing.T) {
		b, err := json.Marshal(r)
		require.NoError(t, err)
		for _, key := range []string{`"data_hash"`, `"class_counts"`, `"proposed_class_weights"`, `"findings"`, `"kind":"numeric"`} {
			assert.Contains(t, string(b), key)
		}
		var back ValidationReport
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, *r, back)
	})
}

func TestCheckSplitOverlap(t *testing.T) {
	f := baseFixture()
	// Rows 31..40 repeat rows 1..10, so any split puts some copies across.
	for k := 30; k < 40; k++ {
		f.rows[k] = slices.Clone(f.rows[k-30])
	}
	tab, d := f.load(t, dataset.SelectOptions{})
	r := ValidationPipeline{}.Validate(context.Background(), tab, d)
	require.NoError(t, r.Err())

	s := dataset.Split{
		Train:      d.Subset([]int{0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25}),
		Validation: d.Subset([]int{6, 7, 26, 27, 35}),
		Test:       d.Subset([]int{8, 9, 28, 29, 30, 31, 32, 33, 34, 36, 37, 38, 39}),
	}
	ValidationPipeline{}.CheckSplit(context.Background(), r, s)
	test := findings(r, CheckTrainTestOverlap)
	require.Len(t, test, 1)
	assert.Equal(t, Finding{Check: CheckTrainTestOverlap, Severity: SeverityWarning, Row: 31, Count: 5}, Finding{
		Check: test[0].Check, Severity: test[0].Severity, Row: test[0].Row, Count: test[0].Count,
	}, "rows 31-35 copy training rows 1-5 (row 36 copies row 6 but is in validation)")
	assert.Contains(t, test[0].Message, "5 test rows have the same features as a training row, first row 31")
	val := findings(r, CheckTrainValidationOverlap)
	require.Len(t, val, 1)
	assert.Equal(t, 36, val[0].Row)
	assert.Equal(t, 1, val[0].Count)
	assert.NoError(t, r.Err(), "overlap is a warning")
}

// BenchmarkValidateHTRU2 is how long TestValidateHTRU2's validation takes
// (scripts/bench.sh); the test asserts no time, which a loaded machine would
// break.
func BenchmarkValidateHTRU2(b *testing.B) {
	tab, err := dataset.Read(context.Background(), htru2Path)
	if err != nil {
		b.Fatal(err)
	}
	d, err := tab.Select(dataset.SelectOptions{Target: "class"})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if r := (ValidationPipeline{}).Validate(context.Background(), tab, d); r.Err() != nil {
			b.Fatal(r.Err())
		}
	}
}

func TestCheckDuplicateRowsByHash(t *testing.T) {
	nan := math.NaN()
	// Rows 3 and 5 copy row 1 (NaN alike, -0 equal to 0), row 6 copies row
	// 2 with another label; row 4 differs from row 1 in one bit.
	x := []float64{
		1, nan, 0,
		2, 3, 4,
		1, nan, math.Copysign(0, -1),
		1, nan, math.Nextafter(0, 1),
		1, math.NaN(), 0,
		2, 3, 4,
	}
	d := &dataset.Dataset{FeatureNames: []string{"a", "b", "c"}, X: x, Rows: 6, Y: []int{0, 1, 0, 0, 0, 0},
		Classes: []string{"0", "1"}, Positive: 1, RowIDs: []int{1, 2, 3, 4, 5, 6}}
	r := &ValidationReport{}
	checkDuplicateRows(context.Background(), r, ValidationOptions{}, nil, d)
	require.Len(t, r.Findings, 1)
	f := r.Findings[0]
	assert.Equal(t, CheckDuplicateRows, f.Check)
	assert.Equal(t, 3, f.Count)
	assert.Equal(t, 3, f.Row)
	assert.Contains(t, f.Message, "copy of row 1")
	assert.Contains(t, f.Message, "1 of them has a different label")

	split := dataset.Split{Train: d, Test: &dataset.Dataset{FeatureNames: d.FeatureNames, X: []float64{9, 9, 9, 2, 3, 4}, Rows: 2,
		Y: []int{0, 1}, RowIDs: []int{7, 8}}}
	r = &ValidationReport{}
	ValidationPipeline{}.CheckSplit(context.Background(), r, split)
	got := findings(r, CheckTrainTestOverlap)
	require.Len(t, got, 1)
	assert.Equal(t, 1, got[0].Count)
	assert.Equal(t, 8, got[0].Row)
}

// TestLeakageScreenKeepsTheExactAnswer sets features on both sides of the
// leakage bound, some close enough that the binned interval straddles it,
// one with a heavy tail that defeats the bins, and checks that the screened
// check flags exactly the features whose exact AUC reaches the bound.
func TestLeakageScreenKeepsTheExactAnswer(t *testing.T) {
	const n = 20000
	rng := rand.New(rand.NewPCG(3, 5))
	y := make([]int, n)
	for i := range y {
		y[i] = i % 2
	}
	// flip swaps the order of a share of the positive-negative pairs: a
	// feature equal to the label plus small noise, with `flip` of the rows
	// given the other class's level, has an AUC near 1 - flip.
	feature := func(flip float64, tail bool) []float64 {
		col := make([]float64, n)
		for i := range col {
			level := float64(y[i])
			if rng.Float64() < flip {
				level = 1 - level
			}
			col[i] = level + 0.01*rng.Float64()
			if tail && i%101 == 0 && level == 1 {
				col[i] *= 1e12
			}
		}
		return col
	}
	cols := map[string][]float64{
		"clear":      feature(0, false),
		"just above": feature(0.0002, false),
		"just below": feature(0.0016, false),
		"far below":  feature(0.2, false),
		"heavy tail": feature(0.0002, true),
		"reversed": func() []float64 {
			c := feature(0, false)
			for i := range c {
				c[i] = -c[i]
			}
			return c
		}(),
	}
	names := []string{"clear", "just above", "just below", "far below", "heavy tail", "reversed"}
	d := &dataset.Dataset{FeatureNames: names, Rows: n, Y: y, Classes: []string{"0", "1"}, Positive: 1, Target: "class",
		X: make([]float64, n*len(names))}
	want := map[string]bool{}
	for j, name := range names {
		for i := range n {
			d.X[i*len(names)+j] = cols[name][i]
		}
		auc := evaluation.BinaryAUCROC(y, cols[name])
		want[name] = max(auc, 1-auc) >= 0.999
	}
	require.True(t, want["clear"] && want["just above"] && want["heavy tail"] && want["reversed"])
	require.False(t, want["just below"] || want["far below"])
	assertLeaks(t, d, want)
}

// TestColumnChecksAcrossRowBlocks: the range and identifier checks read the
// matrix a block of rows at a time, the columns shared among goroutines;
// what they find in a column must not depend on where the block edges
// fall. 70,000 rows span 18 blocks, enough to run in parallel.
func TestColumnChecksAcrossRowBlocks(t *testing.T) {
	const n = 70000
	names := []string{"id", "repeat", "rise", "dip", "gaps", "const"}
	nf := len(names)
	d := &dataset.Dataset{FeatureNames: names, Rows: n, Y: make([]int, n), Classes: []string{"0", "1"}, Positive: 1, Target: "class",
		X: make([]float64, n*nf), RowIDs: make([]int, n)}
	perm := rand.New(rand.NewPCG(1, 2)).Perm(n)
	for i := range n {
		d.Y[i], d.RowIDs[i] = i%2, i+1
		row := d.X[i*nf : (i+1)*nf]
		row[0] = float64(perm[i])    // a distinct integer in each row
		row[1] = float64(perm[i])    // the same, but the last row repeats the first
		row[2] = float64(i) + 0.5    // strictly increasing
		row[3] = float64(i) + 0.5    // increasing but for one step back at a block edge
		row[4] = float64(i%7) + 0.25 // with a gap, below
		row[5] = 3
	}
	d.X[(n-1)*nf+1] = d.X[1]
	d.X[columnBlockRows*nf+3] = d.X[(columnBlockRows-1)*nf+3] - 1
	d.X[5000*nf+4], d.X[7000*nf+4] = math.NaN(), math.NaN()
	r := &ValidationReport{}
	checkIDLike(context.Background(), r, ValidationOptions{}, nil, d)
	checkColumns(context.Background(), r, ValidationOptions{}, nil, d)
	byColumn := map[string][]Finding{}
	for _, f := range r.Findings {
		byColumn[f.Column] = append(byColumn[f.Column], f)
	}
	require.Len(t, byColumn["id"], 1)
	assert.Contains(t, byColumn["id"][0].Message, fmt.Sprintf("a distinct integer in each of its %d rows", n))
	assert.Empty(t, byColumn["repeat"], "one repeated value makes it no identifier")
	require.Len(t, byColumn["rise"], 1)
	assert.Contains(t, byColumn["rise"][0].Message, "strictly increasing")
	assert.Empty(t, byColumn["dip"], "the step back at the block edge counts")
	require.Len(t, byColumn["gaps"], 1)
	assert.Equal(t, Finding{Check: CheckMissingValues, Severity: SeverityWarning, Column: "gaps", Row: 5001, Count: 2},
		Finding{Check: byColumn["gaps"][0].Check, Severity: byColumn["gaps"][0].Severity, Column: "gaps", Row: byColumn["gaps"][0].Row, Count: byColumn["gaps"][0].Count})
	require.Len(t, byColumn["const"], 1)
	assert.Equal(t, CheckConstantColumn, byColumn["const"][0].Check)
	assert.Equal(t, n, byColumn["const"][0].Count)
}

// TestDuplicateRowsInParallelParts: on enough rows the duplicate check
// runs in parts split by hash; its finding is the one a single ordered
// pass gives (a map from each row to its first copy), with many repeats,
// labels that disagree, missing values and signed zeros.
func TestDuplicateRowsInParallelParts(t *testing.T) {
	const n, nf = 100000, 3
	rng := rand.New(rand.NewPCG(9, 4))
	d := &dataset.Dataset{FeatureNames: []string{"a", "b", "c"}, Rows: n, Y: make([]int, n), Classes: []string{"0", "1"}, Positive: 1,
		Target: "class", X: make([]float64, n*nf), RowIDs: make([]int, n)}
	for i := range n {
		d.Y[i], d.RowIDs[i] = rng.IntN(2), i+1
		for j := range nf {
			v := float64(rng.IntN(45))
			switch {
			case v == 0 && rng.IntN(2) == 0:
				v = math.Copysign(0, -1)
			case v == 44:
				v = math.NaN()
			}
			d.X[i*nf+j] = v
		}
	}
	key := func(i int) [nf]uint64 {
		var k [nf]uint64
		for j := range nf {
			k[j] = rowBits(d.X[i*nf+j])
		}
		return k
	}
	first := map[[nf]uint64]int{}
	count, conflicts, firstDup, firstOrig := 0, 0, -1, -1
	for i := range n {
		o, ok := first[key(i)]
		if !ok {
			first[key(i)] = i
			continue
		}
		if count == 0 {
			firstDup, firstOrig = i, o
		}
		count++
		if d.Y[i] != d.Y[o] {
			conflicts++
		}
	}
	require.Positive(t, count)
	r := &ValidationReport{}
	checkDuplicateRows(context.Background(), r, ValidationOptions{}, nil, d)
	require.Len(t, r.Findings, 1)
	f := r.Findings[0]
	assert.Equal(t, CheckDuplicateRows, f.Check)
	assert.Equal(t, count, f.Count)
	assert.Equal(t, firstDup+1, f.Row)
	assert.Contains(t, f.Message, fmt.Sprintf("first row %d (a copy of row %d); %d of them have a different label", firstDup+1, firstOrig+1, conflicts))
}

// TestLeakageScreenMultiClassInParts screens three classes one-vs-rest on
// enough rows that the bins are counted in parallel parts, and checks the
// flagged features against the exact AUC of every feature and class.
func TestLeakageScreenMultiClassInParts(t *testing.T) {
	const n = 150000
	rng := rand.New(rand.NewPCG(8, 1))
	y := make([]int, n)
	for i := range y {
		y[i] = i % 3
	}
	col := func(flip float64, class int) []float64 {
		c := make([]float64, n)
		for i := range c {
			in := y[i] == class
			if rng.Float64() < flip {
				in = !in
			}
			c[i] = rng.Float64()
			if in {
				c[i] += 2
			}
			if i%13 == 0 {
				c[i] = math.NaN()
			}
		}
		return c
	}
	names := []string{"class 2 alone", "class 1 nearly", "class 1 less", "noise"}
	cols := [][]float64{col(0, 2), col(0.0001, 1), col(0.003, 1), col(0.5, 0)}
	d := &dataset.Dataset{FeatureNames: names, Rows: n, Y: y, Classes: []string{"a", "b", "c"}, Positive: -1, Target: "class",
		X: make([]float64, n*len(names))}
	want := map[string]bool{}
	for j, name := range names {
		var rows []int
		for i := range n {
			d.X[i*len(names)+j] = cols[j][i]
			if cols[j][i] == cols[j][i] {
				rows = append(rows, i)
			}
		}
		for c := range 3 {
			auc := evaluation.BinaryAUCROCOf(len(rows), func(k int) bool { return y[rows[k]] == c }, func(k int) float64 { return cols[j][rows[k]] })
			want[name] = want[name] || max(auc, 1-auc) >= 0.999
		}
	}
	require.Equal(t, map[string]bool{"class 2 alone": true, "class 1 nearly": true, "class 1 less": false, "noise": false}, want)
	assertLeaks(t, d, want)
	// The screen itself settles the features far from the bound.
	ranges := make([]valueRange, len(names))
	for j := range names {
		ranges[j] = valueRange{lo: math.Inf(1), hi: math.Inf(-1)}
		for _, v := range cols[j] {
			if v == v {
				ranges[j].n++
				ranges[j].lo, ranges[j].hi = min(ranges[j].lo, v), max(ranges[j].hi, v)
			}
		}
	}
	suspect := leakageScreen(context.Background(), d, ranges, []int{0, 1, 2}, 0.999)
	assert.Equal(t, []bool{false, false, true}, suspect[0], "class 2 alone")
	assert.Equal(t, []bool{false, false, false}, suspect[3], "noise")
}

// assertLeaks runs the leakage check on d and checks that it flags
// exactly the features want marks.
func assertLeaks(t *testing.T, d *dataset.Dataset, want map[string]bool) {
	t.Helper()
	r := &ValidationReport{}
	checkLeakage(context.Background(), r, ValidationOptions{}.withDefaults(), nil, d)
	got := map[string]bool{}
	for _, f := range r.Findings {
		got[f.Column] = f.Check == CheckTargetLeakage
	}
	for _, name := range d.FeatureNames {
		assert.Equal(t, want[name], got[name], name)
	}
}
