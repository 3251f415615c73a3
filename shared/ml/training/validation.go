package training

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/nn"
)

// ErrInvalidData is wrapped by the error of a ValidationReport with error
// findings, and by other errors about unusable training data.
var ErrInvalidData = fault.New(fault.Invalid, "training: invalid data")

// Severity grades a Finding.
type Severity string

// Severities, from the least to the most serious. Error findings stop
// training; warnings are reported with the result; info is for the record.
const (
	SeverityInfo    Severity = "info"
	SeverityWarning Severity = "warning"
	SeverityError   Severity = "error"
)

// rank orders severities for sorting: errors first.
func (s Severity) rank() int {
	switch s {
	case SeverityError:
		return 0
	case SeverityWarning:
		return 1
	}
	return 2
}

// Checks a ValidationPipeline runs; they name Finding.Check.
const (
	CheckNoRows     = "no_rows"
	CheckCancelled  = "cancelled"
	CheckNonNumeric = "non_numeric"
	CheckNonFinite  = "non_finite"
	// CheckHugeValues reports finite values too large to standardise: their
	// square overflows float64 (|x| > MaxFeatureMagnitude), so the mean,
	// variance or first gradient would be infinite.
	CheckHugeValues       = "huge_values"
	CheckMissingValues    = "missing_values"
	CheckAllMissing       = "all_missing"
	CheckConstantColumn   = "constant_column"
	CheckDuplicateColumn  = "duplicate_column"
	CheckDuplicateRows    = "duplicate_rows"
	CheckClassTooSmall    = "class_too_small"
	CheckClassImbalance   = "class_imbalance"
	CheckTargetLeakage    = "target_leakage"
	CheckSkippedColumn    = "skipped_column"
	CheckTrainTestOverlap = "train_test_overlap"
	// CheckTrainValidationOverlap reports validation rows that repeat a
	// training row's features.
	CheckTrainValidationOverlap = "train_validation_overlap"
	// CheckIDLike reports features that look like identifiers (monotone,
	// unique integers, integers too large for a float64 to hold exactly).
	CheckIDLike = "id_like_column"
	// CheckGroupStraddle reports groups (group_column) whose rows fall in
	// more than one of train, validation and test.
	CheckGroupStraddle = "group_straddle"
	// CheckSentinels records cells that missing_values made missing.
	CheckSentinels = "missing_value_sentinels"
	// CheckErrorColumns records features paired with measurement errors.
	CheckErrorColumns = "error_columns"
)

// Finding is one result of a data check.
type Finding struct {
	Check    string   `json:"check"`
	Severity Severity `json:"severity"`
	Column   string   `json:"column,omitempty"`
	// Row is the 1-based data row of the first offending cell.
	Row   int `json:"row,omitempty"`
	Count int `json:"count,omitempty"`
	// Message is one readable sentence naming the column and row.
	Message string `json:"message"`
}

// ValidationReport is what ValidationPipeline found in a training table.
type ValidationReport struct {
	Source   string         `json:"source"`
	DataHash string         `json:"data_hash"`
	Rows     int            `json:"rows"`
	Columns  int            `json:"columns"`
	Schema   dataset.Schema `json:"schema"`
	Target   string         `json:"target"`
	Features []string       `json:"features"`
	Classes  []string       `json:"classes"`
	// ClassCounts is the number of rows of each class label.
	ClassCounts map[string]int `json:"class_counts"`
	// ProposedClassWeights are the "balanced" weights n / (k * n_c), as
	// scikit-learn's compute_class_weight.
	ProposedClassWeights map[string]float64 `json:"proposed_class_weights"`
	// Split is how the data was split (absent when errors stopped the
	// split from being drawn).
	Split *nn.SplitRecord `json:"split,omitempty"`
	// Findings are sorted by severity (errors first), then column.
	Findings []Finding `json:"findings"`
}

// rowsDistinct says whether r, the report of a finished validation of d
// (whose checks include checkDuplicateRows), found no two rows of d with
// the same features: then no split of d's rows can hold a copy of a
// training row, and CheckSplit has nothing to find.
func (r *ValidationReport) rowsDistinct(d *dataset.Dataset) bool {
	return d.Rows <= maxRowSetRows && !slices.ContainsFunc(r.Findings, func(f Finding) bool {
		return f.Check == CheckDuplicateRows || f.Check == CheckCancelled || f.Check == CheckNoRows
	})
}

// addCatalog records what the catalog conventions did: the cells
// missing_values marked, and the features paired with error columns.
func (r *ValidationReport) addCatalog(p *PreparedData) {
	defer r.sortFindings()
	names := make([]string, 0, len(p.Marked))
	for n := range p.Marked {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		c := p.Marked[n]
		r.add(Finding{Check: CheckSentinels, Severity: SeverityInfo, Column: n, Count: c,
			Message: fmt.Sprintf("column '%s' has %d %s equal to a missing_values sentinel; they are missing values", n, c, plural(c, "cell", "cells"))})
	}
	if len(p.ErrorColumns) > 0 {
		pairs := make([]string, 0, len(p.ErrorColumns))
		for f, e := range p.ErrorColumns {
			pairs = append(pairs, fmt.Sprintf("'%s' (error '%s')", f, e))
		}
		slices.Sort(pairs)
		weighted := ""
		if p.Data.Weights != nil {
			weighted = "; rows are weighted by inverse variance"
		}
		r.add(Finding{Check: CheckErrorColumns, Severity: SeverityInfo, Count: len(pairs),
			Message: fmt.Sprintf("measurements with error columns: %s%s", strings.Join(pairs, ", "), weighted)})
	}
}

