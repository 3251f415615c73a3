package dataset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// ctxCheckRows is how many rows a reader parses between checks of its context.
const ctxCheckRows = 4096

// Read reads the table at path, choosing the format by its extension (see
// FormatOf): CSV, TSV, Parquet, FITS (.fits, .fit, .fts, optionally .gz)
// and VOTable (.vot, .votable, .xml, optionally .gz). A FITS or VOTable path
// may end in a table selector, "catalog.fits[EVENTS]" (see SplitHDU and
// ReadOptions.HDU). Any other extension gives an error wrapping
// ErrUnsupported. The table's Source is path and its Hash the hex SHA-256
// of the file's bytes.
//
// Errors wrap ErrEmptyFile, ErrNoRows, ErrRaggedRow or ErrBadHeader for broken
// files, name the file, and for CSV the line.
func Read(ctx context.Context, path string) (*Table, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	format, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	file, hdu := SplitHDU(path)
	// A FIFO, device or directory would block or fail in ReadFile, past
	// cancellation: only regular files are read.
	info, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s (%s): %w", file, fileKind(info.Mode()), ErrNotRegular)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	return ReadBytes(ctx, data, path, format, ReadOptions{HDU: hdu})
}

// ReadCSV reads a delimited text table from r: sep is the field separator
// (',' or '\t'), and name identifies the input in errors and becomes the
// table's Source. The first row is the header. Hash is the hex SHA-256 of the
// bytes read.
func ReadCSV(ctx context.Context, r io.Reader, name string, sep rune) (*Table, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	sum := sha256.Sum256(data)
	return parseCSV(ctx, data, name, sep, hex.EncodeToString(sum[:]))
}

// isMissing reports whether a trimmed cell is one of the missing-value markers.
// A literal "NaN" is not a marker: it parses as the number NaN.
func isMissing(s string) bool {
	switch s {
	case "", "NA", "N/A", "null", "NULL", "None", "?":
		return true
	}
	return false
}

// parseNumber parses a trimmed cell as a float64. Out-of-range values count as
// numbers (±Inf or 0), as strconv returns them.
func parseNumber(s string) (float64, bool) {
	v, err := strconv.ParseFloat(s, 64)
	if err == nil || errors.Is(err, strconv.ErrRange) {
		return v, true
	}
	return 0, false
}

// csvColumn accumulates one column during the first pass over a CSV file.
type csvColumn struct {
	num        []float64
	missing    []int
	numeric    int // cells that parse as numbers
	nonNumeric int // non-missing cells that do not
}

// parseCSV reads data in at most two passes. The first parses every cell as a
// number and counts what does not parse; only when some column holds text does
// a second pass collect the raw strings of text columns and the invalid cells
// of numeric ones, so purely numeric files (the common case) are read once.
func parseCSV(ctx context.Context, data []byte, name string, sep rune, hash string) (*Table, error) {
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrEmptyFile, name)
	}
	r := newCSVReader(data, sep)
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s", ErrEmptyFile, name)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s header: %w", name, err)
	}
	names, err := headerNames(header, name)
	if err != nil {
		return nil, err
	}
	ncol := len(names)
	estimate := bytes.Count(data, []byte{'\n'}) + 1
	cols := make([]csvColumn, ncol)
	for j := range cols {
		cols[j].num = make([]float64, 0, estimate)
	}
	rows := 0
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if len(rec) != ncol {
			line, _ := r.FieldPos(0)
			return nil, fmt.Errorf("%w: %s line %d has %d fields, header has %d", ErrRaggedRow, name, line, len(rec), ncol)
		}
		rows++
		if rows%ctxCheckRows == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("read %s: %w", name, err)
			}
		}
		for j, f := range rec {
			c := &cols[j]
			s := strings.TrimSpace(f)
			if isMissing(s) {
				c.num = append(c.num, math.NaN())
				c.missing = append(c.missing, rows)
				continue
			}
			v, ok := parseNumber(s)
			if ok {
				c.numeric++
			} else {
				v = math.NaN()
				c.nonNumeric++
			}
			c.num = append(c.num, v)
		}
	}
	if rows == 0 {
		return nil, fmt.Errorf("%w: %s has a header but no data rows", ErrNoRows, name)
	}

	t := &Table{Source: name, Hash: hash, Rows: rows, Columns: make([]Column, ncol)}
	second := false
	for j := range cols {
		c := &cols[j]
		col := Column{Name: names[j], Missing: c.missing}
		// Numeric when more than half of the non-missing cells are numbers; a
		// column with no values at all stays Numeric (all NaN).
		if c.numeric > c.nonNumeric || c.nonNumeric == 0 {
			col.Kind = Numeric
			col.Num = c.num
		} else {
			col.Kind = Text
			col.Str = make([]string, rows)
		}
		if c.nonNumeric > 0 {
			second = true
		}
		c.num = nil
		t.Columns[j] = col
	}
	if second {
		if err := collectText(ctx, data, name, sep, t); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// newCSVReader returns a reader for data that leaves field-count checks to the
// caller, so that ragged rows are reported with their line number.
func newCSVReader(data []byte, sep rune) *csv.Reader {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = sep
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	return r
}

// headerNames trims and checks the header: every name non-empty and unique.
func headerNames(header []string, name string) ([]string, error) {
	names := make([]string, len(header))
	seen := make(map[string]int, len(header))
	for j, h := range header {
		n := strings.TrimSpace(h)
		if n == "" {
			return nil, fmt.Errorf("%w: %s column %d has an empty name", ErrBadHeader, name, j+1)
		}
		if k, dup := seen[n]; dup {
			return nil, fmt.Errorf("%w: %s has two columns named %q (columns %d and %d)", ErrBadHeader, name, n, k+1, j+1)
		}
		seen[n] = j
		names[j] = strings.Clone(n)
	}
	return names, nil
}

// collectText is the second pass of parseCSV: it fills Str of Text columns and
// Invalid of Numeric columns that held text.
func collectText(ctx context.Context, data []byte, name string, sep rune, t *Table) error {
	r := newCSVReader(data, sep)
	if _, err := r.Read(); err != nil {
		return fmt.Errorf("read %s header: %w", name, err)
	}
	for row := 1; row <= t.Rows; row++ {
		rec, err := r.Read()
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		if row%ctxCheckRows == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("read %s: %w", name, err)
			}
		}
		for j := range t.Columns {
			col := &t.Columns[j]
			s := strings.TrimSpace(rec[j])
			if isMissing(s) {
				continue
			}
			if col.Kind == Text {
				col.Str[row-1] = strings.Clone(s)
			} else if math.IsNaN(col.Num[row-1]) {
				if _, ok := parseNumber(s); !ok {
					col.Invalid = append(col.Invalid, Cell{Row: row, Value: strings.Clone(s)})
				}
			}
		}
	}
	return nil
}

// fileKind names what a path that is no regular file is, for errors.
func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m.IsDir():
		return "a directory"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file"
}
