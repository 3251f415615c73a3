package serving

import (
	"fmt"
	"math"
	"strconv"
)

// decoder reads one predict body with a scanner over its bytes: the body is
// walked once, without building a tree and, for valid input, with no
// allocation per value beyond the parsed numbers' (encoding/json's token
// stream costs an interface and often a string per token: several times the
// latency of the prediction itself).
type decoder struct {
	p      *Predictor
	s      scanner
	schema *SchemaError
	// seen keeps each feature named once in the SchemaError's lists.
	seenMissing, seenExtra, seenNonNum map[string]bool
}

func (d *decoder) body() (Batch, error) {
	if d.s.next() != '{' {
		return Batch{}, inputError(nil, "%s; want an object with instances or rows", d.s.describe())
	}
	d.s.pos++
	var (
		b    Batch
		kind string
	)
	for first := true; ; first = false {
		c := d.s.next()
		if c == '}' {
			d.s.pos++
			break
		}
		if !first {
			if c != ',' {
				return Batch{}, d.s.syntax("want ',' or '}' after an object member")
			}
			d.s.pos++
		}
		key, err := d.s.key()
		if err != nil {
			return Batch{}, err
		}
		switch k := string(key); {
		case k != "instances" && k != "rows":
			return Batch{}, inputError([]any{k}, "unknown field; the body holds instances (objects by feature name) or rows (arrays in the model's feature order)")
		case kind == k:
			return Batch{}, inputError([]any{k}, "appears twice")
		case kind != "":
			return Batch{}, inputError(nil, "give instances or rows, not both")
		default:
			kind = k
		}
		if b, err = d.list(kind); err != nil {
			return Batch{}, err
		}
	}
	if d.s.next() != 0 {
		return Batch{}, inputError(nil, "trailing data after the JSON object at byte %d", d.s.pos)
	}
	if kind == "" {
		return Batch{}, inputError(nil, "neither instances nor rows; give one of them")
	}
	return b, nil
}

// list reads the array of instances or rows.
func (d *decoder) list(kind string) (Batch, error) {
	if d.s.next() != '[' {
		desc := d.s.describe()
		if err := d.s.skipValue(0); err != nil {
			return Batch{}, err
		}
		return Batch{}, inputError([]any{kind}, "must be an array, not %s", desc)
	}
	d.s.pos++
	nf := len(d.p.features)
	var b Batch
	filled := make([]bool, nf)
	for first := true; ; first = false {
		c := d.s.next()
		if c == ']' {
			d.s.pos++
			break
		}
		if !first {
			if c != ',' {
				return Batch{}, d.s.syntax("want ',' or ']' after an array element")
			}
			d.s.pos++
		}
		if b.Rows >= d.p.limits.MaxRows {
			return Batch{}, inputError([]any{kind}, "more than %d entries; send at most %d per request", d.p.limits.MaxRows, d.p.limits.MaxRows)
		}
		if b.X == nil {
			b.X = make([]float64, 0, nf*min(d.p.limits.MaxRows, 128))
		}
		base := len(b.X)
		for range nf {
			b.X = append(b.X, math.NaN())
		}
		var err error
		if kind == "instances" {
			err = d.instance(b.Rows, b.X[base:], filled)
		} else {
			err = d.row(b.Rows, b.X[base:])
		}
		if err != nil {
			return Batch{}, err
		}
		b.Rows++
	}
	if b.Rows == 0 {
		return Batch{}, inputError([]any{kind}, "empty; give at least one entry")
	}
	return b, nil
}