// Errors returns the error findings.
func (r *ValidationReport) Errors() []Finding {
	var errs []Finding
	for _, f := range r.Findings {
		if f.Severity == SeverityError {
			errs = append(errs, f)
		}
	}
	return errs
}

// Err returns nil when the report has no error findings, and otherwise an
// error wrapping ErrInvalidData whose message is the first error finding's,
// followed by "(and N more)" when there are others.
func (r *ValidationReport) Err() error {
	errs := r.Errors()
	if len(errs) == 0 {
		return nil
	}
	msg := errs[0].Message
	if len(errs) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(errs)-1)
	}
	return fmt.Errorf("%w: %s", ErrInvalidData, msg)
}

func (r *ValidationReport) add(f Finding) { r.Findings = append(r.Findings, f) }

func (r *ValidationReport) sortFindings() {
	slices.SortStableFunc(r.Findings, func(a, b Finding) int {
		if d := a.Severity.rank() - b.Severity.rank(); d != 0 {
			return d
		}
		if c := strings.Compare(a.Column, b.Column); c != 0 {
			return c
		}
		return strings.Compare(a.Check, b.Check)
	})
}

// ValidationOptions tune the checks; zero values take the defaults.
type ValidationOptions struct {
	// MinRowsPerClass is the fewest rows a class needs (default 10).
	MinRowsPerClass int `json:"min_rows_per_class,omitempty"`
	// ImbalanceRatio: warn when minority/majority is below it (default 0.2).
	ImbalanceRatio float64 `json:"imbalance_ratio,omitempty"`
	// LeakageAUC: a feature whose ROC AUC alone, or 1 - AUC, reaches it is
	// reported as target leakage (default 0.999).
	LeakageAUC float64 `json:"leakage_auc,omitempty"`
	// LeakageSeverity is the severity of leakage findings (default error).
	LeakageSeverity Severity `json:"leakage_severity,omitempty"`
}

func (o ValidationOptions) withDefaults() ValidationOptions {
	if o.MinRowsPerClass == 0 {
		o.MinRowsPerClass = 10
	}
	if o.ImbalanceRatio == 0 {
		o.ImbalanceRatio = 0.2
	}
	if o.LeakageAUC == 0 {
		o.LeakageAUC = 0.999
	}
	if o.LeakageSeverity == "" {
		o.LeakageSeverity = SeverityError
	}
	return o
}

// ValidationPipeline checks training data before anything is fitted: broken
// cells, empty or constant or duplicate columns, duplicate rows, classes too
// small or imbalanced, features that leak the target, and (CheckSplit) rows
// shared between the training and evaluation splits.
type ValidationPipeline struct {
	Options ValidationOptions
}

// Validate checks the selected features and target of d, using t (which may
// be nil) for the schema, the source and the invalid cells. It never fails:
// every problem is a Finding, and report.Err() says whether training may go
// on. It runs in well under a second on tens of thousands of rows.
func (v ValidationPipeline) Validate(ctx context.Context, t *dataset.Table, d *dataset.Dataset) *ValidationReport {
	return v.validate(ctx, t, d, false)
}

// validate is Validate; with releaseFeatures it drops the numeric cells of
// t's columns that are features of d once the schema is taken from them
// (the checks read d's copy), so that the training job's validate stage
// does not hold the design matrix twice through its checks.
func (v ValidationPipeline) validate(ctx context.Context, t *dataset.Table, d *dataset.Dataset, releaseFeatures bool) *ValidationReport {
	opts := v.Options.withDefaults()
	r := &ValidationReport{
		ClassCounts:          map[string]int{},
		ProposedClassWeights: map[string]float64{},
	}
	if t != nil {
		r.Source, r.DataHash, r.Rows, r.Columns = t.Source, t.Hash, t.Rows, len(t.Columns)
		r.Schema = t.Schema()
		if releaseFeatures && d != nil {
			for _, name := range d.FeatureNames {
				if c, ok := t.Column(name); ok && c.Kind == dataset.Numeric {
					c.Num = nil
				}
			}
			runtime.GC() // the next heap sized from d alone (see releaseColumns)
		}
	}
	defer r.sortFindings()
	if d == nil || d.Rows == 0 || len(d.Y) != d.Rows || len(d.X) != d.Rows*d.Features() {
		r.add(Finding{Check: CheckNoRows, Severity: SeverityError, Message: "the data set has no usable rows"})
		return r
	}
	if t == nil {
		r.Rows, r.Columns = d.Rows, d.Features()+1
	}
	r.Target, r.Features, r.Classes = d.Target, slices.Clone(d.FeatureNames), slices.Clone(d.Classes)

	checks := []func(context.Context, *ValidationReport, ValidationOptions, *dataset.Table, *dataset.Dataset){
		checkClasses,
		checkColumns,
		checkDuplicateColumns,
		checkDuplicateRows,
		checkLeakage,
		checkIDLike,
		checkSkipped,
	}
	for _, check := range checks {
		if err := ctx.Err(); err != nil {
			r.add(Finding{Check: CheckCancelled, Severity: SeverityError, Message: "validation was stopped: " + err.Error()})
			return r
		}
		check(ctx, r, opts, t, d)
	}
	return r
}

