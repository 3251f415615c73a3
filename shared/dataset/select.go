package dataset

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// SelectOptions chooses what a Dataset is made of.
type SelectOptions struct {
	// Target names the label column (required).
	Target string
	// Positive is the positive class label. Empty picks one for binary
	// targets (see Select) and makes a target with more than two labels a
	// multi-class task; given with more than two labels, it makes the task
	// one-vs-rest.
	Positive string
	// Features lists the feature columns in order; empty means every Numeric
	// column except the target and Exclude.
	Features []string
	// Exclude names columns that are never features (identifiers, group
	// and split columns): left out of the default features, and an error
	// when Features lists one.
	Exclude []string
	// Classes, when given, fixes the label encoding (the Classes of a data
	// set this one must match, such as a separate test file's training
	// data): a binary task has Classes [negative, positive] and a
	// multi-class one these labels in this order; a label outside them is
	// an error wrapping ErrUnknownClass.
	Classes []string
}

// positiveWords are the labels taken as the positive class of a binary target
// when none is given, in order of preference (compared case-insensitively).
var positiveWords = []string{"1", "true", "yes", "positive"}

// Select builds the numeric data set a model trains on.
//
// Labels are the target's raw strings for a Text target, and
// strconv.FormatFloat(v, 'g', -1, 64) for a Numeric one ("1" for 1.0). With
// two labels the task is binary and Classes is [negative, positive]; the
// positive class is opts.Positive (matched exactly, then by numeric value, so
// "1.0" finds "1", then case-insensitively), else the label "1", "true", "yes"
// or "positive" (any case), else the minority class (on a tie the
// lexicographically larger label). With more labels and no opts.Positive the
// task is multi-class: Classes sorted (numerically when every label is a
// number) and Positive -1; with opts.Positive it is one-vs-rest with Classes
// ["not <positive>", positive].
//
// Errors wrap ErrMissingColumn (unknown target or feature; the message lists
// the columns), ErrMissingTarget (a row without a label), ErrNonNumeric (a text
// feature, or text among a numeric target), ErrSingleClass and
// ErrUnknownClass.
func (t *Table) Select(opts SelectOptions) (*Dataset, error) {
	if opts.Target == "" {
		return nil, fmt.Errorf("%w: no target column given for %s (columns: %s)", ErrMissingColumn, t.Source, strings.Join(t.Names(), ", "))
	}
	tc, ok := t.Column(opts.Target)
	if !ok {
		return nil, fmt.Errorf("%w: target %q is not a column of %s (columns: %s)", ErrMissingColumn, opts.Target, t.Source, strings.Join(t.Names(), ", "))
	}
	labels, err := t.targetLabels(tc)
	if err != nil {
		return nil, err
	}
	var classes []string
	var y []int
	var positive int
	if len(opts.Classes) > 0 {
		classes, y, positive, err = encodeFixed(labels, opts, tc.Name)
	} else {
		classes, y, positive, err = encodeLabels(labels, opts, tc.Name)
	}
	if err != nil {
		return nil, err
	}
	features, err := t.featureColumns(opts, tc.Name)
	if err != nil {
		return nil, err
	}
	d := &Dataset{
		FeatureNames: make([]string, len(features)),
		Rows:         t.Rows,
		Y:            y,
		Classes:      classes,
		Positive:     positive,
		Target:       tc.Name,
		RowIDs:       make([]int, t.Rows),
	}
	nf := len(features)
	d.X = make([]float64, t.Rows*nf)
	for j, c := range features {
		d.FeatureNames[j] = c.Name
	}
	transposeColumns(d.X, features, t.Rows)
	for i := range d.RowIDs {
		d.RowIDs[i] = i + 1
	}
	for _, c := range t.Columns {
		if c.Kind == Text && c.Name != tc.Name && !slices.Contains(opts.Exclude, c.Name) {
			d.Skipped = append(d.Skipped, c.Name)
		}
	}
	return d, nil
}

// targetLabels holds the target's labels without a string per row: the
// distinct labels in order of first appearance, the row of each one's first
// appearance (0-based), and each row's index into them.
type targetLabels struct {
	distinct []string
	first    []int
	code     []int32
}

