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
	"unicode/utf8"

	"github.com/orrery-ml/orrery/shared/fault"
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
	if format == FormatParquet {
		return readParquetFile(ctx, file, path)
	}
	if (format == FormatCSV || format == FormatTSV) && hdu == "" {
		return readCSVFile(ctx, file, path, format)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	return ReadBytes(ctx, data, path, format, ReadOptions{HDU: hdu})
}

// readParquetFile reads a Parquet file through its descriptor (an
// io.ReaderAt) instead of reading it whole: the column chunks are read as
// the readers need them, so the file's bytes are never held in memory
// beside the table (they were the largest part of a Parquet read's peak
// RSS). The SHA-256 is streamed from the same descriptor beside the parse
// (ReadAt is safe for concurrent use on an *os.File).
func readParquetFile(ctx context.Context, file, name string) (*Table, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	size := info.Size()
	type sum struct {
		hex string
		err error
	}
	sums := make(chan sum, 1)
	go func() {
		h := sha256.New()
		_, err := io.Copy(h, io.NewSectionReader(f, 0, size))
		sums <- sum{hex.EncodeToString(h.Sum(nil)), err}
	}()
	t, err := parseParquet(ctx, f, size, name, "")
	if err != nil && ctx.Err() == nil && fault.CodeOf(err) == fault.Internal && !errors.Is(err, ErrNoBinaryFormats) {
		err = fmt.Errorf("%w: %w", ErrMalformed, err) // as ReadBytes codes it
	}
	s := <-sums
	if err != nil {
		return nil, err
	}
	if s.err != nil {
		return nil, fmt.Errorf("read %s: %w", file, s.err)
	}
	t.Hash = s.hex
	return t, nil
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
//
// A numeric file goes to the fast path first (parseNumericBytes), which
// needs no UTF-8 check of the body: it takes ASCII numbers only, and any
// other byte sends the file to the general reader (parseCSVGeneral), which
// checks and reports it.
func parseCSV(ctx context.Context, data []byte, name string, sep rune, hash string) (*Table, error) {
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrEmptyFile, name)
	}
	if sep < utf8.RuneSelf {
		t, err := parseNumericBytes(ctx, data, name, byte(sep))
		if !errors.Is(err, errSlowPath) {
			if t != nil {
				t.Hash = hash
			}
			return t, err
		}
	}
	return parseCSVGeneral(ctx, data, name, sep, hash)
}

// parseNumericBytes is the fast path of parseCSV: the header as the
// general reader reads it and the body by parseNumericCSV. Whatever the
// general reader would report or treat specially (an unfinished or
// invalid header, one column to sniff, a blank first line) gives
// errSlowPath.
func parseNumericBytes(ctx context.Context, data []byte, name string, sep byte) (*Table, error) {
	if len(data) < csvFastMinBytes {
		return nil, errSlowPath
	}
	r := newCSVReader(data, rune(sep))
	header, err := r.Read()
	if err != nil || len(header) < 2 {
		return nil, errSlowPath
	}
	off := int(r.InputOffset())
	if off >= len(data) || data[off] == '\n' || data[off] == '\r' || !utf8.Valid(data[:off]) {
		return nil, errSlowPath
	}
	names, err := headerNames(header, name)
	if err != nil {
		return nil, errSlowPath
	}
	return parseNumericCSV(ctx, data[off:], names, name, sep)
}

// parseCSVGeneral is parseCSV by encoding/csv, for any file.
func parseCSVGeneral(ctx context.Context, data []byte, name string, sep rune, hash string) (*Table, error) {
	if !utf8.Valid(data) {
		return nil, notUTF8(data, name)
	}
	r := newCSVReader(data, sep)
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s", ErrEmptyFile, name)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: read %s header: %w", ErrMalformed, name, err)
	}
	if len(header) == 1 {
		// One column cannot be trained on: a file named .csv whose fields
		// are separated by tabs, ';' or '|' (or a .tsv with commas) is read
		// with the separator its header uses.
		if other, ok := sniffSeparator(data, sep); ok {
			return parseCSV(ctx, data, name, other, hash)
		}
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
			return nil, fmt.Errorf("%w: read %s: %w", ErrMalformed, name, err)
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

// sniffSeparator returns the field separator a one-column file's header
// uses instead of sep: the most frequent of ',', '\t', ';' and '|' in the
// first line, when it splits the first lines into the same number (> 1) of
// fields.
func sniffSeparator(data []byte, sep rune) (rune, bool) {
	first, _, _ := bytes.Cut(data, []byte{'\n'})
	best, bestN := rune(0), 0
	for _, c := range []rune{',', '\t', ';', '|'} {
		if c == sep {
			continue
		}
		if n := bytes.Count(first, []byte(string(c))); n > bestN {
			best, bestN = c, n
		}
	}
	if bestN == 0 {
		return 0, false
	}
	r := newCSVReader(data, best)
	want := -1
	for i := 0; i < 5; i++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil || len(rec) < 2 || want >= 0 && len(rec) != want {
			return 0, false
		}
		want = len(rec)
	}
	return best, want > 1
}

// notUTF8 names the line and byte of the first invalid UTF-8 sequence of
// a text table.
func notUTF8(data []byte, name string) error {
	at := 0
	for at < len(data) {
		r, n := utf8.DecodeRune(data[at:])
		if r == utf8.RuneError && n <= 1 {
			break
		}
		at += n
	}
	line := bytes.Count(data[:at], []byte{'\n'}) + 1
	where := fmt.Sprintf("line %d", line)
	if line == 1 {
		where = "the header (line 1)"
		return fmt.Errorf("%w: %s: %s is not valid UTF-8 at byte %d (0x%02x); save the file as UTF-8 (it may be Latin-1 or another legacy encoding)",
			ErrBadHeader, name, where, at, data[at])
	}
	return fmt.Errorf("%w: %s: %s is not valid UTF-8 at byte %d (0x%02x); save the file as UTF-8 (it may be Latin-1 or another legacy encoding)",
		ErrUnsupported, name, where, at, data[at])
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
		return fmt.Errorf("%w: read %s header: %w", ErrMalformed, name, err)
	}
	for row := 1; row <= t.Rows; row++ {
		rec, err := r.Read()
		if err != nil {
			return fmt.Errorf("%w: read %s: %w", ErrMalformed, name, err)
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