// CheckSplit appends to r a warning for each evaluation split (test, then
// validation) holding rows whose features equal a training row's: their
// scores would be optimistic. Count is the number of such rows, Row the
// first of them in the source table.
func (v ValidationPipeline) CheckSplit(ctx context.Context, r *ValidationReport, s dataset.Split) {
	defer r.sortFindings()
	if s.Train == nil || s.Train.Rows == 0 {
		return
	}
	nf := s.Train.Features()
	if s.Train.Rows > maxRowSetRows {
		return
	}
	train := newRowSet(s.Train.X, nf, s.Train.Rows)
	for i := range s.Train.Rows {
		train.add(i)
	}
	for _, part := range []struct {
		check, name string
		d           *dataset.Dataset
	}{
		{CheckTrainTestOverlap, "test", s.Test},
		{CheckTrainValidationOverlap, "validation", s.Validation},
	} {
		if ctx.Err() != nil || part.d == nil || part.d.Features() != nf {
			continue
		}
		count, first := 0, 0
		for i := range part.d.Rows {
			if train.has(part.d.X[i*nf : (i+1)*nf]) {
				if count == 0 {
					first = rowID(part.d, i)
				}
				count++
			}
		}
		if count > 0 {
			r.add(Finding{
				Check: part.check, Severity: SeverityWarning, Row: first, Count: count,
				Message: fmt.Sprintf("%d %s %s the same features as a training row, first row %d; %s scores may be optimistic",
					count, part.name, plural(count, "row has", "rows have"), first, part.name),
			})
		}
	}
}

