package dataset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"runtime"
	"strconv"
	"sync"
	"unsafe"

	"github.com/orrery-ml/orrery/shared/fault"
)

// errSlowPath tells parseCSV that a file needs encoding/csv (it has quotes,
// blank lines, non-ASCII bytes, text cells or ragged rows, which the fast
// path does not handle; the general path then reads it and reports any
// error with its line), and parseParquet that a file needs the row-wise
// reader. It never leaves the package.
var errSlowPath = fault.New(fault.Internal, "dataset: file needs the general reader")

// csvFastMinBytes is the size below which the general reader is as fast.
const csvFastMinBytes = 1 << 16

// parseNumericCSV is the fast path of parseCSV for the common file: plain
// ASCII numbers and missing markers, no quotes, one record per line. The
// body is cut into one chunk per core at line boundaries; each chunk's
// lines are counted (bytes.Count), so every worker knows the first row it
// writes, and then parsed straight into the final columns
// (parseNumericLines): no allocation per field or per row. It returns
// errSlowPath when the file is not of that kind.
func parseNumericCSV(ctx context.Context, body []byte, names []string, name string, sep byte) (*Table, error) {
	// Quotes and blank lines need no search of their own: the parse meets
	// them as cells that are not numbers (or lines with too few fields)
	// and fails over to the general reader. (A quoted newline makes the
	// line count too high, never too low, and the parse stops at its
	// quote.)
	if len(body) < csvFastMinBytes {
		return nil, errSlowPath
	}
	ncol := len(names)
	workers := max(1, min(runtime.GOMAXPROCS(0), len(body)/csvFastMinBytes))
	type chunk struct {
		data    []byte
		first   int // index of the chunk's first row
		rows    int
		missing [][]int
		err     error
	}
	chunks := make([]chunk, 0, workers)
	for _, r := range lineRanges(body, workers) {
		chunks = append(chunks, chunk{data: body[r[0]:r[1]]})
	}
	rows := 0
	for i := range chunks {
		c := &chunks[i]
		c.rows = bytes.Count(c.data, []byte{'\n'})
		if c.data[len(c.data)-1] != '\n' {
			c.rows++
		}
		c.first = rows
		rows += c.rows
	}
	if rows == 0 {
		return nil, errSlowPath
	}
	cols := make([][]float64, ncol)
	for j := range cols {
		cols[j] = make([]float64, rows)
	}
	var wg sync.WaitGroup
	for i := range chunks {
		c := &chunks[i]
		wg.Go(func() {
			c.missing = make([][]int, ncol)
			data, row := c.data, c.first
			for len(data) > 0 && c.err == nil {
				// Parse a block of lines between checks of ctx.
				n := min(len(data), csvBlockBytes)
				if nl := bytes.IndexByte(data[n:], '\n'); nl >= 0 {
					n += nl + 1
				} else {
					n = len(data)
				}
				if c.err = ctx.Err(); c.err != nil {
					break
				}
				var done int
				done, c.err = parseNumericLines(data[:n], row, cols, c.missing, sep)
				data, row = data[n:], row+done
			}
		})
	}
	wg.Wait()
	for i := range chunks {
		if err := chunks[i].err; err != nil {
			if errors.Is(err, errSlowPath) {
				return nil, errSlowPath
			}
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
	}
	return numericTable(name, names, rows, cols, func(yield func([][]int) bool) {
		for i := range chunks {
			if !yield(chunks[i].missing) {
				return
			}
		}
	}), nil
}

// csvBlockBytes is how many bytes of lines a worker parses between checks
// of its context (and, reading a file, the size of its reads). A variable
// so that tests can make blocks smaller than a line.
var csvBlockBytes = 1 << 20

// lineRanges cuts data into at most n ranges of about equal size that
// start at the beginning of a line.
func lineRanges(data []byte, n int) [][2]int {
	var out [][2]int
	lo := 0
	for w := range n {
		hi := len(data) * (w + 1) / n
		if hi < len(data) {
			if nl := bytes.IndexByte(data[hi:], '\n'); nl >= 0 {
				hi += nl + 1
			} else {
				hi = len(data)
			}
		}
		if hi <= lo {
			continue
		}
		out = append(out, [2]int{lo, hi})
		lo = hi
		if lo >= len(data) {
			break
		}
	}
	return out
}

// numericTable assembles the table of a fast-path read: the columns as
// parsed and, per column, the missing rows of the chunks in order.
func numericTable(name string, names []string, rows int, cols [][]float64, missing iter.Seq[[][]int]) *Table {
	t := &Table{Source: name, Rows: rows, Columns: make([]Column, len(names))}
	for j := range t.Columns {
		col := Column{Name: names[j], Kind: Numeric, Num: cols[j]}
		for m := range missing {
			col.Missing = append(col.Missing, m[j]...)
		}
		t.Columns[j] = col
	}
	return t
}

// parseNumericLines parses the lines of data (whole lines; the last may
// lack its newline) into cols from row first on, appending to missing[j]
// the 1-based data rows of the missing cells of column j, and returns how
// many rows it parsed. A cell that is a plain decimal number directly
// followed by its separator or newline is parsed as the bytes are scanned
// (scanNumber); any other cell (spaces around it, a missing marker, an
// exponent or mantissa beyond the fast path's range, a hex float, inf,
// nan) is cut at its separator, trimmed and parsed by parseFloatBytes. A
// line with too few or too many fields, or a cell that is neither a
// number nor a missing marker, gives errSlowPath: the general reader then
// reads the file and reports it with its line.
func parseNumericLines(data []byte, first int, cols [][]float64, missing [][]int, sep byte) (int, error) {
	last := len(cols) - 1
	row, p, n := first, 0, len(data)
	for p < n {
		if row >= len(cols[0]) {
			return 0, errSlowPath // more lines than counted: the file changed under the reader
		}
		for j := 0; j <= last; j++ {
			// The common cell inline (the call per cell cost about 6 %
			// of the parse, thread CPU time): [-]digits[.digits]
			// without an exponent, as scanNumber reads it; anything else
			// goes to scanNumber.
			i := p
			neg := i < n && data[i] == '-'
			if neg {
				i++
			}
			var m uint64
			s := i
			for i < n {
				c := data[i] - '0'
				if c > 9 {
					break
				}
				m = m*10 + uint64(c)
				i++
			}
			digits, frac := i-s, 0
			if i < n && data[i] == '.' {
				i++
				s = i
				for i < n {
					c := data[i] - '0'
					if c > 9 {
						break
					}
					m = m*10 + uint64(c)
					i++
				}
				frac = i - s
				digits += frac
			}
			var v float64
			q, ok := i, false
			if digits > 0 && digits <= 19 && m < 1<<53 && frac <= 22 && (i == n || data[i]|0x20 != 'e') {
				v, ok = float64(m)/pow10[frac], true
				if neg {
					v = -v
				}
			} else {
				v, q, ok = scanNumber(data, p)
			}
			if ok {
				if j < last {
					if q < n && data[q] == sep {
						cols[j][row], p = v, q+1
						continue
					}
				} else if q == n {
					cols[j][row], p = v, q
					continue
				} else if data[q] == '\n' {
					cols[j][row], p = v, q+1
					continue
				} else if data[q] == '\r' && q+1 < n && data[q+1] == '\n' {
					cols[j][row], p = v, q+2
					continue
				}
			}
			field, next, ok := cutField(data, p, j == last, sep)
			if !ok {
				return 0, errSlowPath // too few or too many fields: the general reader reports it
			}
			field = trimASCIISpace(field)
			v, ok = parseFloatBytes(field)
			if !ok {
				if !isMissingBytes(field) {
					return 0, errSlowPath // text (or non-ASCII): the general reader types it
				}
				v = math.NaN()
				missing[j] = append(missing[j], row+1)
			}
			cols[j][row], p = v, next
		}
		row++
	}
	return row - first, nil
}

// cutField returns the field that starts at p and where the next one
// starts: a field of a column before the last ends at the separator, which
// must come before the end of the line; the last column's runs to the end
// of the line (less a '\r' before the newline) and holds no separator.
func cutField(data []byte, p int, last bool, sep byte) ([]byte, int, bool) {
	line := data[p:]
	nl := bytes.IndexByte(line, '\n')
	if nl >= 0 {
		line = line[:nl]
	}
	k := bytes.IndexByte(line, sep)
	if !last {
		if k < 0 {
			return nil, 0, false
		}
		return line[:k], p + k + 1, true
	}
	if k >= 0 {
		return nil, 0, false
	}
	next := len(data)
	if nl >= 0 {
		next = p + nl + 1
	}
	if m := len(line); m > 0 && line[m-1] == '\r' {
		line = line[:m-1]
	}
	return line, next, true
}

// scanNumber parses the plain decimal number at data[i:] — [+-]digits[.digits][(e|E)[+-]digits]
// with at most 19 digits and a value m·10^e, m < 2⁵³ and |e| <= 22 — and
// returns it and the index of the first byte after it. Clinger's fast path
// ("How to read floating point numbers accurately", PLDI 1990) makes it
// exact: m and 10^|e| are exact in float64, so one multiplication or
// division rounds correctly, as strconv.ParseFloat does. ok is false for
// anything else (no digits, more digits, a larger exponent), which
// parseNumericLines then hands to parseFloatBytes.
func scanNumber(data []byte, i int) (v float64, end int, ok bool) {
	n := len(data)
	neg := false
	if i < n && (data[i] == '-' || data[i] == '+') {
		neg = data[i] == '-'
		i++
	}
	var m uint64
	start := i
	for i < n {
		c := data[i] - '0'
		if c > 9 {
			break
		}
		m = m*10 + uint64(c)
		i++
	}
	digits := i - start
	exp := 0
	if i < n && data[i] == '.' {
		i++
		start = i
		for i < n {
			c := data[i] - '0'
			if c > 9 {
				break
			}
			m = m*10 + uint64(c)
			i++
		}
		exp = start - i
		digits -= exp
	}
	if digits == 0 || digits > 19 {
		return 0, i, false // 19 digits cannot overflow m
	}
	if i < n && data[i]|0x20 == 'e' {
		i++
		eneg := false
		if i < n && (data[i] == '-' || data[i] == '+') {
			eneg = data[i] == '-'
			i++
		}
		e, start := 0, i
		for i < n && i-start < 4 {
			c := data[i] - '0'
			if c > 9 {
				break
			}
			e = e*10 + int(c)
			i++
		}
		if i == start || i < n && data[i]-'0' <= 9 {
			return 0, i, false // no exponent digits, or more than 4
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if m >= 1<<53 || exp < -22 || exp > 22 {
		return 0, i, false
	}
	v = float64(m)
	if exp < 0 {
		v /= pow10[-exp]
	} else {
		v *= pow10[exp]
	}
	if neg {
		v = -v
	}
	return v, i, true
}

// trimASCIISpace trims what strings.TrimSpace trims from ASCII text;
// a non-ASCII byte fails the field over to the general reader, which trims
// Unicode space, through isMissingBytes and parseFloatBytes refusing it.
func trimASCIISpace(b []byte) []byte {
	for len(b) > 0 && asciiSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && asciiSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}

// isMissingBytes is isMissing on bytes.
func isMissingBytes(b []byte) bool {
	switch string(b) { // no allocation: the conversion only compares
	case "", "NA", "N/A", "null", "NULL", "None", "?":
		return true
	}
	return false
}

// pow10 holds the powers of ten float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloatBytes parses b as strconv.ParseFloat(string(b), 64) does and
// reports whether it is a number (out-of-range values count, as ±Inf or
// 0, like parseNumber). Decimal numbers of at most 19 significant digits
// whose value is m·10^e with m < 2⁵³ and |e| <= 22 take Clinger's fast
// path ("How to read floating point numbers accurately", PLDI 1990): m and
// 10^|e| are exact in float64, so one multiplication or division gives the
// correctly rounded result. Everything else (long mantissas, large
// exponents, hex floats, inf, nan) goes to strconv on the same bytes,
// without a copy.
func parseFloatBytes(b []byte) (float64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	i := 0
	neg := false
	if b[0] == '+' || b[0] == '-' {
		neg = b[0] == '-'
		i++
	}
	var m uint64
	digits, exp := 0, 0
	sawDigit, sawDot := false, false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			sawDigit = true
			if m == 0 && c == '0' {
				if sawDot {
					exp--
				}
				continue
			}
			if digits >= 19 {
				return slowFloat(b)
			}
			m = m*10 + uint64(c-'0')
			digits++
			if sawDot {
				exp--
			}
		case c == '.' && !sawDot:
			sawDot = true
		case c == 'e' || c == 'E':
			if !sawDigit {
				return slowFloat(b)
			}
			e, ok := parseExponent(b[i+1:])
			if !ok {
				return slowFloat(b)
			}
			exp += e
			i = len(b)
		default:
			return slowFloat(b)
		}
	}
	if !sawDigit {
		return slowFloat(b)
	}
	if m >= 1<<53 || exp < -22 || exp > 22 {
		return slowFloat(b)
	}
	f := float64(m)
	if exp < 0 {
		f /= pow10[-exp]
	} else {
		f *= pow10[exp]
	}
	if neg {
		f = -f
	}
	return f, true
}

// parseExponent parses [+-]digits, at most 4 digits.
func parseExponent(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	neg := false
	if b[0] == '+' || b[0] == '-' {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 4 {
		return 0, false
	}
	e := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		e = e*10 + int(c-'0')
	}
	if neg {
		e = -e
	}
	return e, true
}

// slowFloat is parseNumber on bytes: strconv reads them in place (it keeps
// no reference to its argument).
func slowFloat(b []byte) (float64, bool) {
	v, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	if err == nil || errors.Is(err, strconv.ErrRange) {
		return v, true
	}
	return 0, false
}
