package dataset

import "math"

// DistinctCap is the largest distinct-value count a Schema reports; columns
// with more distinct values report DistinctCap.
const DistinctCap = 10000

// Schema describes a Table's columns: name, inferred kind and cell counts.
type Schema struct {
	// HDU is Table.HDU: the FITS HDU or VOTable TABLE the columns came from.
	HDU     string         `json:"hdu,omitempty"`
	Rows    int            `json:"rows"`
	Columns []ColumnSchema `json:"columns"`
}

// ColumnSchema describes one column.
type ColumnSchema struct {
	Name string `json:"name"`
	// Kind is "numeric" or "text" in JSON.
	Kind Kind `json:"kind"`
	// Unit is the column's physical unit (FITS TUNIT, VOTable unit), when
	// the file gives one.
	Unit string `json:"unit,omitempty"`
	// Missing counts empty cells, missing markers and Parquet nulls.
	Missing int `json:"missing"`
	// Invalid counts the text cells of a Numeric column.
	Invalid int `json:"invalid"`
	// Distinct counts the distinct present values (NaN and missing cells
	// excluded), at most DistinctCap.
	Distinct int `json:"distinct"`
}

// Column returns the column called name.
func (t *Table) Column(name string) (*Column, bool) {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i], true
		}
	}
	return nil, false
}

// Names returns the column names in table order.
func (t *Table) Names() []string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return names
}

// Schema summarises the table's columns.
func (t *Table) Schema() Schema {
	s := Schema{HDU: t.HDU, Rows: t.Rows, Columns: make([]ColumnSchema, len(t.Columns))}
	for i := range t.Columns {
		c := &t.Columns[i]
		s.Columns[i] = ColumnSchema{
			Name:     c.Name,
			Kind:     c.Kind,
			Unit:     c.Unit,
			Missing:  len(c.Missing),
			Invalid:  len(c.Invalid),
			Distinct: c.distinct(),
		}
	}
	return s
}

// distinct counts the column's distinct present values, up to DistinctCap.
func (c *Column) distinct() int {
	if c.Kind == Text {
		seen := make(map[string]struct{})
		missing := c.Missing
		for i, v := range c.Str {
			if len(missing) > 0 && missing[0] == i+1 {
				missing = missing[1:]
				continue
			}
			seen[v] = struct{}{}
			if len(seen) >= DistinctCap {
				break
			}
		}
		return len(seen)
	}
	seen := make(map[float64]struct{})
	for _, v := range c.Num {
		if math.IsNaN(v) {
			continue
		}
		seen[v] = struct{}{} // -0 and +0 are one key: map keys compare with ==
		if len(seen) >= DistinctCap {
			break
		}
	}
	return len(seen)
}
