package parquetfits

import (
	"bytes"
	"context"
	"fmt"
	"github.com/orrery-ml/orrery/shared/dataset"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/astrogo/fitsio"
)

// FITS tables (NASA/GSFC FITS Standard 4.0, section 7) are read with
// github.com/astrogo/fitsio, which parses headers and rows; this file
// applies the conventions fitsio leaves to its callers: TSCAL/TZERO, TNULL,
// NaN nulls, unsigned integers, logical values and vector columns.

// fitsBlock is the FITS record length; headers and data are padded to it.
const fitsBlock = 2880

// twoTo63 is the TZERO that marks unsigned 64-bit integers in a K column.
const twoTo63 = "9223372036854775808"

// parseFITS reads one table HDU of a FITS file.
func parseFITS(ctx context.Context, data []byte, name, hash, selector string) (t *dataset.Table, err error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: %s", dataset.ErrEmptyFile, name)
	}
	if !bytes.HasPrefix(data, []byte("SIMPLE  =")) {
		return nil, fmt.Errorf("%w: %s is not a FITS file (it does not start with SIMPLE =)", dataset.ErrUnsupported, name)
	}
	data, unsigned64, err := fitsUnsigned64(data, name)
	if err != nil {
		return nil, err
	}
	// fitsio panics on some malformed headers (a missing TTYPEn, a card of
	// an unexpected type); a broken file is an error, not a crash.
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("%w: read FITS %s: %v", dataset.ErrMalformed, name, r)
		}
	}()
	f, err := fitsio.Open(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: read FITS %s: %w", dataset.ErrMalformed, name, err)
	}
	defer f.Close()
	index, err := chooseHDU(f, name, selector)
	if err != nil {
		return nil, err
	}
	tab := f.HDU(index).(*fitsio.Table)
	return readFITSTable(ctx, tab, name, hash, index, unsigned64[index])
}

// chooseHDU returns the index of the HDU selector names (a number or an
// EXTNAME), or of the first table HDU when selector is empty.
func chooseHDU(f *fitsio.File, name, selector string) (int, error) {
	hdus := f.HDUs()
	describe := func() string {
		parts := make([]string, len(hdus))
		for i, h := range hdus {
			parts[i] = fmt.Sprintf("%d %s", i, h.Type())
			if n := h.Name(); n != "" {
				parts[i] += " " + n
			}
		}
		return strings.Join(parts, ", ")
	}
	isTable := func(h fitsio.HDU) bool {
		_, ok := h.(*fitsio.Table)
		return ok && (h.Type() == fitsio.BINARY_TBL || h.Type() == fitsio.ASCII_TBL)
	}
	if selector == "" {
		for i, h := range hdus {
			if isTable(h) {
				return i, nil
			}
		}
		return 0, fmt.Errorf("%w: %s has no table HDU (HDUs: %s)", dataset.ErrNoRows, name, describe())
	}
	index := -1
	if n, err := strconv.Atoi(selector); err == nil {
		if n < 0 || n >= len(hdus) {
			return 0, fmt.Errorf("%w: %s has no HDU %d (HDUs: %s)", dataset.ErrMissingColumn, name, n, describe())
		}
		index = n
	} else {
		for i, h := range hdus {
			if strings.EqualFold(strings.TrimSpace(h.Name()), selector) {
				index = i
				break
			}
		}
		if index < 0 {
			return 0, fmt.Errorf("%w: %s has no HDU named %q (HDUs: %s)", dataset.ErrMissingColumn, name, selector, describe())
		}
	}
	if !isTable(hdus[index]) {
		return 0, fmt.Errorf("%w: HDU %s of %s is an %s, not a table (HDUs: %s)", dataset.ErrUnsupported, selector, name, hdus[index].Type(), describe())
	}
	return index, nil
}

// fitsColumn decodes the cells of one FITS column into the Table columns
// it becomes (out).
type fitsColumn struct {
	name    string
	unit    string
	letter  byte // TFORM type code: L X B I J K A E D (C M P Q refused)
	repeat  int  // elements per cell (bits for X)
	dest    any  // a pointer fitsio scans into
	scale   float64
	zero    float64
	scaled  bool
	hasNull bool
	null    int64
	uint64  bool // K with TZERO = 2^63
	out     []int
}

