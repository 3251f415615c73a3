package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Catalog conventions: sentinel values that mean "no measurement", columns
// that identify rows or group them, published splits, and measurement
// error columns.

// IsSentinel reports whether v is the sentinel s: equal as float64, or as
// float32, so that 99.99 matches a single-precision column's 99.99 (which
// widens to 99.98999786...).
func IsSentinel(v, s float64) bool {
	return v == s || (!math.IsNaN(v) && float32(v) == float32(s) && !math.IsInf(float64(float32(s)), 0))
}

// MarkMissing turns catalog sentinels into missing values: every cell of a
// Numeric column named in sentinels whose value IsSentinel of one of its
// sentinels becomes NaN and is added to the column's Missing rows. It
// returns how many cells of each column it marked. A name that is not a
// column, or is a Text column, is an error wrapping ErrMissingColumn or
// ErrNonNumeric that names it; nothing is changed then.
func (t *Table) MarkMissing(sentinels map[string][]float64) (map[string]int, error) {
	for name := range sentinels {
		c, ok := t.Column(name)
		switch {
		case !ok:
			return nil, fmt.Errorf("%w: missing_values names column %q, which %s does not have (columns: %s)",
				ErrMissingColumn, name, t.Source, strings.Join(t.Names(), ", "))
		case c.Kind != Numeric:
			return nil, fmt.Errorf("%w: missing_values names column %q of %s, which holds text", ErrNonNumeric, name, t.Source)
		}
	}
	counts := map[string]int{}
	for name, values := range sentinels {
		if len(values) == 0 {
			continue
		}
		c, _ := t.Column(name)
		var marked []int
		for i, v := range c.Num {
			if math.IsNaN(v) {
				continue
			}
			for _, s := range values {
				if IsSentinel(v, s) {
					c.Num[i] = math.NaN()
					marked = append(marked, i+1)
					break
				}
			}
		}
		if len(marked) == 0 {
			continue
		}
		counts[name] = len(marked)
		merged := make([]int, 0, len(c.Missing)+len(marked))
		merged = append(merged, c.Missing...)
		merged = append(merged, marked...)
		slices.Sort(merged)
		c.Missing = slices.Compact(merged)
	}
	return counts, nil
}

// Labels returns each row's value of column name as text (a number
// formatted as strconv.FormatFloat(v, 'g', -1, 64)), "" where the cell is
// missing. An unknown column is an error wrapping ErrMissingColumn.
func (t *Table) Labels(name string) ([]string, error) {
	c, ok := t.Column(name)
	if !ok {
		return nil, fmt.Errorf("%w: column %q is not in %s (columns: %s)", ErrMissingColumn, name, t.Source, strings.Join(t.Names(), ", "))
	}
	out := make([]string, t.Rows)
	if c.Kind == Text {
		copy(out, c.Str)
		return out, nil
	}
	for i, v := range c.Num {
		if !math.IsNaN(v) {
			out[i] = strconv.FormatFloat(v, 'g', -1, 64)
		}
	}
	return out, nil
}

// ErrorColumn returns the column that holds the measurement error of
// column name by the usual catalog names: "<name>_err", "<name>err",
// "e_<name>" or "<name>_error" (case-insensitive), or "" when there is
// none.
func (t *Table) ErrorColumn(name string) string {
	want := []string{name + "_err", "e_" + name, name + "_error", name + "err"}
	for _, w := range want {
		for _, c := range t.Columns {
			if c.Kind == Numeric && strings.EqualFold(c.Name, w) && c.Name != name {
				return c.Name
			}
		}
	}
	return ""
}

// SplitNames are the values of a split column that put a row in train,
// validation or test.
type SplitNames struct {
	Train      string `json:"train,omitempty"`
	Validation string `json:"validation,omitempty"`
	Test       string `json:"test,omitempty"`
}

// DefaultSplitNames are "train", "validation" and "test".
var DefaultSplitNames = SplitNames{Train: "train", Validation: "validation", Test: "test"}

