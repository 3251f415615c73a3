package training

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/nn"
)

// Split methods recorded in the model manifest (nn.SplitRecord.Method).
const (
	SplitStratified      = "stratified"
	SplitStratifiedGroup = "stratified_group"
	SplitColumn          = "split_column"
	SplitTestDataset     = "test_dataset"
)

// TableReader reads a data path, table selector included (see
// dataset.WithHDU), into a table.
type TableReader func(ctx context.Context, path string) (*dataset.Table, error)

// PreparedData is a job's data after the catalog conventions of its
// TrainingConfig: sentinels made missing, identifier, group and split
// columns kept out of the features, the split drawn (or taken from the
// split column, or the separate test file), sample weights computed.
type PreparedData struct {
	Table *dataset.Table
	// TestTable is test_dataset_path's table; nil without one.
	TestTable *dataset.Table
	// Data holds every row of Table (Weights set with sample_weight); after
	// an in-place split (the training stages) in the split's order.
	Data  *dataset.Dataset
	Split dataset.Split
	// Record is what the model manifest records of the split.
	Record nn.SplitRecord
	// Marked counts the cells each column's sentinels made missing.
	Marked map[string]int
	// ErrorColumns pairs features with their measurement error columns.
	ErrorColumns map[string]string
	// Findings are problems of the split (groups that straddle it) for
	// the validation report.
	Findings []Finding
}

// DataPath is dataset_path with the hdu selector.
func (c TrainingConfig) DataPath() string {
	return dataset.WithHDU(strings.TrimSpace(c.DatasetPath), c.HDU)
}

// TestDataPath is test_dataset_path with the hdu selector ("" without one).
func (c TrainingConfig) TestDataPath() string {
	if strings.TrimSpace(c.TestDatasetPath) == "" {
		return ""
	}
	return dataset.WithHDU(strings.TrimSpace(c.TestDatasetPath), c.HDU)
}