// readFITSTable turns a fitsio table into a Table: one Numeric column per
// scalar numeric, logical or bit column, one per element of a vector
// column (name_0, name_1, ... in storage order), one Text column per
// character column.
func readFITSTable(ctx context.Context, tab *fitsio.Table, name, hash string, index int, unsigned64 map[int]bool) (*dataset.Table, error) {
	rows := int(tab.NumRows())
	hduName := strconv.Itoa(index)
	if n := strings.TrimSpace(tab.Name()); n != "" {
		hduName += " " + n
	}
	if rows == 0 {
		return nil, fmt.Errorf("%w: %s HDU %s has no rows", dataset.ErrNoRows, name, hduName)
	}
	t := &dataset.Table{Source: name, Hash: hash, HDU: hduName, Rows: rows}
	cols := make([]fitsColumn, 0, tab.NumCols())
	var refused []string
	for i, c := range tab.Cols() {
		fc, why, err := newFITSColumn(c, unsigned64[i+1], tab.Type() == fitsio.ASCII_TBL)
		if err != nil {
			return nil, fmt.Errorf("read FITS %s HDU %s column %q: %w", name, hduName, c.Name, err)
		}
		if why != "" {
			refused = append(refused, fmt.Sprintf("%q (%s)", c.Name, why))
			continue
		}
		names := []string{fc.name}
		if fc.repeat > 1 {
			names = make([]string, fc.repeat)
			for k := range names {
				names[k] = fc.name + "_" + strconv.Itoa(k)
			}
		}
		for _, n := range names {
			fc.out = append(fc.out, len(t.Columns))
			col := dataset.Column{Name: n, Unit: fc.unit, Kind: dataset.Numeric}
			if fc.letter == 'A' {
				col.Kind, col.Str = dataset.Text, make([]string, rows)
			} else {
				col.Num = make([]float64, rows)
			}
			t.Columns = append(t.Columns, col)
		}
		cols = append(cols, fc)
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("%w: %s HDU %s: columns %s cannot be read as table columns",
			dataset.ErrUnsupported, name, hduName, strings.Join(refused, ", "))
	}
	if len(t.Columns) == 0 {
		return nil, fmt.Errorf("%w: %s HDU %s has no columns", dataset.ErrEmptyFile, name, hduName)
	}
	if _, err := dataset.HeaderNames(t.Names(), name); err != nil {
		return nil, fmt.Errorf("%w (HDU %s; vector columns become name_0, name_1, ...)", err, hduName)
	}
	it, err := tab.Read(0, int64(rows))
	if err != nil {
		return nil, fmt.Errorf("read FITS %s HDU %s: %w", name, hduName, err)
	}
	defer it.Close()
	dests := make([]any, len(cols))
	for j := range cols {
		dests[j] = cols[j].dest
	}
	for row := 0; it.Next(); row++ {
		if row%ctxCheckRows == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("read %s: %w", name, err)
			}
		}
		if row >= rows {
			return nil, fmt.Errorf("read FITS %s HDU %s: more rows than NAXIS2 = %d", name, hduName, rows)
		}
		if err := it.Scan(dests...); err != nil {
			return nil, fmt.Errorf("read FITS %s HDU %s row %d: %w", name, hduName, row+1, err)
		}
		for j := range cols {
			cols[j].store(t, row)
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read FITS %s HDU %s: %w", name, hduName, err)
	}
	return t, nil
}