// WithDefaults fills the empty names from DefaultSplitNames.
func (n SplitNames) WithDefaults() SplitNames {
	if n.Train == "" {
		n.Train = DefaultSplitNames.Train
	}
	if n.Validation == "" {
		n.Validation = DefaultSplitNames.Validation
	}
	if n.Test == "" {
		n.Test = DefaultSplitNames.Test
	}
	return n
}

// SplitByLabels partitions d by each row's label (labels is indexed by the
// source table's rows, as Table.Labels returns them; d.RowIDs picks from
// it), compared with the names case-insensitively after trimming. A row
// whose label is none of the names, or missing, is an error wrapping
// ErrUnknownClass that names the row, the value and the names; train and
// test must each get a row (ErrTooFewRows). Validation may be empty: the
// caller then holds part of train out (HoldOut). Every subset lists its
// rows in their original order.
func SplitByLabels(d *Dataset, labels []string, column string, names SplitNames) (Split, error) {
	names = names.WithDefaults()
	var train, val, test []int
	for i := range d.Rows {
		id := i + 1
		if i < len(d.RowIDs) {
			id = d.RowIDs[i]
		}
		if id < 1 || id > len(labels) {
			return Split{}, fmt.Errorf("dataset: split column %q has no value for row %d", column, id)
		}
		v := strings.TrimSpace(labels[id-1])
		switch {
		case strings.EqualFold(v, names.Train):
			train = append(train, i)
		case strings.EqualFold(v, names.Validation):
			val = append(val, i)
		case strings.EqualFold(v, names.Test):
			test = append(test, i)
		default:
			return Split{}, fmt.Errorf("%w: split column %q holds %q in row %d; want %q, %q or %q",
				ErrUnknownClass, column, v, id, names.Train, names.Validation, names.Test)
		}
	}
	if len(train) == 0 || len(test) == 0 {
		return Split{}, fmt.Errorf("%w: split column %q marks %d train and %d test rows; both are needed (validation %d)",
			ErrTooFewRows, column, len(train), len(test), len(val))
	}
	return Split{Train: d.Subset(train), Validation: d.Subset(val), Test: d.Subset(test)}, nil
}

// HoldOut splits d in two, keeping each class's share: fraction (in
// (0, 1)) of each class's rows are held out, at least one and never all.
// With groups (one label per row of d, nil for none) whole groups are held
// out, as StratifiedGroupSplit assigns them. The same seed gives the same
// split; both parts keep the original row order.
func HoldOut(d *Dataset, fraction float64, seed int64, groups []string) (kept, held *Dataset, err error) {
	if !(fraction > 0 && fraction < 1) {
		return nil, nil, fmt.Errorf("%w: hold-out fraction %v is not in (0, 1)", ErrInvalidFraction, fraction)
	}
	if groups != nil {
		dest, err := assignGroups(d, groups, []float64{fraction}, seed)
		if err != nil {
			return nil, nil, err
		}
		var k, h []int
		for i, to := range dest {
			if to == 1 {
				h = append(h, i)
			} else {
				k = append(k, i)
			}
		}
		return d.Subset(k), d.Subset(h), nil
	}
	byClass := make([][]int, len(d.Classes))
	for i, c := range d.Y {
		byClass[c] = append(byClass[c], i)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x6a09e667f3bcc908))
	hold := make([]bool, d.Rows)
	for c, rows := range byClass {
		n := len(rows)
		if n == 0 {
			continue
		}
		if n < 2 {
			return nil, nil, fmt.Errorf("%w: class %q of target %q has %d row; holding part of it out needs at least 2",
				ErrTooFewRows, d.Classes[c], d.Target, n)
		}
		nHeld := min(n-1, max(1, int(math.Round(float64(n)*fraction))))
		shuffled := slices.Clone(rows)
		rng.Shuffle(n, func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		for _, i := range shuffled[:nHeld] {
			hold[i] = true
		}
	}
	var k, h []int
	for i, held := range hold {
		if held {
			h = append(h, i)
		} else {
			k = append(k, i)
		}
	}
	return d.Subset(k), d.Subset(h), nil
}