// Excluded lists the identifier, group and split columns: never features.
func (c TrainingConfig) Excluded() []string {
	var out []string
	for _, n := range []string{c.IDColumn, c.GroupColumn, c.SplitColumn} {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// checkCatalog checks the catalog-convention fields.
func (c TrainingConfig) checkCatalog() error {
	if strings.ContainsAny(c.HDU, "[]") {
		return bad("hdu", "%q: give the HDU number or name without brackets", c.HDU)
	}
	check := func(field string, vs []float64) error {
		for _, v := range vs {
			if !finite(v) {
				return bad(field, "%v is not a finite number (NaN and infinities are missing already)", v)
			}
		}
		return nil
	}
	if err := check("missing_values", c.MissingValues.All); err != nil {
		return err
	}
	for name, vs := range c.MissingValues.Columns {
		if strings.TrimSpace(name) == "" {
			return bad("missing_values", "a column name is empty")
		}
		if err := check("missing_values."+name, vs); err != nil {
			return err
		}
	}
	roles := map[string]string{}
	for _, r := range []struct{ field, column string }{
		{"id_column", c.IDColumn}, {"group_column", c.GroupColumn}, {"split_column", c.SplitColumn},
	} {
		if r.column == "" {
			continue
		}
		if r.column == c.TargetColumn {
			return bad(r.field, "%q is the target column", r.column)
		}
		if other, dup := roles[r.column]; dup {
			return bad(r.field, "%q is also the %s", r.column, other)
		}
		roles[r.column] = r.field
		if slices.Contains(c.Features, r.column) {
			return bad("features", "%q is the %s, which is never a feature", r.column, r.field)
		}
	}
	if c.SplitColumn != "" && strings.TrimSpace(c.TestDatasetPath) != "" {
		return bad("split_column", "give split_column or test_dataset_path, not both")
	}
	if c.SplitValues != (dataset.SplitNames{}) && c.SplitColumn == "" {
		return bad("split_values", "needs split_column")
	}
	names := c.SplitValues.WithDefaults()
	if strings.EqualFold(names.Train, names.Validation) || strings.EqualFold(names.Train, names.Test) || strings.EqualFold(names.Validation, names.Test) {
		return bad("split_values", "train %q, validation %q and test %q must differ", names.Train, names.Validation, names.Test)
	}
	if c.SampleWeight != "" {
		if err := oneOf("sample_weight", c.SampleWeight, SampleWeightNone, SampleWeightInverseVariance); err != nil {
			return err
		}
	}
	for f, e := range c.ErrorColumns {
		if strings.TrimSpace(f) == "" || strings.TrimSpace(e) == "" || f == e {
			return bad("error_columns", "%q: %q pairs no feature with an error column", f, e)
		}
	}
	return nil
}

// sentinels resolves missing_values for t: the named columns' own, and
// All for every other numeric column except the target, identifier, group
// and split columns.
func (c TrainingConfig) sentinels(t *dataset.Table) map[string][]float64 {
	if c.MissingValues.IsZero() {
		return nil
	}
	out := map[string][]float64{}
	for name := range c.MissingValues.Columns {
		out[name] = c.MissingValues.For(name)
	}
	if len(c.MissingValues.All) > 0 {
		skip := append(c.Excluded(), c.TargetColumn)
		for _, col := range t.Columns {
			if col.Kind == dataset.Numeric && !slices.Contains(skip, col.Name) {
				if _, own := out[col.Name]; !own {
					out[col.Name] = c.MissingValues.All
				}
			}
		}
	}
	return out
}

// MarkMissing applies missing_values to t (see dataset.Table.MarkMissing)
// and returns the cells marked per column. A named column that t lacks is
// an error naming it.
func (c TrainingConfig) MarkMissing(t *dataset.Table) (map[string]int, error) {
	s := c.sentinels(t)
	if s == nil {
		return nil, nil
	}
	marked, err := t.MarkMissing(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return marked, nil
}

// MissingForFeatures returns, per feature, the sentinels prediction must
// treat as missing; nil when there are none.
func (c TrainingConfig) MissingForFeatures(features []string) [][]float64 {
	if c.MissingValues.IsZero() {
		return nil
	}
	out := make([][]float64, len(features))
	some := false
	for j, f := range features {
		if own := c.MissingValues.Columns[f]; len(own) > 0 || (len(c.MissingValues.All) > 0 && !slices.Contains(c.Excluded(), f)) {
			out[j] = c.MissingValues.For(f)
			some = some || len(out[j]) > 0
		}
	}
	if !some {
		return nil
	}
	return out
}

// ReadTables reads dataset_path and test_dataset_path (nil without one)
// with read, each with the hdu selector.
func (c TrainingConfig) ReadTables(ctx context.Context, read TableReader) (table, test *dataset.Table, err error) {
	if table, err = read(ctx, c.DataPath()); err != nil {
		return nil, nil, err
	}
	if p := c.TestDataPath(); p != "" {
		if test, err = read(ctx, p); err != nil {
			return nil, nil, fmt.Errorf("test_dataset_path: %w", err)
		}
	}
	return table, test, nil
}

// ReadData reads the tables (ReadTables) and prepares them (PrepareData).
func (c TrainingConfig) ReadData(ctx context.Context, read TableReader) (*PreparedData, error) {
	table, test, err := c.ReadTables(ctx, read)
	if err != nil {
		return nil, err
	}
	return c.PrepareData(table, test)
}

// PrepareData is SelectData followed by SplitData.
func (c TrainingConfig) PrepareData(table, test *dataset.Table) (*PreparedData, error) {
	p, err := c.SelectData(table, test)
	if err != nil {
		return nil, err
	}
	if err := c.SplitData(p); err != nil {
		return nil, err
	}
	return p, nil
}

// SelectData applies the catalog conventions to table (test, the separate
// test table, is kept for SplitData; nil without one): sentinels become
// missing, the data set is selected without the identifier, group and
// split columns, error columns are paired and sample weights computed.
// table is modified (MarkMissing).
func (c TrainingConfig) SelectData(table, test *dataset.Table) (*PreparedData, error) {
	p := &PreparedData{Table: table, TestTable: test}
	var err error
	if p.Marked, err = c.MarkMissing(table); err != nil {
		return nil, err
	}
	for _, name := range c.Excluded() {
		if _, ok := table.Column(name); !ok {
			return nil, fmt.Errorf("%w: %q is not a column of %s (columns: %s)", ErrInvalidConfig, name, table.Source, strings.Join(table.Names(), ", "))
		}
	}
	opts := dataset.SelectOptions{Target: c.TargetColumn, Positive: c.PositiveClass, Features: c.Features, Exclude: c.Excluded()}
	if p.Data, err = table.Select(opts); err != nil {
		return nil, err
	}
	if c.SampleWeight == SampleWeightInverseVariance || len(c.ErrorColumns) > 0 {
		if p.ErrorColumns, err = c.errorPairs(table, p.Data.FeatureNames); err != nil {
			return nil, err
		}
	} else {
		p.ErrorColumns = recognisedErrors(table, p.Data.FeatureNames)
	}
	if c.SampleWeight == SampleWeightInverseVariance {
		if len(p.ErrorColumns) == 0 {
			return nil, fmt.Errorf("%w: sample_weight: inverse_variance needs error columns, and no feature of %s has one (looked for <col>_err, e_<col>, <col>_error; name them in error_columns)",
				ErrInvalidConfig, table.Source)
		}
		p.Data.Weights = inverseVarianceWeights(table, p.Data, p.ErrorColumns)
	}
	return p, nil
}

// SplitData draws p's split: the split column's, the test file plus a
// stratified hold-out of validation, a stratified group split
// (group_column), or the stratified split — in that order of precedence —
// and records it (p.Record), with groups that straddle it in p.Findings.
func (c TrainingConfig) SplitData(p *PreparedData) error { return c.splitData(p, false) }

// splitData is SplitData. With inPlace the stratified split (the default
// method) reorders p.Data's rows and its subsets are views of p.Data
// (dataset.StratifiedSplitInPlace) instead of copies: for the training
// stages, which use only the split afterwards.
func (c TrainingConfig) splitData(p *PreparedData, inPlace bool) error {
	table, test := p.Table, p.TestTable
	var err error
	var groups []string
	if c.GroupColumn != "" {
		all, err := table.Labels(c.GroupColumn)
		if err != nil {
			return fmt.Errorf("%w: group_column: %w", ErrInvalidConfig, err)
		}
		groups = rowsOf(all, p.Data)
	}
	switch {
	case c.SplitColumn != "":
		err = c.splitByColumn(p, groups)
	case test != nil:
		err = c.splitTestFile(p, groups)
	case groups != nil:
		p.Split, err = dataset.StratifiedGroupSplit(p.Data, groups, c.ValidationSplit, c.TestSplit, c.Seed)
		p.Record = nn.SplitRecord{Method: SplitStratifiedGroup, GroupColumn: c.GroupColumn}
	case inPlace:
		p.Split, err = dataset.StratifiedSplitInPlace(p.Data, c.ValidationSplit, c.TestSplit, c.Seed)
		p.Record = nn.SplitRecord{Method: SplitStratified}
	default:
		p.Split, err = dataset.StratifiedSplit(p.Data, c.ValidationSplit, c.TestSplit, c.Seed)
		p.Record = nn.SplitRecord{Method: SplitStratified}
	}
	if err != nil {
		return err
	}
	p.Record.Rows = map[string]int{"train": p.Split.Train.Rows, "validation": p.Split.Validation.Rows, "test": p.Split.Test.Rows}
	p.Record.TestSetHash = evaluation.DatasetHash(p.Split.Test)
	return nil
}

// rowsOf picks the labels of d's rows from labels of every table row.
func rowsOf(labels []string, d *dataset.Dataset) []string {
	out := make([]string, d.Rows)
	for i, id := range d.RowIDs {
		out[i] = labels[id-1]
	}
	return out
}

func (c TrainingConfig) splitByColumn(p *PreparedData, groups []string) error {
	labels, err := p.Table.Labels(c.SplitColumn)
	if err != nil {
		return fmt.Errorf("%w: split_column: %w", ErrInvalidConfig, err)
	}
	names := c.SplitValues.WithDefaults()
	split, err := dataset.SplitByLabels(p.Data, labels, c.SplitColumn, names)
	if err != nil {
		return err
	}
	p.Record = nn.SplitRecord{Method: SplitColumn, SplitColumn: c.SplitColumn, GroupColumn: c.GroupColumn,
		SplitValues: &nn.SplitValues{Train: names.Train, Validation: names.Validation, Test: names.Test}}
	if split.Validation.Rows == 0 {
		// The published split has no validation rows: hold out
		// validation_split of the data from the training rows, as the
		// stratified split would.
		var trainGroups []string
		if groups != nil {
			trainGroups = rowsOf(labelsByRow(p.Data, groups), split.Train)
		}
		share := c.ValidationSplit * float64(p.Data.Rows) / float64(split.Train.Rows)
		if share >= 1 {
			return fmt.Errorf("%w: split column %q marks %d training rows, too few to hold out validation_split %v of %d rows",
				dataset.ErrTooFewRows, c.SplitColumn, split.Train.Rows, c.ValidationSplit, p.Data.Rows)
		}
		if split.Train, split.Validation, err = dataset.HoldOut(split.Train, share, c.Seed, trainGroups); err != nil {
			return err
		}
		p.Record.ValidationHeldOut = true
	}
	p.Split = split
	if groups != nil {
		p.Findings = append(p.Findings, c.straddles(p.Data, groups, map[string]*dataset.Dataset{
			"train": split.Train, "validation": split.Validation, "test": split.Test})...)
	}
	return nil
}

// labelsByRow indexes d's per-row labels by source row id, the shape
// rowsOf reads.
func labelsByRow(d *dataset.Dataset, perRow []string) []string {
	maxID := 0
	for _, id := range d.RowIDs {
		maxID = max(maxID, id)
	}
	out := make([]string, maxID)
	for i, id := range d.RowIDs {
		out[id-1] = perRow[i]
	}
	return out
}

func (c TrainingConfig) splitTestFile(p *PreparedData, groups []string) error {
	if _, err := c.MarkMissing(p.TestTable); err != nil {
		return fmt.Errorf("test_dataset_path: %w", err)
	}
	test, err := p.TestTable.Select(dataset.SelectOptions{Target: c.TargetColumn, Positive: c.PositiveClass,
		Features: p.Data.FeatureNames, Exclude: c.Excluded(), Classes: p.Data.Classes})
	if err != nil {
		return fmt.Errorf("test_dataset_path %s: %w", p.TestTable.Source, err)
	}
	if p.Data.Weights != nil {
		test.Weights = inverseVarianceWeights(p.TestTable, test, p.ErrorColumns)
	}
	train, val, err := dataset.HoldOut(p.Data, c.ValidationSplit, c.Seed, groups)
	if err != nil {
		return err
	}
	p.Split = dataset.Split{Train: train, Validation: val, Test: test}
	p.Record = nn.SplitRecord{Method: SplitTestDataset, GroupColumn: c.GroupColumn, ValidationHeldOut: true,
		TestDataPath: p.TestTable.Source, TestDataHash: p.TestTable.Hash}
	if groups != nil {
		testLabels, err := p.TestTable.Labels(c.GroupColumn)
		if err != nil {
			return fmt.Errorf("%w: group_column in test_dataset_path: %w", ErrInvalidConfig, err)
		}
		inTrain := map[string]bool{}
		for _, g := range groups {
			if g != "" {
				inTrain[g] = true
			}
		}
		var shared []string
		seen := map[string]bool{}
		for _, g := range rowsOf(testLabels, test) {
			if g != "" && inTrain[g] && !seen[g] {
				seen[g] = true
				shared = append(shared, g)
			}
		}
		if len(shared) > 0 {
			p.Findings = append(p.Findings, c.straddleFinding(len(shared), shared[0], "the training file and test_dataset_path"))
		}
	}
	return nil
}

// straddles reports groups whose rows fall in more than one split.
func (c TrainingConfig) straddles(d *dataset.Dataset, groups []string, parts map[string]*dataset.Dataset) []Finding {
	where := map[int]string{}
	for name, part := range parts {
		for _, id := range part.RowIDs {
			where[id] = name
		}
	}
	splitsOf := map[string]map[string]bool{}
	var order []string
	for i, g := range groups {
		if g == "" {
			continue
		}
		if splitsOf[g] == nil {
			splitsOf[g] = map[string]bool{}
			order = append(order, g)
		}
		splitsOf[g][where[d.RowIDs[i]]] = true
	}
	n, first, firstIn := 0, "", ""
	for _, g := range order {
		if len(splitsOf[g]) > 1 {
			if n == 0 {
				names := make([]string, 0, len(splitsOf[g]))
				for s := range splitsOf[g] {
					names = append(names, s)
				}
				sort.Strings(names)
				first, firstIn = g, strings.Join(names, " and ")
			}
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return []Finding{c.straddleFinding(n, first, firstIn)}
}

func (c TrainingConfig) straddleFinding(n int, first, where string) Finding {
	sev := SeverityError
	if c.Leakage == "warning" {
		sev = SeverityWarning
	}
	return Finding{Check: CheckGroupStraddle, Severity: sev, Column: c.GroupColumn, Count: n,
		Message: fmt.Sprintf("%d %s of group_column '%s' %s (first %q, in %s): the same object's detections would be trained on and scored",
			n, plural(n, "group", "groups"), c.GroupColumn, plural(n, "straddles the splits", "straddle the splits"), first, where)}
}

// recognisedErrors pairs each feature with an error column found by name;
// features that are themselves error columns are not paired.
func recognisedErrors(t *dataset.Table, features []string) map[string]string {
	errorCols := map[string]bool{}
	pairs := map[string]string{}
	for _, f := range features {
		if e := t.ErrorColumn(f); e != "" {
			pairs[f] = e
			errorCols[e] = true
		}
	}
	for f := range pairs {
		if errorCols[f] {
			delete(pairs, f)
		}
	}
	if len(pairs) == 0 {
		return nil
	}
	return pairs
}

// errorPairs is recognisedErrors with error_columns' explicit pairs, each
// checked.
func (c TrainingConfig) errorPairs(t *dataset.Table, features []string) (map[string]string, error) {
	pairs := recognisedErrors(t, features)
	if pairs == nil {
		pairs = map[string]string{}
	}
	for f, e := range c.ErrorColumns {
		if !slices.Contains(features, f) {
			return nil, fmt.Errorf("%w: error_columns: %q is not a feature (features: %s)", ErrInvalidConfig, f, strings.Join(features, ", "))
		}
		col, ok := t.Column(e)
		if !ok || col.Kind != dataset.Numeric {
			return nil, fmt.Errorf("%w: error_columns: %q (the error of %q) is not a numeric column of %s", ErrInvalidConfig, e, f, t.Source)
		}
		pairs[f] = e
	}
	return pairs, nil
}

// maxWeightRatio caps a row's inverse-variance weight at this multiple of
// the median weight, so that a few rows with tiny quoted errors cannot
// dominate the loss.
const maxWeightRatio = 100

// inverseVarianceWeights returns 1/σ² per row of d, σ² the mean of the
// squared errors of the paired features present in the row (finite and
// positive errors only); a row with none gets the median weight; weights
// are capped at maxWeightRatio times the median and scaled to mean 1.
func inverseVarianceWeights(t *dataset.Table, d *dataset.Dataset, pairs map[string]string) []float64 {
	cols := make([]*dataset.Column, 0, len(pairs))
	names := make([]string, 0, len(pairs))
	for _, e := range pairs {
		names = append(names, e)
	}
	sort.Strings(names)
	for _, e := range names {
		if c, ok := t.Column(e); ok {
			cols = append(cols, c)
		}
	}
	w := make([]float64, d.Rows)
	var usable []float64
	for i, id := range d.RowIDs {
		var sum float64
		n := 0
		for _, c := range cols {
			s := c.Num[id-1]
			if s > 0 && !math.IsInf(s, 0) {
				sum += s * s
				n++
			}
		}
		if n == 0 {
			w[i] = math.NaN()
			continue
		}
		w[i] = float64(n) / sum
		usable = append(usable, w[i])
	}
	med := 1.0
	if len(usable) > 0 {
		slices.Sort(usable)
		med = usable[len(usable)/2]
	}
	var total float64
	for i, v := range w {
		if math.IsNaN(v) {
			v = med
		}
		w[i] = min(v, maxWeightRatio*med)
		total += w[i]
	}
	mean := total / float64(len(w))
	for i := range w {
		w[i] /= mean
	}
	return w
}
