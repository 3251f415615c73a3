package dataset

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
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
		for i, v := range c.Num {
			d.X[i*nf+j] = v
		}
	}
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

// targetLabels returns each row's label, or an error naming the first row
// without one.
func (t *Table) targetLabels(tc *Column) ([]string, error) {
	if len(tc.Missing) > 0 {
		return nil, fmt.Errorf("%w: target %q of %s is empty in row %d (%d rows in all); drop or label those rows",
			ErrMissingTarget, tc.Name, t.Source, tc.Missing[0], len(tc.Missing))
	}
	labels := make([]string, t.Rows)
	if tc.Kind == Text {
		copy(labels, tc.Str)
		return labels, nil
	}
	if len(tc.Invalid) > 0 {
		c := tc.Invalid[0]
		return nil, fmt.Errorf("%w: target %q of %s holds %q in row %d among numbers (%d such rows)",
			ErrNonNumeric, tc.Name, t.Source, c.Value, c.Row, len(tc.Invalid))
	}
	for i, v := range tc.Num {
		if v != v { // a literal NaN
			return nil, fmt.Errorf("%w: target %q of %s is NaN in row %d", ErrMissingTarget, tc.Name, t.Source, i+1)
		}
		labels[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return labels, nil
}

// encodeLabels maps labels to class indices as Select documents.
func encodeLabels(labels []string, opts SelectOptions, target string) (classes []string, y []int, positive int, err error) {
	counts := make(map[string]int)
	var distinct []string
	for _, l := range labels {
		if counts[l] == 0 {
			distinct = append(distinct, l)
		}
		counts[l]++
	}
	sortLabels(distinct)
	if len(distinct) < 2 {
		return nil, nil, 0, fmt.Errorf("%w: target %q has only the label %q", ErrSingleClass, target, distinct[0])
	}
	y = make([]int, len(labels))
	if len(distinct) > 2 && opts.Positive == "" {
		index := make(map[string]int, len(distinct))
		for i, l := range distinct {
			index[l] = i
		}
		for i, l := range labels {
			y[i] = index[l]
		}
		return distinct, y, -1, nil
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
	for i, l := range labels {
		if l == pos {
			y[i] = 1
		}
	}
	if len(distinct) > 2 {
		return []string{"not " + pos, pos}, y, 1, nil
	}
	neg := distinct[0]
	if neg == pos {
		neg = distinct[1]
	}
	return []string{neg, pos}, y, 1, nil
}

// encodeFixed maps labels to the class indices of opts.Classes.
func encodeFixed(labels []string, opts SelectOptions, target string) ([]string, []int, int, error) {
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
	y := make([]int, len(labels))
	for i, l := range labels {
		k, ok := index[l]
		if !ok {
			if m, found := matchLabel(l, classes); found {
				k, ok = index[m], true
			}
		}
		if !ok && notPositive != "" {
			k, ok = 0, true
		}
		if !ok {
			return nil, nil, 0, fmt.Errorf("%w: target %q holds %q in row %d, which is not one of the classes %s",
				ErrUnknownClass, target, l, i+1, strings.Join(classes, ", "))
		}
		y[i] = k
	}
	return classes, y, positive, nil
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