// rowID returns the 1-based source row of row i of d.
func rowID(d *dataset.Dataset, i int) int {
	if i < len(d.RowIDs) {
		return d.RowIDs[i]
	}
	return i + 1
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// formatNumber writes v compactly for messages.
func formatNumber(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// rowKey appends a byte key of x to b: equal rows give equal keys, with every
// NaN alike and -0 equal to 0.
func rowKey(b []byte, x []float64) []byte {
	for _, v := range x {
		b = binary.LittleEndian.AppendUint64(b, rowBits(v))
	}
	return b
}

// rowSet is a set of rows of one data set's X, equal as rowKey keys them:
// open addressing with linear probing over a power-of-two table of 4-byte
// row numbers (row+1; 0 is empty) at most half full, with a byte of each
// row's hash beside it so that most probes of another row are told apart
// without reading it: 10 bytes a row where a map of byte keys took over a
// hundred. Rows are compared (sameRow) before they count as equal, so a
// collision never makes two rows equal.
type rowSet struct {
	x     []float64
	nf    int
	slots []uint32
	tags  []uint8
	mask  uint64
}

// maxRowSetRows is the most rows a rowSet holds.
const maxRowSetRows = math.MaxUint32 - 1

func newRowSet(x []float64, nf, rows int) *rowSet {
	size := 2
	for size < 2*rows {
		size *= 2
	}
	return &rowSet{x: x, nf: nf, slots: make([]uint32, size), tags: make([]uint8, size), mask: uint64(size - 1)}
}

// add puts row i of the set's X in, unless an equal row is there: then it
// returns that row (the earliest added) and true.
func (s *rowSet) add(i int) (int, bool) {
	x := s.x[i*s.nf : (i+1)*s.nf]
	h := rowHash(x)
	tag := uint8(h >> 56)
	for pos := h & s.mask; ; pos = (pos + 1) & s.mask {
		r := s.slots[pos]
		if r == 0 {
			s.slots[pos], s.tags[pos] = uint32(i+1), tag
			return 0, false
		}
		if o := int(r - 1); s.tags[pos] == tag && sameRow(x, s.x[o*s.nf:(o+1)*s.nf]) {
			return o, true
		}
	}
}

// has reports whether a row equal to x is in the set.
func (s *rowSet) has(x []float64) bool {
	h := rowHash(x)
	tag := uint8(h >> 56)
	for pos := h & s.mask; ; pos = (pos + 1) & s.mask {
		r := s.slots[pos]
		if r == 0 {
			return false
		}
		if o := int(r - 1); s.tags[pos] == tag && sameRow(x, s.x[o*s.nf:(o+1)*s.nf]) {
			return true
		}
	}
}

// rowHash hashes x as rowKey keys it (every NaN alike, -0 equal to 0):
// each value's bits folded in by multiply-xorshift, finished with
// splitmix64's finaliser (Steele, Lea & Flood, "Fast splittable
// pseudorandom number generators", OOPSLA 2014).
func rowHash(x []float64) uint64 {
	h := uint64(0x9e3779b97f4a7c15)
	for _, v := range x {
		h = (h ^ rowBits(v)) * 0xff51afd7ed558ccd
		h ^= h >> 32
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

// rowBits is the bits rowKey writes for v.
func rowBits(v float64) uint64 {
	switch {
	case v != v:
		return 0x7ff8000000000001
	case v == 0:
		return 0
	}
	return math.Float64bits(v)
}

// sameRow reports whether a and b have equal keys (rowKey).
func sameRow(a, b []float64) bool {
	for k := range a {
		if rowBits(a[k]) != rowBits(b[k]) {
			return false
		}
	}
	return true
}

// checkClasses reports classes below the minimum size and imbalance, and
// fills the class counts and proposed weights.
func checkClasses(_ context.Context, r *ValidationReport, opts ValidationOptions, _ *dataset.Table, d *dataset.Dataset) {
	counts := d.ClassCounts()
	k := 0
	for _, n := range counts {
		if n > 0 {
			k++
		}
	}
	minority, majority := -1, -1
	for c, n := range counts {
		label := d.Classes[c]
		r.ClassCounts[label] = n
		if n > 0 {
			// "balanced" weights: n_samples / (n_classes * n_c).
			r.ProposedClassWeights[label] = float64(d.Rows) / (float64(k) * float64(n))
		}
		if n < opts.MinRowsPerClass {
			r.add(Finding{
				Check: CheckClassTooSmall, Severity: SeverityError, Column: d.Target, Count: n,
				Message: fmt.Sprintf("class '%s' of target '%s' has %d %s; at least %d are needed to train and evaluate",
					label, d.Target, n, plural(n, "row", "rows"), opts.MinRowsPerClass),
			})
		}
		if minority < 0 || n < counts[minority] {
			minority = c
		}
		if majority < 0 || n > counts[majority] {
			majority = c
		}
	}
	if minority < 0 || counts[majority] == 0 {
		return
	}
	ratio := float64(counts[minority]) / float64(counts[majority])
	if ratio >= opts.ImbalanceRatio {
		return
	}
	weights := make([]string, len(d.Classes))
	for c, label := range d.Classes {
		weights[c] = fmt.Sprintf("'%s' %.3f", label, r.ProposedClassWeights[label])
	}
	r.add(Finding{
		Check: CheckClassImbalance, Severity: SeverityWarning, Column: d.Target, Count: counts[minority],
		Message: fmt.Sprintf("target '%s' is imbalanced: class '%s' has %d rows and class '%s' %d (ratio %.3f < %g); proposed balanced class weights: %s",
			d.Target, d.Classes[minority], counts[minority], d.Classes[majority], counts[majority], ratio, opts.ImbalanceRatio,
			strings.Join(weights, ", ")),
	})
}

// columnStats summarises one feature column of a data set.
type columnStats struct {
	present         int // non-NaN cells
	nan, firstNaN   int // NaN cells that are not invalid text; first row
	inf, firstInf   int
	infValue        float64
	huge, firstHuge int
	hugeValue       float64
	invalid         int
	firstInvalid    dataset.Cell
}

// MaxFeatureMagnitude is the largest |x| a feature may hold: 1e150, below
// sqrt(MaxFloat64) ≈ 1.3e154, so that sums of squares over a column stay
// finite. Larger values (1e308, say) are refused at validation, naming the
// column and row, instead of diverging to +Inf in training.
const MaxFeatureMagnitude = 1e150

// checkColumns reports invalid, infinite, missing, all-missing and constant
// feature columns.
func checkColumns(_ context.Context, r *ValidationReport, _ ValidationOptions, t *dataset.Table, d *dataset.Dataset) {
	nf := d.Features()
	type column struct {
		columnStats
		invalid    map[int]string
		minV, maxV float64
	}
	cols := make([]column, nf)
	for j, name := range d.FeatureNames {
		cols[j].minV, cols[j].maxV = math.Inf(1), math.Inf(-1)
		if t != nil {
			if col, ok := t.Column(name); ok && len(col.Invalid) > 0 {
				cols[j].invalid = make(map[int]string, len(col.Invalid))
				for _, c := range col.Invalid {
					cols[j].invalid[c.Row] = c.Value
				}
			}
		}
	}
	forColumnBlocks(d, func(j, lo, hi int) {
		// A local copy for the block, written back after: the columns'
		// states lie side by side, and goroutines writing neighbours'
		// fields row by row would share their cache lines.
		c := cols[j]
		defer func() { cols[j] = c }()
		s := &c.columnStats
		for i := lo; i < hi; i++ {
			v := d.X[i*nf+j]
			if v != v {
				id := rowID(d, i)
				if raw, bad := c.invalid[id]; bad {
					if s.invalid == 0 {
						s.firstInvalid = dataset.Cell{Row: id, Value: raw}
					}
					s.invalid++
					continue
				}
				if s.nan == 0 {
					s.firstNaN = id
				}
				s.nan++
				continue
			}
			s.present++
			if math.IsInf(v, 0) {
				if s.inf == 0 {
					s.firstInf, s.infValue = rowID(d, i), v
				}
				s.inf++
			} else if math.Abs(v) > MaxFeatureMagnitude {
				if s.huge == 0 {
					s.firstHuge, s.hugeValue = rowID(d, i), v
				}
				s.huge++
			}
			c.minV, c.maxV = min(c.minV, v), max(c.maxV, v)
		}
	})
	for j, name := range d.FeatureNames {
		s, minV, maxV := cols[j].columnStats, cols[j].minV, cols[j].maxV
		if s.invalid > 0 {
			r.add(Finding{
				Check: CheckNonNumeric, Severity: SeverityError, Column: name, Row: s.firstInvalid.Row, Count: s.invalid,
				Message: fmt.Sprintf("column '%s' has %d non-numeric %s, first %q in row %d",
					name, s.invalid, plural(s.invalid, "value", "values"), s.firstInvalid.Value, s.firstInvalid.Row),
			})
		}
		if s.present == 0 {
			r.add(Finding{
				Check: CheckAllMissing, Severity: SeverityError, Column: name, Count: d.Rows,
				Message: fmt.Sprintf("column '%s' has no values: all %d rows are missing or invalid", name, d.Rows),
			})
			continue
		}
		if s.inf > 0 {
			r.add(Finding{
				Check: CheckNonFinite, Severity: SeverityError, Column: name, Row: s.firstInf, Count: s.inf,
				Message: fmt.Sprintf("column '%s' has %d infinite %s, first %s in row %d",
					name, s.inf, plural(s.inf, "value", "values"), formatNumber(s.infValue), s.firstInf),
			})
		}
		if s.huge > 0 {
			r.add(Finding{
				Check: CheckHugeValues, Severity: SeverityError, Column: name, Row: s.firstHuge, Count: s.huge,
				Message: fmt.Sprintf("column '%s' has %d %s too large to train on (|x| > %g), first %s in row %d; rescale the column (a log or unit change) first",
					name, s.huge, plural(s.huge, "value", "values"), MaxFeatureMagnitude, formatNumber(s.hugeValue), s.firstHuge),
			})
		}
		if s.nan > 0 {
			r.add(Finding{
				Check: CheckMissingValues, Severity: SeverityWarning, Column: name, Row: s.firstNaN, Count: s.nan,
				Message: fmt.Sprintf("column '%s' has %d missing %s, first in row %d; they will be imputed with the training median",
					name, s.nan, plural(s.nan, "value", "values"), s.firstNaN),
			})
		}
		if minV == maxV {
			r.add(Finding{
				Check: CheckConstantColumn, Severity: SeverityWarning, Column: name, Count: s.present,
				Message: fmt.Sprintf("column '%s' is constant (every value is %s); it carries no information", name, formatNumber(minV)),
			})
		}
	}
}

// columnBlockRows is how many rows forColumnBlocks hands over at a time:
// 4,096 rows of ten features are 320 KiB, which stay in the cache while
// every column of them is read.
const columnBlockRows = 4096

// forColumnBlocks calls f(j, lo, hi) for every column j of d's matrix and
// every block [lo, hi) of rows, each column's blocks in order, so each
// column sees its rows in order, as in a pass per column, but the matrix
// is read a block at a time: a pass per column reads every cache line of
// the row-major matrix once per feature (on 10M × 10, the range and
// identifier checks took 2.1 CPU-seconds that way). The columns are
// shared among GOMAXPROCS goroutines (column j goes to goroutine j mod
// their number), so f must keep each column's state apart; calls for one
// column never overlap.
func forColumnBlocks(d *dataset.Dataset, f func(j, lo, hi int)) {
	nf := d.Features()
	workers := min(runtime.GOMAXPROCS(0), nf)
	if d.Rows < 1<<16 {
		workers = 1
	}
	pass := func(first int) {
		for lo := 0; lo < d.Rows; lo += columnBlockRows {
			hi := min(lo+columnBlockRows, d.Rows)
			for j := first; j < nf; j += workers {
				f(j, lo, hi)
			}
		}
	}
	if workers <= 1 {
		pass(0)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { pass(w) })
	}
	wg.Wait()
}

// checkDuplicateColumns reports features whose values equal an earlier
// feature's in every row.
func checkDuplicateColumns(_ context.Context, r *ValidationReport, _ ValidationOptions, _ *dataset.Table, d *dataset.Dataset) {
	nf := d.Features()
	if nf < 2 {
		return
	}
	// One pass over the rows hashes every column (FNV-1a's step on whole
	// 8-byte words, keyed as rowKey keys values): a pass per column read
	// every cache line of the matrix once per feature. Equal sums are
	// then checked value by value (sameColumn).
	const offset, prime = 14695981039346656037, 1099511628211
	sums := make([]uint64, nf)
	for j := range sums {
		sums[j] = offset
	}
	for i := range d.Rows {
		for j, v := range d.X[i*nf : (i+1)*nf] {
			sums[j] = (sums[j] ^ rowBits(v)) * prime
		}
	}
	reported := make([]bool, nf)
	for j := 1; j < nf; j++ {
		for k := 0; k < j && !reported[j]; k++ {
			if sums[k] != sums[j] || !sameColumn(d, k, j) {
				continue
			}
			reported[j] = true
			r.add(Finding{
				Check: CheckDuplicateColumn, Severity: SeverityWarning, Column: d.FeatureNames[j],
				Message: fmt.Sprintf("column '%s' duplicates column '%s' (the same value in every row)", d.FeatureNames[j], d.FeatureNames[k]),
			})
		}
	}
}

// sameColumn compares feature columns a and b, NaN equal to NaN.
func sameColumn(d *dataset.Dataset, a, b int) bool {
	nf := d.Features()
	for i := range d.Rows {
		x, y := d.X[i*nf+a], d.X[i*nf+b]
		if x != y && !(x != x && y != y) {
			return false
		}
	}
	return true
}

// dupBucketRows is about how many rows duplicateRows puts in a bucket:
// a bucket's table of twice as many 5-byte slots stays in the core's
// cache.
const dupBucketRows = 1 << 15

// dupFound is what duplicateRows finds in a part of the rows: how many
// repeat an earlier row's features, how many of those have another label,
// and the first repeat (the lowest row, -1 for none) with its copy.
type dupFound struct{ count, conflicts, firstDup, firstOrig int }

// duplicateRows finds the rows of d whose features repeat an earlier
// row's (equal as rowKey keys them). A single hash set of every row
// spends its time on cache misses (10M rows: 1.4 s in one set), so the
// rows are hashed in order, radix-partitioned by their hash's top bits
// into buckets of about dupBucketRows (stable: each bucket lists its rows
// in order, with their hashes), and each bucket is checked in its own
// set, which stays in cache; equal rows hash alike, so they share a
// bucket, where a repeat meets its earliest copy. The buckets' results
// combine into those of one ordered pass. The rows are read again only
// where a hash's tag matches. Hashing, partitioning and the buckets are
// spread over GOMAXPROCS goroutines.
func duplicateRows(d *dataset.Dataset) []dupFound {
	nf, n := d.Features(), d.Rows
	workers := min(runtime.GOMAXPROCS(0), max(1, n/dupBucketRows))
	bits := 0
	for n>>bits > dupBucketRows && bits < 16 {
		bits++
	}
	buckets := 1 << bits
	bucketOf := func(h uint64) int {
		if bits == 0 {
			return 0
		}
		return int(h >> (64 - bits))
	}
	// Hash, counting each worker's rows per bucket.
	hashes := make([]uint64, n)
	counts := make([][]int, workers)
	parallel := func(f func(w, lo, hi int)) {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() { f(w, w*n/workers, (w+1)*n/workers) })
		}
		wg.Wait()
	}
	parallel(func(w, lo, hi int) {
		c := make([]int, buckets)
		for i := lo; i < hi; i++ {
			h := rowHash(d.X[i*nf : (i+1)*nf])
			hashes[i] = h
			c[bucketOf(h)]++
		}
		counts[w] = c
	})
	// Each worker's place in each bucket: after the earlier workers'
	// rows, so every bucket lists its rows in order.
	start := make([]int, buckets+1)
	at := make([][]int, workers)
	for w := range at {
		at[w] = make([]int, buckets)
	}
	for b := range buckets {
		start[b+1] = start[b]
		for w := range workers {
			at[w][b] = start[b+1]
			start[b+1] += counts[w][b]
		}
	}
	rows := make([]uint32, n)
	sorted := make([]uint64, n)
	parallel(func(w, lo, hi int) {
		pos := at[w]
		for i := lo; i < hi; i++ {
			h := hashes[i]
			b := bucketOf(h)
			rows[pos[b]], sorted[pos[b]] = uint32(i), h
			pos[b]++
		}
	})
	hashes = nil
	got := make([]dupFound, buckets)
	var next atomic.Int64
	parallel(func(int, int, int) {
		var slots []uint32 // 1 + the bucket index of the row held; 0 empty
		var tags []uint8
		for {
			b := int(next.Add(1) - 1)
			if b >= buckets {
				return
			}
			lo, hi := start[b], start[b+1]
			size := 2
			for size < 2*(hi-lo) {
				size *= 2
			}
			if cap(slots) < size {
				slots, tags = make([]uint32, size), make([]uint8, size)
			}
			slots, tags = slots[:size], tags[:size]
			clear(slots)
			mask := uint64(size - 1)
			f := dupFound{firstDup: -1}
			for k := lo; k < hi; k++ {
				h, i := sorted[k], int(rows[k])
				x := d.X[i*nf : (i+1)*nf]
				tag := uint8(h >> 40)
				for p := h & mask; ; p = (p + 1) & mask {
					e := slots[p]
					if e == 0 {
						slots[p], tags[p] = uint32(k-lo+1), tag
						break
					}
					o := int(rows[lo+int(e)-1])
					if tags[p] != tag || !sameRow(x, d.X[o*nf:(o+1)*nf]) {
						continue
					}
					if f.count == 0 {
						f.firstDup, f.firstOrig = i, o
					}
					f.count++
					if d.Y[i] != d.Y[o] {
						f.conflicts++
					}
					break
				}
			}
			got[b] = f
		}
	})
	return got
}

// checkDuplicateRows reports rows whose features repeat an earlier row's.
func checkDuplicateRows(_ context.Context, r *ValidationReport, _ ValidationOptions, _ *dataset.Table, d *dataset.Dataset) {
	if d.Rows > maxRowSetRows {
		return
	}
	got := duplicateRows(d)
	count, conflicts, firstDup, firstOrig := 0, 0, -1, 0
	for _, f := range got {
		count, conflicts = count+f.count, conflicts+f.conflicts
		if f.count > 0 && (firstDup < 0 || f.firstDup < firstDup) {
			firstDup, firstOrig = f.firstDup, f.firstOrig
		}
	}
	if count > 0 {
		firstDup, firstOrig = rowID(d, firstDup), rowID(d, firstOrig)
	}
	if count == 0 {
		return
	}
	msg := fmt.Sprintf("%d %s the features of an earlier row, first row %d (a copy of row %d)",
		count, plural(count, "row repeats", "rows repeat"), firstDup, firstOrig)
	if conflicts > 0 {
		msg += fmt.Sprintf("; %d of them %s a different label", conflicts, plural(conflicts, "has", "have"))
	}
	r.add(Finding{Check: CheckDuplicateRows, Severity: SeverityWarning, Row: firstDup, Count: count, Message: msg})
}

// checkLeakage reports features that alone separate the classes: the ROC AUC
// of the raw feature value against the positive class (for multi-class, the
// largest one-vs-rest AUC), or 1 - AUC, at least opts.LeakageAUC. Rows where
// the feature is NaN are left out. A feature whose AUC provably stays below
// the bound is not sorted: one pass over the matrix counts every feature's
// values in evaluation.AUCBins (leakageScreen), and
// only a feature and class whose interval reaches the bound is ranked
// exactly (on 10M rows the exact ranking of every feature was 8 of the
// run's 46 CPU-seconds, and screening one feature at a time 2.7).
func checkLeakage(ctx context.Context, r *ValidationReport, opts ValidationOptions, _ *dataset.Table, d *dataset.Dataset) {
	nf := d.Features()
	type leak struct {
		auc   float64
		class string
	}
	found := make([]leak, nf)
	ranges := make([]valueRange, nf)
	for j := range ranges {
		ranges[j] = valueRange{lo: math.Inf(1), hi: math.Inf(-1)}
		found[j] = leak{auc: math.NaN()}
	}
	forColumnBlocks(d, func(j, lo, hi int) {
		c := ranges[j] // a local copy: see checkColumns
		for i := lo; i < hi; i++ {
			if v := d.X[i*nf+j]; v == v {
				c.n++
				c.lo, c.hi = min(c.lo, v), max(c.hi, v)
			}
		}
		ranges[j] = c
	})
	classes := []int{d.Positive}
	if d.Positive < 0 {
		classes = make([]int, len(d.Classes))
		for c := range classes {
			classes[c] = c
		}
	}
	suspect := leakageScreen(ctx, d, ranges, classes, opts.LeakageAUC)
	// The suspects are ranked in parallel, one feature per goroutine at a
	// time; each ranking reads the matrix's column in place (a column with
	// missing values through the list of its present rows), so a
	// goroutine's memory is the sort's keys.
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(nf, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			var present []int
			for {
				j := int(next.Add(1) - 1)
				if j >= nf || ctx.Err() != nil {
					return
				}
				n := ranges[j].n
				if !slices.Contains(suspect[j], true) {
					continue // all-missing and constant columns are reported elsewhere
				}
				row := func(k int) int { return k }
				if n < d.Rows {
					present = present[:0]
					for i := range d.Rows {
						if v := d.X[i*nf+j]; v == v {
							present = append(present, i)
						}
					}
					row = func(k int) int { return present[k] }
				}
				score := func(k int) float64 { return d.X[row(k)*nf+j] }
				for ci, c := range classes {
					if !suspect[j][ci] {
						continue
					}
					auc := evaluation.BinaryAUCROCOf(n, func(k int) bool { return d.Y[row(k)] == c }, score)
					if auc != auc {
						continue
					}
					auc = max(auc, 1-auc)
					if b := found[j].auc; b != b || auc > b {
						found[j] = leak{auc, d.Classes[c]}
					}
				}
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	for j, name := range d.FeatureNames {
		best, bestClass := found[j].auc, found[j].class
		if best != best || best < opts.LeakageAUC {
			continue
		}
		vs := fmt.Sprintf("class '%s'", bestClass)
		if d.Positive < 0 {
			vs = fmt.Sprintf("class '%s' from the rest", bestClass)
		}
		r.add(Finding{
			Check: CheckTargetLeakage, Severity: opts.LeakageSeverity, Column: name,
			Message: fmt.Sprintf("column '%s' alone separates %s almost perfectly (ROC AUC %.4f >= %g); it probably leaks the target '%s'",
				name, vs, best, opts.LeakageAUC, d.Target),
		})
	}
}

// idLikeMinRows is the fewest present values a column needs before it is
// judged identifier-like (few rows are unique or monotone by chance).
const idLikeMinRows = 20

// exactIntegers is 2^53: a float64 holds every integer up to it, and only
// some beyond.
const exactIntegers = 1 << 53

// valueRange is how many values of a column are present (not NaN) and
// their least and greatest.
type valueRange struct {
	n      int
	lo, hi float64
}

// leakageScreenBudget bounds the bin counts leakageScreen holds at once;
// features beyond it are screened in further passes.
const leakageScreenBudget = 64 << 20

// leakageScreen says, for every feature j and classes[ci], whether the
// feature's one-vs-rest ROC AUC (or 1 - AUC) can reach bound: false when
// its evaluation.AUCROCBoundsOfBins interval, from the counts of the
// feature's present values in the bins of its range, lies below it, or
// when the feature has no range (all missing, constant) or the class no
// pairs. The counts of all features come from one pass over the rows,
// split into row ranges counted in parallel and summed. Data sets of 2^32
// rows or more are not screened (every feature is a suspect).
func leakageScreen(ctx context.Context, d *dataset.Dataset, ranges []valueRange, classes []int, bound float64) [][]bool {
	nf, k := d.Features(), len(classes)
	suspect := make([][]bool, nf)
	var screened []int
	for j := range suspect {
		suspect[j] = make([]bool, k)
		if r := ranges[j]; r.n > 0 && r.lo < r.hi {
			screened = append(screened, j)
			if d.Rows > math.MaxUint32 {
				for ci := range suspect[j] {
					suspect[j][ci] = true
				}
			}
		}
	}
	if d.Rows > math.MaxUint32 || len(screened) == 0 {
		return suspect
	}
	// classOf[y] is the index in classes of label y, or -1.
	classOf := make([]int, len(d.Classes))
	for y := range classOf {
		classOf[y] = slices.Index(classes, y)
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, d.Rows/(1<<16)))
	perFeature := (k + 1) * evaluation.AUCBinCount * 4 * workers
	group := max(1, leakageScreenBudget/perFeature)
	for g := 0; g < len(screened) && ctx.Err() == nil; g += group {
		feats := screened[g:min(g+group, len(screened))]
		bins := make([]evaluation.AUCBins, len(feats))
		for f, j := range feats {
			bins[f] = evaluation.NewAUCBins(ranges[j].lo, ranges[j].hi)
		}
		// counts[w][f] holds, for worker w and feature feats[f], every
		// bin's count of all values, then of each class's.
		counts := make([][][]uint32, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				mine := make([][]uint32, len(feats))
				for f := range mine {
					mine[f] = make([]uint32, (k+1)*evaluation.AUCBinCount)
				}
				lo, hi := w*d.Rows/workers, (w+1)*d.Rows/workers
				for i := lo; i < hi; i++ {
					ci := classOf[d.Y[i]]
					row := d.X[i*d.Features() : (i+1)*d.Features()]
					for f, j := range feats {
						v := row[j]
						if v != v {
							continue
						}
						b := bins[f].Of(v)
						c := mine[f]
						c[b]++
						if ci >= 0 {
							c[(ci+1)*evaluation.AUCBinCount+b]++
						}
					}
				}
				counts[w] = mine
			})
		}
		wg.Wait()
		for f, j := range feats {
			all := counts[0][f]
			for w := 1; w < workers; w++ {
				for b, v := range counts[w][f] {
					all[b] += v
				}
			}
			for ci := range classes {
				pos := all[(ci+1)*evaluation.AUCBinCount : (ci+2)*evaluation.AUCBinCount]
				lo, hi := evaluation.AUCROCBoundsOfBins(pos, all[:evaluation.AUCBinCount])
				suspect[j][ci] = lo == lo && max(hi, 1-lo) >= bound
			}
		}
	}
	return suspect
}