// targetLabels returns each row's label code, or an error naming the first
// row without one. A numeric target's label is
// strconv.FormatFloat(v, 'g', -1, 64), formatted once per distinct value
// rather than once per row (a string per row was most of Select's time and
// a fifth of its memory).
func (t *Table) targetLabels(tc *Column) (targetLabels, error) {
	if len(tc.Missing) > 0 {
		return targetLabels{}, fmt.Errorf("%w: target %q of %s is empty in row %d (%d rows in all); drop or label those rows",
			ErrMissingTarget, tc.Name, t.Source, tc.Missing[0], len(tc.Missing))
	}
	l := targetLabels{code: make([]int32, t.Rows)}
	add := func(label string, row int) int32 {
		l.distinct = append(l.distinct, label)
		l.first = append(l.first, row)
		return int32(len(l.distinct) - 1)
	}
	if tc.Kind == Text {
		index := make(map[string]int32)
		for i, s := range tc.Str[:t.Rows] {
			k, ok := index[s]
			if !ok {
				k = add(s, i)
				index[s] = k
			}
			l.code[i] = k
		}
		return l, nil
	}
	if len(tc.Invalid) > 0 {
		c := tc.Invalid[0]
		return targetLabels{}, fmt.Errorf("%w: target %q of %s holds %q in row %d among numbers (%d such rows)",
			ErrNonNumeric, tc.Name, t.Source, c.Value, c.Row, len(tc.Invalid))
	}
	// Keyed by the bits, not the value: -0 and 0 format as "-0" and "0",
	// two labels, as they were when every row was formatted.
	index := make(map[uint64]int32)
	prevBits, prevCode := uint64(0), int32(-1)
	for i, v := range tc.Num[:t.Rows] {
		if v != v { // a literal NaN
			return targetLabels{}, fmt.Errorf("%w: target %q of %s is NaN in row %d", ErrMissingTarget, tc.Name, t.Source, i+1)
		}
		bits := math.Float64bits(v)
		if prevCode >= 0 && bits == prevBits {
			l.code[i] = prevCode
			continue
		}
		k, ok := index[bits]
		if !ok {
			k = add(strconv.FormatFloat(v, 'g', -1, 64), i)
			index[bits] = k
		}
		l.code[i], prevBits, prevCode = k, bits, k
	}
	return l, nil
}

// encodeLabels maps labels to class indices as Select documents.
func encodeLabels(labels targetLabels, opts SelectOptions, target string) (classes []string, y []int, positive int, err error) {
	perCode := make([]int, len(labels.distinct))
	for _, k := range labels.code {
		perCode[k]++
	}
	classes, classOf, positive, err := labelClasses(labels.distinct, perCode, opts, target)
	if err != nil {
		return nil, nil, 0, err
	}
	return classes, labels.classes(classOf), positive, nil
}

// labelClasses is the encoding rule of Select for the distinct labels of a
// target (in order of first appearance) and each one's row count: the
// classes, each label's class index, and the positive class (-1 for a
// multi-class task). The streaming reader (ParquetStream) applies it to
// the counts of its first pass, so both paths encode alike.
func labelClasses(labels []string, perLabel []int, opts SelectOptions, target string) (classes []string, classOf []int, positive int, err error) {
	counts := make(map[string]int, len(labels))
	distinct := slices.Clone(labels)
	for k, l := range labels {
		counts[l] += perLabel[k]
	}
	sortLabels(distinct)
	if len(distinct) < 2 {
		only := ""
		if len(distinct) == 1 {
			only = distinct[0]
		}
		return nil, nil, 0, fmt.Errorf("%w: target %q has only the label %q", ErrSingleClass, target, only)
	}
	// classOf maps each label code to its class index.
	classOf = make([]int, len(labels))
	if len(distinct) > 2 && opts.Positive == "" {
		index := make(map[string]int, len(distinct))
		for i, l := range distinct {
			index[l] = i
		}
		for k, l := range labels {
			classOf[k] = index[l]
		}
		return distinct, classOf, -1, nil
	}
	var pos string
	if opts.Positive != "" {
		var ok bool
		if pos, ok = matchLabel(opts.Positive, distinct); !ok {
			return nil, nil, 0, fmt.Errorf("%w: positive class %q is not a label of target %q (labels: %s)",
				ErrUnknownClass, opts.Positive, target, strings.Join(distinct, ", "))
		}
	} else {
		pos = defaultPositive(distinct, counts)
	}
	for k, l := range labels {
		if l == pos {
			classOf[k] = 1
		}
	}
	if len(distinct) > 2 {
		return []string{"not " + pos, pos}, classOf, 1, nil
	}
	neg := distinct[0]
	if neg == pos {
		neg = distinct[1]
	}
	return []string{neg, pos}, classOf, 1, nil
}