// instance reads instance i, a {"feature": value} object, into x.
func (d *decoder) instance(i int, x []float64, filled []bool) error {
	if d.s.next() != '{' {
		desc := d.s.describe()
		if err := d.s.skipValue(0); err != nil {
			return err
		}
		return inputError([]any{"instances", i}, "must be an object of feature: value, not %s", desc)
	}
	d.s.pos++
	clear(filled)
	for first := true; ; first = false {
		c := d.s.next()
		if c == '}' {
			d.s.pos++
			break
		}
		if !first {
			if c != ',' {
				return d.s.syntax("want ',' or '}' after an object member")
			}
			d.s.pos++
		}
		key, err := d.s.key()
		if err != nil {
			return err
		}
		j, known := d.p.index[string(key)] // no allocation: the map lookup of a converted []byte
		if !known {
			name := string(key)
			if err := d.s.skipValue(0); err != nil {
				return err
			}
			d.note(&d.seenExtra, &d.schema.Extra, name)
			d.schema.add([]any{"instances", i, name}, "the model takes no feature %q", name)
			continue
		}
		if filled[j] {
			return inputError([]any{"instances", i, d.p.features[j]}, "appears twice in one instance")
		}
		filled[j] = true
		if err := d.value(place{"instances", i, d.p.features[j], -1}, j, &x[j]); err != nil {
			return err
		}
	}
	for j, ok := range filled {
		if !ok {
			f := d.p.features[j]
			d.note(&d.seenMissing, &d.schema.Missing, f)
			d.schema.add([]any{"instances", i, f}, "missing")
		}
	}
	return nil
}

// row reads row i, a [value, ...] array, into x.
func (d *decoder) row(i int, x []float64) error {
	if d.s.next() != '[' {
		desc := d.s.describe()
		if err := d.s.skipValue(0); err != nil {
			return err
		}
		return inputError([]any{"rows", i}, "must be an array of the model's %d features in order, not %s", len(x), desc)
	}
	d.s.pos++
	n := 0
	for first := true; ; first = false {
		c := d.s.next()
		if c == ']' {
			d.s.pos++
			break
		}
		if !first {
			if c != ',' {
				return d.s.syntax("want ',' or ']' after an array element")
			}
			d.s.pos++
		}
		if n >= len(x) {
			if err := d.s.skipValue(0); err != nil {
				return err
			}
			d.note(&d.seenExtra, &d.schema.Extra, fmt.Sprintf("rows[%d][%d]", i, n))
			d.schema.add([]any{"rows", i, n}, "a value past the model's %d features", len(x))
		} else if err := d.value(place{"rows", i, "", n}, n, &x[n]); err != nil {
			return err
		}
		n++
	}
	for j := n; j < len(x); j++ {
		f := d.p.features[j]
		d.note(&d.seenMissing, &d.schema.Missing, f)
		d.schema.add([]any{"rows", i}, "%d values; feature %d (%s) is missing", n, j, f)
	}
	return nil
}

// value reads the value of feature j into *dst: a finite number, or null
// (NaN). Anything else is a schema issue.
func (d *decoder) value(at place, j int, dst *float64) error {
	switch c := d.s.next(); {
	case c == '-' || c >= '0' && c <= '9':
		num, err := d.s.number()
		if err != nil {
			return err
		}
		f, perr := strconv.ParseFloat(string(num), 64)
		if perr == nil && !math.IsInf(f, 0) {
			*dst = f
			return nil
		}
		d.note(&d.seenNonNum, &d.schema.NonNumeric, d.p.features[j])
		d.schema.add(at.path(), "%s is not a finite number", num)
		return nil
	case c == 'n':
		if err := d.s.literal("null"); err != nil {
			return err
		}
		*dst = math.NaN()
		return nil
	}
	desc := d.s.describe()
	if err := d.s.skipValue(0); err != nil {
		return err
	}
	d.note(&d.seenNonNum, &d.schema.NonNumeric, d.p.features[j])
	d.schema.add(at.path(), "%s; want a number (or null for a missing measurement)", desc)
	return nil
}

// place is where a value is: instance i's key, or row i's n-th value.
// It becomes a path only when something is wrong there.
type place struct {
	kind string
	i    int
	key  string
	n    int // -1 for an instance's key
}

func (p place) path() []any {
	if p.n < 0 {
		return []any{p.kind, p.i, p.key}
	}
	return []any{p.kind, p.i, p.n}
}

// note appends name to list once.
func (d *decoder) note(seen *map[string]bool, list *[]string, name string) {
	if *seen == nil {
		*seen = map[string]bool{}
	}
	if !(*seen)[name] {
		(*seen)[name] = true
		*list = append(*list, name)
	}
}