// newFITSColumn describes a fitsio column, or says why it is refused.
func newFITSColumn(c fitsio.Column, unsigned64, ascii bool) (fitsColumn, string, error) {
	form := strings.ToUpper(strings.TrimSpace(c.Format))
	j := strings.IndexAny(form, "LXBIJKAEDCMPQF")
	if j < 0 {
		return fitsColumn{}, "", fmt.Errorf("TFORM %q has no type code", c.Format)
	}
	repeat := 1
	if j > 0 {
		r, err := strconv.Atoi(form[:j])
		if err != nil || r < 0 {
			return fitsColumn{}, "", fmt.Errorf("TFORM %q has a bad repeat count", c.Format)
		}
		repeat = r
	}
	fc := fitsColumn{name: strings.TrimSpace(c.Name), unit: strings.TrimSpace(c.Unit), letter: form[j], repeat: repeat,
		scale: c.Bscale, zero: c.Bzero, uint64: unsigned64}
	if fc.scale == 0 {
		fc.scale = 1
	}
	fc.scaled = fc.scale != 1 || fc.zero != 0
	typ := c.Type()
	switch fc.letter {
	case 'P', 'Q':
		return fc, "a variable-length array", nil
	case 'C', 'M':
		return fc, "complex numbers", nil
	case 'A', 'F':
		// A is a character column in a binary table; in an ASCII table
		// fitsio reports every field by its Go type.
		if typ.Kind() == reflect.String {
			fc.letter, fc.repeat, fc.dest = 'A', 1, new(string)
			return fc, "", nil
		}
	}
	if fc.repeat == 0 {
		return fc, "a column of zero elements", nil
	}
	// Integers and logicals are scanned as raw integers (logicals as their
	// bytes: fitsio decodes any non-zero byte as true, 'F' included).
	elem := typ
	if typ.Kind() == reflect.Array {
		elem = typ.Elem()
	}
	switch elem.Kind() {
	case reflect.Bool:
		elem = reflect.TypeFor[uint8]()
	case reflect.String:
		fc.letter, fc.repeat, fc.dest = 'A', 1, new(string)
		return fc, "", nil
	case reflect.Int:
		elem = reflect.TypeFor[int64]() // ASCII-table integers
	}
	if fc.letter == 'X' {
		// fitsio holds bits as bytes; the repeat count is the number of bits.
		nbytes := (fc.repeat + 7) / 8
		fc.dest = reflect.New(reflect.ArrayOf(nbytes, reflect.TypeFor[uint8]())).Interface()
		if nbytes == 1 {
			fc.dest = new(uint8)
		}
	} else if typ.Kind() == reflect.Array {
		fc.dest = reflect.New(reflect.ArrayOf(typ.Len(), elem)).Interface()
		fc.repeat = typ.Len()
	} else {
		fc.dest = reflect.New(elem).Interface()
		fc.repeat = 1
	}
	if strings.TrimSpace(c.Null) != "" && fc.letter != 'E' && fc.letter != 'D' {
		n, err := strconv.ParseInt(strings.TrimSpace(c.Null), 10, 64)
		switch {
		case err == nil:
			fc.hasNull, fc.null = true, n
		case !ascii: // an ASCII table's TNULL is text, and its fields are parsed as numbers
			return fc, "", fmt.Errorf("TNULL %q is not an integer", c.Null)
		}
	}
	return fc, "", nil
}

// store decodes the scanned cell of row into the table.
func (fc *fitsColumn) store(t *dataset.Table, row int) {
	switch d := fc.dest.(type) {
	case *string:
		col := &t.Columns[fc.out[0]]
		s := strings.TrimSpace(*d)
		if dataset.IsMissing(s) {
			col.Missing = append(col.Missing, row+1)
			return
		}
		col.Str[row] = s
		return
	}
	if fc.letter == 'X' {
		var b []byte
		switch d := fc.dest.(type) {
		case *uint8:
			b = []byte{*d}
		default:
			b = reflect.ValueOf(fc.dest).Elem().Bytes()
		}
		for k, out := range fc.out {
			bit := b[k/8] >> (7 - uint(k%8)) & 1 // most significant bit first
			t.Columns[out].Num[row] = float64(bit)
		}
		return
	}
	v := reflect.ValueOf(fc.dest).Elem()
	if v.Kind() != reflect.Array {
		fc.cell(&t.Columns[fc.out[0]], row, v)
		return
	}
	for k, out := range fc.out {
		fc.cell(&t.Columns[out], row, v.Index(k))
	}
}