// classes returns each row's class, classOf[code].
func (l targetLabels) classes(classOf []int) []int {
	y := make([]int, len(l.code))
	for i, k := range l.code {
		y[i] = classOf[k]
	}
	return y
}

// encodeFixed maps labels to the class indices of opts.Classes.
func encodeFixed(labels targetLabels, opts SelectOptions, target string) ([]string, []int, int, error) {
	classes := slices.Clone(opts.Classes)
	positive := -1
	if len(classes) == 2 {
		positive = 1
	}
	index := make(map[string]int, len(classes))
	for i, c := range classes {
		index[c] = i
	}
	notPositive := ""
	if positive == 1 && strings.HasPrefix(classes[0], "not ") && classes[0][4:] == classes[1] {
		notPositive = classes[0] // one-vs-rest: every other label is the negative class
	}
	classOf := make([]int, len(labels.distinct))
	// Labels in order of first appearance: the first unknown one is the
	// one in the earliest row.
	for k, l := range labels.distinct {
		c, ok := index[l]
		if !ok {
			if m, found := matchLabel(l, classes); found {
				c, ok = index[m], true
			}
		}
		if !ok && notPositive != "" {
			c, ok = 0, true
		}
		if !ok {
			return nil, nil, 0, fmt.Errorf("%w: target %q holds %q in row %d, which is not one of the classes %s",
				ErrUnknownClass, target, l, labels.first[k]+1, strings.Join(classes, ", "))
		}
		classOf[k] = c
	}
	return classes, labels.classes(classOf), positive, nil
}

// matchLabel finds want among labels: exactly, then as the same number, then
// case-insensitively when that is unambiguous.
func matchLabel(want string, labels []string) (string, bool) {
	if slices.Contains(labels, want) {
		return want, true
	}
	if w, ok := parseNumber(strings.TrimSpace(want)); ok {
		for _, l := range labels {
			if v, ok := parseNumber(l); ok && v == w {
				return l, true
			}
		}
	}
	found, n := "", 0
	for _, l := range labels {
		if strings.EqualFold(l, want) {
			found, n = l, n+1
		}
	}
	return found, n == 1
}

// defaultPositive picks the positive class of a binary target.
func defaultPositive(labels []string, counts map[string]int) string {
	for _, w := range positiveWords {
		for _, l := range labels {
			if strings.EqualFold(l, w) {
				return l
			}
		}
	}
	a, b := labels[0], labels[1]
	switch {
	case counts[a] < counts[b]:
		return a
	case counts[b] < counts[a]:
		return b
	case a > b:
		return a
	}
	return b
}

// sortLabels sorts labels numerically when all are numbers, else as strings.
func sortLabels(labels []string) {
	values := make(map[string]float64, len(labels))
	for _, l := range labels {
		v, ok := parseNumber(l)
		if !ok || v != v {
			slices.Sort(labels)
			return
		}
		values[l] = v
	}
	slices.SortFunc(labels, func(a, b string) int {
		switch va, vb := values[a], values[b]; {
		case va < vb:
			return -1
		case va > vb:
			return 1
		}
		return strings.Compare(a, b)
	})
}

// featureColumns resolves the feature columns of a selection.
func (t *Table) featureColumns(opts SelectOptions, target string) ([]*Column, error) {
	if len(opts.Features) == 0 {
		var cols []*Column
		for i := range t.Columns {
			c := &t.Columns[i]
			if c.Kind == Numeric && c.Name != target && !slices.Contains(opts.Exclude, c.Name) {
				cols = append(cols, c)
			}
		}
		if len(cols) == 0 {
			return nil, fmt.Errorf("%w: %s has no numeric column besides the target %q (columns: %s)",
				ErrNonNumeric, t.Source, target, strings.Join(t.Names(), ", "))
		}
		return cols, nil
	}
	cols := make([]*Column, 0, len(opts.Features))
	seen := make(map[string]bool, len(opts.Features))
	for _, name := range opts.Features {
		c, ok := t.Column(name)
		switch {
		case !ok:
			return nil, fmt.Errorf("%w: feature %q is not a column of %s (columns: %s)",
				ErrMissingColumn, name, t.Source, strings.Join(t.Names(), ", "))
		case name == target:
			return nil, fmt.Errorf("dataset: feature %q of %s is the target column", name, t.Source)
		case slices.Contains(opts.Exclude, name):
			return nil, fmt.Errorf("dataset: feature %q of %s is an identifier, group or split column, which is never a feature", name, t.Source)
		case seen[name]:
			return nil, fmt.Errorf("dataset: feature %q of %s is listed twice", name, t.Source)
		case c.Kind == Text:
			row, value := c.firstText()
			return nil, fmt.Errorf("%w: feature %q of %s is a text column (row %d holds %q); only numeric columns can be features",
				ErrNonNumeric, name, t.Source, row, value)
		}
		seen[name] = true
		cols = append(cols, c)
	}
	return cols, nil
}