// StratifiedGroupSplit partitions d into train, validation and test so that
// every group's rows (groups: one label per row of d, "" a group of its
// own per row) land in one subset — the detections of one object never
// straddle train and test — while keeping each class's share as nearly as
// whole groups allow.
//
// Each group counts for the class most of its rows hold (the smallest
// class index on a tie). For each class, its groups are sorted by label and
// shuffled with a PCG generator seeded from seed; groups go to test until
// the test rows reach round(n_c*test), then to validation until those reach
// round(n_c*validation), and the rest to train — each of the three gets at
// least one group of every class, which therefore needs at least three
// groups (ErrTooFewRows otherwise). The same seed gives the same split.
func StratifiedGroupSplit(d *Dataset, groups []string, validation, test float64, seed int64) (Split, error) {
	if !(validation > 0 && validation < 1) || !(test > 0 && test < 1) || !(validation+test < 1) {
		return Split{}, fmt.Errorf("%w: validation %v and test %v must each be in (0, 1) with a sum below 1",
			ErrInvalidFraction, validation, test)
	}
	dest, err := assignGroups(d, groups, []float64{test, validation}, seed)
	if err != nil {
		return Split{}, err
	}
	var train, val, tst []int
	for i, to := range dest {
		switch to {
		case 1:
			tst = append(tst, i)
		case 2:
			val = append(val, i)
		default:
			train = append(train, i)
		}
	}
	return Split{Train: d.Subset(train), Validation: d.Subset(val), Test: d.Subset(tst)}, nil
}

// assignGroups gives each row of d a destination: 1 + k for the k-th of
// fractions, 0 for the rest, whole groups at a time.
func assignGroups(d *Dataset, groups []string, fractions []float64, seed int64) ([]uint8, error) {
	if len(groups) != d.Rows {
		return nil, fmt.Errorf("dataset: %d group labels for %d rows", len(groups), d.Rows)
	}
	type group struct {
		label string
		rows  []int
		class int
	}
	index := map[string]int{}
	var gs []*group
	for i, g := range groups {
		key := g
		if g == "" {
			key = "\x00row " + strconv.Itoa(i) // a row without a group is a group of its own
		}
		k, ok := index[key]
		if !ok {
			k = len(gs)
			index[key] = k
			gs = append(gs, &group{label: key})
		}
		gs[k].rows = append(gs[k].rows, i)
	}
	byClass := make([][]*group, len(d.Classes))
	counts := make([]int, len(d.Classes))
	for _, g := range gs {
		clear(counts)
		for _, i := range g.rows {
			counts[d.Y[i]]++
		}
		g.class = 0
		for c, n := range counts {
			if n > counts[g.class] {
				g.class = c
			}
		}
		byClass[g.class] = append(byClass[g.class], g)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x3c6ef372fe94f82b))
	dest := make([]uint8, d.Rows)
	parts := len(fractions) + 1
	for c, list := range byClass {
		if len(list) == 0 {
			continue
		}
		if len(list) < parts {
			return nil, fmt.Errorf("%w: class %q of target %q is the main class of %d groups; a grouped split into %d parts needs at least %d",
				ErrTooFewRows, d.Classes[c], d.Target, len(list), parts, parts)
		}
		slices.SortFunc(list, func(a, b *group) int { return strings.Compare(a.label, b.label) })
		rng.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
		n := 0
		for _, g := range list {
			n += len(g.rows)
		}
		next := 0
		for k, f := range fractions {
			target := int(math.Round(float64(n) * f))
			got := 0
			// Each part takes at least one group, and leaves one for every
			// part after it (train last).
			for next < len(list)-(len(fractions)-k) && (got == 0 || got < target) {
				g := list[next]
				if got > 0 && got+len(g.rows)/2 > target {
					break
				}
				for _, i := range g.rows {
					dest[i] = uint8(k + 1)
				}
				got += len(g.rows)
				next++
			}
		}
	}
	return dest, nil
}