// cell decodes one element.
func (fc *fitsColumn) cell(col *dataset.Column, row int, v reflect.Value) {
	missing := func() {
		col.Num[row] = math.NaN()
		col.Missing = append(col.Missing, row+1)
	}
	if fc.letter == 'L' {
		switch byte(v.Uint()) {
		case 'T':
			col.Num[row] = 1
		case 'F':
			col.Num[row] = 0
		default: // 0 is the undefined logical
			missing()
		}
		return
	}
	var x float64
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		x = v.Float()
		if math.IsNaN(x) {
			missing()
			return
		}
		if fc.scaled {
			x = fc.zero + float64(fc.scale*x)
		}
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		raw := int64(v.Uint())
		if fc.hasNull && raw == fc.null {
			missing()
			return
		}
		x = fc.physical(raw)
	default:
		raw := v.Int()
		if fc.hasNull && raw == fc.null {
			missing()
			return
		}
		x = fc.physical(raw)
	}
	col.Num[row] = x
}

// physical applies TZERO + TSCAL * raw to an integer. The explicit
// float64 conversion keeps the compiler from fusing the multiply and add,
// so the result is the one astropy and CFITSIO compute.
func (fc *fitsColumn) physical(raw int64) float64 {
	if fc.uint64 {
		return float64(uint64(raw) ^ (1 << 63))
	}
	if !fc.scaled {
		return float64(raw)
	}
	return fc.zero + float64(fc.scale*float64(raw))
}

// fitsUnsigned64 finds the TZEROn = 9223372036854775808 cards (unsigned
// 64-bit integer columns, as astropy and CFITSIO write them), which fitsio
// cannot parse, and returns a copy of data with those cards set to 0 and,
// per HDU index, the 1-based columns that hold unsigned 64-bit integers.
// data is returned unchanged when there are none.
func fitsUnsigned64(data []byte, name string) ([]byte, map[int]map[int]bool, error) {
	found := map[int]map[int]bool{}
	out := data
	for hdu, off := 0, 0; off < len(data); hdu++ {
		var axes [10]int64
		naxis, pcount, gcount, bitpix := int64(0), int64(0), int64(1), int64(8)
		end := false
		for !end {
			if off+80 > len(data) {
				return nil, nil, fmt.Errorf("read FITS %s: HDU %d header has no END card", name, hdu)
			}
			card := string(data[off : off+80])
			key := strings.TrimSpace(card[:8])
			value := ""
			if len(card) > 10 && card[8:10] == "= " {
				value = strings.TrimSpace(strings.SplitN(card[10:], "/", 2)[0])
			}
			n, _ := strconv.ParseInt(value, 10, 64)
			switch {
			case key == "END":
				end = true
			case key == "BITPIX":
				bitpix = n
			case key == "NAXIS":
				naxis = n
			case strings.HasPrefix(key, "NAXIS"):
				if k, err := strconv.Atoi(key[5:]); err == nil && k >= 1 && k <= len(axes) {
					axes[k-1] = n
				}
			case key == "PCOUNT":
				pcount = n
			case key == "GCOUNT":
				gcount = n
			case strings.HasPrefix(key, "TZERO") && value == twoTo63:
				col, err := strconv.Atoi(key[5:])
				if err != nil {
					break
				}
				if found[hdu] == nil {
					found[hdu] = map[int]bool{}
				}
				found[hdu][col] = true
				if &out[0] == &data[0] {
					out = bytes.Clone(data)
				}
				copy(out[off+10:off+30], fmt.Sprintf("%20s", "0"))
			}
			off += 80
		}
		off = (off + fitsBlock - 1) / fitsBlock * fitsBlock
		size := int64(0)
		if naxis > 0 {
			size = 1
			for k := range min(int(naxis), len(axes)) {
				size *= axes[k]
			}
		}
		size = (size + pcount) * gcount * max(bitpix, -bitpix) / 8
		if size < 0 || size > int64(len(data)) {
			return nil, nil, fmt.Errorf("read FITS %s: HDU %d declares %d data bytes", name, hdu, size)
		}
		off += int((size + fitsBlock - 1) / fitsBlock * fitsBlock)
	}
	return out, found, nil
}