// checkIDLike warns about features that look like identifiers — integers
// too large for a float64 to hold exactly (64-bit catalogue ids read as
// floats), a distinct integer in every row, or values strictly monotone in
// row order — since a model can learn the row order or the source
// catalogue from them instead of the physics.
func checkIDLike(_ context.Context, r *ValidationReport, _ ValidationOptions, _ *dataset.Table, d *dataset.Dataset) {
	nf := d.Features()
	// A column's set of values is kept only while every value is a
	// distinct integer (an identifier's), and dropped at the first value
	// that is not, so the columns' sets do not all grow at once.
	type column struct {
		n                            int
		integers, distinct, up, down bool
		prev, maxAbs                 float64
		seen                         map[float64]struct{}
	}
	cols := make([]column, nf)
	for j := range cols {
		cols[j] = column{integers: true, distinct: true, up: true, down: true, prev: math.NaN(), seen: make(map[float64]struct{})}
	}
	forColumnBlocks(d, func(j, lo, hi int) {
		c := cols[j] // a local copy: see checkColumns
		defer func() { cols[j] = c }()
		for i := lo; i < hi; i++ {
			v := d.X[i*nf+j]
			if v != v || math.IsInf(v, 0) {
				continue
			}
			c.n++
			if v != math.Trunc(v) {
				c.integers, c.seen = false, nil
			}
			if c.prev == c.prev {
				c.up = c.up && v > c.prev
				c.down = c.down && v < c.prev
			}
			c.prev, c.maxAbs = v, max(c.maxAbs, math.Abs(v))
			if c.seen != nil {
				if _, again := c.seen[v]; again {
					c.distinct, c.seen = false, nil
				} else {
					c.seen[v] = struct{}{}
				}
			}
		}
	})
	for j, name := range d.FeatureNames {
		n, integers, distinct, up, down, maxAbs := cols[j].n, cols[j].integers, cols[j].distinct, cols[j].up, cols[j].down, cols[j].maxAbs
		if n < idLikeMinRows {
			continue
		}
		var why string
		switch {
		case integers && maxAbs >= exactIntegers:
			why = fmt.Sprintf("integers up to %s stored as floating point, beyond the 2^53 a float64 holds exactly", formatNumber(maxAbs))
		case integers && distinct:
			why = fmt.Sprintf("a distinct integer in each of its %d rows", n)
		case up || down:
			dir := "increasing"
			if down {
				dir = "decreasing"
			}
			why = fmt.Sprintf("strictly %s with the row order", dir)
		default:
			continue
		}
		r.add(Finding{
			Check: CheckIDLike, Severity: SeverityWarning, Column: name,
			Message: fmt.Sprintf("column '%s' looks like an identifier (%s); as a feature it is a leakage risk — name it in id_column, or leave it out of features",
				name, why),
		})
	}
}

// checkSkipped warns of the text columns that are not features: a whole
// column of the user's data is dropped, which they should hear about (a
// numeric column written with a decimal comma reads as text).
func checkSkipped(_ context.Context, r *ValidationReport, _ ValidationOptions, t *dataset.Table, d *dataset.Dataset) {
	for _, name := range d.Skipped {
		example := ""
		if t != nil {
			if c, ok := t.Column(name); ok {
				for _, s := range c.Str {
					if s != "" {
						example = fmt.Sprintf(" (e.g. %q)", truncateText(s, 40))
						break
					}
				}
			}
		}
		r.add(Finding{
			Check: CheckSkippedColumn, Severity: SeverityWarning, Column: name,
			Message: fmt.Sprintf("text column '%s' is dropped: it holds text%s and only numeric columns can be features; encode it as numbers to use it", name, example),
		})
	}
}

func truncateText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "..."
	}
	return s
}