// firstText returns the first present cell of a Text column.
func (c *Column) firstText() (int, string) {
	missing := c.Missing
	for i, v := range c.Str {
		if len(missing) > 0 && missing[0] == i+1 {
			missing = missing[1:]
			continue
		}
		return i + 1, v
	}
	return 0, ""
}

// Features returns the number of feature columns.
func (d *Dataset) Features() int { return len(d.FeatureNames) }

// ClassCounts returns the number of rows of each class, indexed like Classes.
func (d *Dataset) ClassCounts() []int {
	counts := make([]int, len(d.Classes))
	for _, c := range d.Y {
		if c >= 0 && c < len(counts) {
			counts[c]++
		}
	}
	return counts
}

// Subset returns a new Dataset holding copies of the rows idx (0-based, in
// the given order); indices outside [0, Rows) are left out.
func (d *Dataset) Subset(idx []int) *Dataset {
	nf := d.Features()
	s := &Dataset{
		FeatureNames: slices.Clone(d.FeatureNames),
		X:            make([]float64, 0, len(idx)*nf),
		Y:            make([]int, 0, len(idx)),
		Classes:      slices.Clone(d.Classes),
		Positive:     d.Positive,
		Target:       d.Target,
		RowIDs:       make([]int, 0, len(idx)),
		Skipped:      slices.Clone(d.Skipped),
	}
	if d.Weights != nil {
		s.Weights = make([]float64, 0, len(idx))
	}
	for _, i := range idx {
		if i < 0 || i >= d.Rows || i >= len(d.Y) || (i+1)*nf > len(d.X) {
			continue
		}
		s.X = append(s.X, d.X[i*nf:(i+1)*nf]...)
		s.Y = append(s.Y, d.Y[i])
		if i < len(d.RowIDs) {
			s.RowIDs = append(s.RowIDs, d.RowIDs[i])
		} else {
			s.RowIDs = append(s.RowIDs, i+1)
		}
		if s.Weights != nil {
			w := 1.0
			if i < len(d.Weights) {
				w = d.Weights[i]
			}
			s.Weights = append(s.Weights, w)
		}
		s.Rows++
	}
	return s
}

// transposeBlockRows is how many rows transposeColumns writes per block:
// 1,024 rows of ten float64 features are 80 KiB, which stay in the L2
// cache while every column is written into them.
const transposeBlockRows = 1024

// transposeColumns writes the columns' values into the row-major x (rows
// × len(cols)), a block of rows at a time. Column by column over the whole
// matrix, each column's pass would touch every cache line of x again (ten
// features: ten passes over it, 4.9 of the 53 s of a 10M-row run); by
// blocks, each line is written while it is in the cache. The blocks are
// shared among GOMAXPROCS goroutines, each writing its own rows.
func transposeColumns(x []float64, cols []*Column, rows int) {
	nf := len(cols)
	blocks := (rows + transposeBlockRows - 1) / transposeBlockRows
	write := func(first, last int) {
		for b := first; b < last; b++ {
			lo := b * transposeBlockRows
			hi := min(rows, lo+transposeBlockRows)
			for j, c := range cols {
				for i, v := range c.Num[lo:hi] {
					x[(lo+i)*nf+j] = v
				}
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), blocks/64) // 64 blocks, 64k rows, a worker at least
	if workers <= 1 {
		write(0, blocks)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { write(w*blocks/workers, (w+1)*blocks/workers) })
	}
	wg.Wait()
}
