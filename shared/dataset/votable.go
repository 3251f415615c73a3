package dataset

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/orrery-ml/orrery/shared/fault"
)

// VOTable documents (IVOA VOTable 1.4 Recommendation; 1.1 to 1.5 read the
// same way) are read with encoding/xml as a token stream: the TABLE chosen
// by the selector is decoded, the others skipped. Its FIELDs become columns
// (arrays of fixed size flattened to name_0, name_1, ...), and its DATA is
// read from TABLEDATA, BINARY or BINARY2 (an inline base64 STREAM) or FITS
// (an inline FITS file). Nulls are an empty TD, a BINARY2 null flag, the
// FIELD's VALUES null value, NaN, and the null representations of the
// boolean datatype.

// voField is one FIELD of the table being read.
type voField struct {
	name     string
	unit     string
	datatype string
	// elems is the number of elements of a numeric cell (bits of a bit
	// array); chars is true for char and unicodeChar strings, with
	// variable true when the cell carries its own length (arraysize "*" or
	// "N*") and otherwise elems bytes or characters.
	elems    int
	chars    bool
	variable bool
	hasNull  bool
	null     string
	nullInt  int64
	nullF    float64
	out      int // index of the first Table column
}

// voSizes are the bytes per element of the BINARY serialisation.
var voSizes = map[string]int{
	"boolean": 1, "bit": 0, "unsignedByte": 1, "short": 2, "int": 4, "long": 8,
	"char": 1, "unicodeChar": 2, "float": 4, "double": 8, "floatComplex": 8, "doubleComplex": 16,
}

func parseVOTable(ctx context.Context, data []byte, name, hash, selector string) (*Table, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrEmptyFile, name)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.CharsetReader = latin1Reader
	index := -1
	var seen []string
	sawVOTable := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: read VOTable %s: %w", ErrMalformed, name, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "VOTABLE":
			sawVOTable = true
			continue
		case "TABLE":
		default:
			continue
		}
		if !sawVOTable {
			return nil, fmt.Errorf("%w: %s is XML but not a VOTable (no VOTABLE element before its first TABLE)", ErrUnsupported, name)
		}
		index++
		tname, id := attr(se, "name"), attr(se, "ID")
		label := strconv.Itoa(index)
		if tname != "" {
			label += " " + tname
		} else if id != "" {
			label += " " + id
		}
		seen = append(seen, label)
		if !voSelected(selector, index, tname, id) {
			if err := dec.Skip(); err != nil {
				return nil, fmt.Errorf("%w: read VOTable %s: %w", ErrMalformed, name, err)
			}
			continue
		}
		t := &Table{Source: name, Hash: hash, HDU: label}
		if err := readVOTable(ctx, dec, t); err != nil {
			if fault.CodeOf(err) == fault.Internal && !errors.Is(err, ErrNoBinaryFormats) {
				// XML or encoding that does not parse: the file's fault.
				err = fmt.Errorf("%w: %w", ErrMalformed, err)
			}
			return nil, fmt.Errorf("read VOTable %s TABLE %s: %w", name, label, err)
		}
		return t, nil
	}
	if !sawVOTable {
		return nil, fmt.Errorf("%w: %s is not a VOTable (no VOTABLE element)", ErrUnsupported, name)
	}
	if selector == "" {
		return nil, fmt.Errorf("%w: %s has no TABLE", ErrNoRows, name)
	}
	return nil, fmt.Errorf("%w: %s has no TABLE %q (tables: %s)", ErrMissingColumn, name, selector, strings.Join(seen, ", "))
}

// voSelected reports whether TABLE number index (name, ID) is the one the
// selector asks for.
func voSelected(selector string, index int, name, id string) bool {
	if selector == "" {
		return index == 0
	}
	if n, err := strconv.Atoi(selector); err == nil {
		return n == index
	}
	return strings.EqualFold(selector, name) || strings.EqualFold(selector, id)
}

func attr(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return strings.TrimSpace(a.Value)
		}
	}
	return ""
}

// latin1Reader decodes the 8-bit encodings a VOTable may declare besides
// UTF-8 (ISO-8859-1 and US-ASCII, a subset of it).
func latin1Reader(charset string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii":
	default:
		return nil, fmt.Errorf("%w: XML encoding %q (want UTF-8 or ISO-8859-1)", ErrUnsupported, charset)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var out strings.Builder
	for _, c := range b {
		out.WriteRune(rune(c))
	}
	return strings.NewReader(out.String()), nil
}

// readVOTable reads the FIELDs and DATA of the TABLE just started.
func readVOTable(ctx context.Context, dec *xml.Decoder, t *Table) error {
	var fields []*voField
	haveData := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch el := tok.(type) {
		case xml.EndElement:
			if el.Name.Local == "TABLE" {
				if !haveData || t.Rows == 0 {
					return fmt.Errorf("%w: the table has no data rows", ErrNoRows)
				}
				return nil
			}
		case xml.StartElement:
			switch el.Name.Local {
			case "FIELD":
				f, err := readField(dec, el, len(fields))
				if err != nil {
					return err
				}
				fields = append(fields, f)
			case "DATA":
				if err := voColumns(fields, t); err != nil {
					return err
				}
				if err := readData(ctx, dec, fields, t); err != nil {
					return err
				}
				haveData = true
			default:
				if err := dec.Skip(); err != nil {
					return err
				}
			}
		}
	}
}

// readField reads a FIELD element and its VALUES null.
func readField(dec *xml.Decoder, se xml.StartElement, k int) (*voField, error) {
	f := &voField{name: attr(se, "name"), unit: attr(se, "unit"), datatype: attr(se, "datatype")}
	if f.name == "" {
		f.name = attr(se, "ID")
	}
	if f.name == "" {
		f.name = "col_" + strconv.Itoa(k+1)
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if ee, ok := tok.(xml.EndElement); ok && ee.Name.Local == "FIELD" {
			break
		}
		if vs, ok := tok.(xml.StartElement); ok {
			if vs.Name.Local == "VALUES" {
				for _, a := range vs.Attr {
					if a.Name.Local == "null" {
						f.hasNull, f.null = true, strings.TrimSpace(a.Value)
					}
				}
			}
			if err := dec.Skip(); err != nil {
				return nil, err
			}
		}
	}
	if _, ok := voSizes[f.datatype]; !ok {
		return nil, fmt.Errorf("FIELD %q has datatype %q, which is not a VOTable primitive", f.name, f.datatype)
	}
	f.chars = f.datatype == "char" || f.datatype == "unicodeChar"
	size := strings.TrimSpace(attr(se, "arraysize"))
	f.elems = 1
	if size != "" {
		dims := strings.Split(size, "x")
		f.variable = strings.HasSuffix(size, "*")
		n := 1
		for i, d := range dims {
			d = strings.TrimSuffix(strings.TrimSpace(d), "*")
			if d == "" && i == len(dims)-1 && f.variable {
				continue
			}
			v, err := strconv.Atoi(d)
			if err != nil || v < 0 {
				return nil, fmt.Errorf("FIELD %q has arraysize %q, which is not N, NxM..., N* or *", f.name, size)
			}
			n *= v
		}
		if f.chars && len(dims) > 1 {
			f.elems = -1 // an array of strings, refused in voColumns
		} else {
			f.elems = n
		}
	}
	if f.hasNull && !f.chars {
		switch f.datatype {
		case "float", "double":
			v, err := strconv.ParseFloat(f.null, 64)
			if err != nil {
				return nil, fmt.Errorf("FIELD %q: VALUES null %q is not a number", f.name, f.null)
			}
			f.nullF = v
		case "unsignedByte", "short", "int", "long":
			v, err := parseVOInt(f.null, f.datatype)
			if err != nil {
				return nil, fmt.Errorf("FIELD %q: VALUES null %q is not an integer", f.name, f.null)
			}
			f.nullInt = v
		default:
			f.hasNull = false // boolean and bit have their own null representations
		}
	}
	return f, nil
}

// voColumns makes the Table's columns from the FIELDs, refusing what is not
// a table column.
func voColumns(fields []*voField, t *Table) error {
	if len(fields) == 0 {
		return fmt.Errorf("%w: the table has no FIELD", ErrEmptyFile)
	}
	var refused []string
	for _, f := range fields {
		switch {
		case f.datatype == "floatComplex" || f.datatype == "doubleComplex":
			refused = append(refused, fmt.Sprintf("%q (complex numbers)", f.name))
		case f.chars && f.elems < 0:
			refused = append(refused, fmt.Sprintf("%q (an array of strings)", f.name))
		case !f.chars && f.variable:
			refused = append(refused, fmt.Sprintf("%q (a variable-length array)", f.name))
		case !f.chars && f.elems == 0:
			refused = append(refused, fmt.Sprintf("%q (an array of zero elements)", f.name))
		}
	}
	if len(refused) > 0 {
		return fmt.Errorf("%w: FIELDs %s cannot be read as table columns", ErrUnsupported, strings.Join(refused, ", "))
	}
	for _, f := range fields {
		f.out = len(t.Columns)
		if f.chars {
			t.Columns = append(t.Columns, Column{Name: f.name, Unit: f.unit, Kind: Text})
			continue
		}
		if f.elems == 1 {
			t.Columns = append(t.Columns, Column{Name: f.name, Unit: f.unit, Kind: Numeric})
			continue
		}
		for k := range f.elems {
			t.Columns = append(t.Columns, Column{Name: f.name + "_" + strconv.Itoa(k), Unit: f.unit, Kind: Numeric})
		}
	}
	if _, err := headerNames(t.Names(), t.Source); err != nil {
		return fmt.Errorf("%w (array FIELDs become name_0, name_1, ...)", err)
	}
	return nil
}

// readData reads the DATA element's serialisation into t.
func readData(ctx context.Context, dec *xml.Decoder, fields []*voField, t *Table) error {
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch el := tok.(type) {
		case xml.EndElement:
			if el.Name.Local == "DATA" {
				return nil
			}
		case xml.StartElement:
			switch el.Name.Local {
			case "TABLEDATA":
				if err := readTableData(ctx, dec, fields, t); err != nil {
					return err
				}
			case "BINARY", "BINARY2":
				stream, err := readStream(dec, el.Name.Local)
				if err != nil {
					return err
				}
				if err := readBinary(ctx, stream, fields, t, el.Name.Local == "BINARY2"); err != nil {
					return fmt.Errorf("%s: %w", el.Name.Local, err)
				}
			case "FITS":
				stream, err := readStream(dec, "FITS")
				if err != nil {
					return err
				}
				ft, err := parseFITS(ctx, stream, t.Source, t.Hash, attr(el, "extnum"))
				if err != nil {
					return fmt.Errorf("FITS serialisation: %w", err)
				}
				ft.HDU = t.HDU
				*t = *ft
			default:
				if err := dec.Skip(); err != nil {
					return err
				}
			}
		}
	}
}

// readStream returns the decoded content of the STREAM inside the element
// named parent (which it consumes to its end): base64, then gunzipped when
// it holds gzip data.
func readStream(dec *xml.Decoder, parent string) ([]byte, error) {
	var out []byte
	found := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch el := tok.(type) {
		case xml.EndElement:
			if el.Name.Local == parent {
				if !found {
					return nil, fmt.Errorf("%w: %s has no STREAM", ErrEmptyFile, parent)
				}
				return out, nil
			}
		case xml.StartElement:
			if el.Name.Local != "STREAM" {
				if err := dec.Skip(); err != nil {
					return nil, err
				}
				continue
			}
			found = true
			if href := attr(el, "href"); href != "" {
				return nil, fmt.Errorf("%w: %s STREAM refers to remote data (%s); only inline data is read", ErrUnsupported, parent, href)
			}
			switch enc := attr(el, "encoding"); enc {
			case "base64", "":
			default:
				return nil, fmt.Errorf("%w: %s STREAM encoding %q (inline streams are base64)", ErrUnsupported, parent, enc)
			}
			var text []byte
			for {
				tok, err := dec.Token()
				if err != nil {
					return nil, err
				}
				if cd, ok := tok.(xml.CharData); ok {
					text = append(text, bytes.Map(func(r rune) rune {
						if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
							return -1
						}
						return r
					}, cd)...)
				}
				if ee, ok := tok.(xml.EndElement); ok && ee.Name.Local == "STREAM" {
					break
				}
			}
			raw := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
			n, err := base64.StdEncoding.Decode(raw, text)
			if err != nil {
				return nil, fmt.Errorf("%s STREAM: base64: %w", parent, err)
			}
			if out, err = gunzipIfCompressed(raw[:n], parent+" STREAM"); err != nil {
				return nil, err
			}
		}
	}
}

// readTableData reads TR/TD rows.
func readTableData(ctx context.Context, dec *xml.Decoder, fields []*voField, t *Table) error {
	cells := make([]string, 0, len(fields))
	var text []byte
	inTD := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch el := tok.(type) {
		case xml.StartElement:
			switch el.Name.Local {
			case "TR":
				cells = cells[:0]
			case "TD":
				inTD, text = true, text[:0]
			default:
				if err := dec.Skip(); err != nil {
					return err
				}
			}
		case xml.CharData:
			if inTD {
				text = append(text, el...)
			}
		case xml.EndElement:
			switch el.Name.Local {
			case "TD":
				inTD = false
				cells = append(cells, string(text))
			case "TR":
				row := t.Rows + 1
				if len(cells) != len(fields) {
					return fmt.Errorf("%w: row %d has %d TD cells, the table has %d FIELDs", ErrRaggedRow, row, len(cells), len(fields))
				}
				for j, f := range fields {
					f.textCell(t, row, cells[j])
				}
				t.Rows = row
				if row%ctxCheckRows == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
			case "TABLEDATA":
				return nil
			}
		}
	}
}

// grow appends one cell (NaN or "") to each of f's columns.
func (f *voField) grow(t *Table) {
	if f.chars {
		c := &t.Columns[f.out]
		c.Str = append(c.Str, "")
		return
	}
	for k := range f.elems {
		c := &t.Columns[f.out+k]
		c.Num = append(c.Num, math.NaN())
	}
}

// nullCell marks f's cells of row missing.
func (f *voField) nullCell(t *Table, row int) {
	n := f.elems
	if f.chars {
		n = 1
	}
	for k := range n {
		c := &t.Columns[f.out+k]
		c.Missing = append(c.Missing, row)
	}
}

// textCell stores a TABLEDATA cell of row (1-based).
func (f *voField) textCell(t *Table, row int, s string) {
	f.grow(t)
	s = strings.TrimSpace(s)
	if f.chars {
		c := &t.Columns[f.out]
		if isMissing(s) || (f.hasNull && s == f.null) {
			c.Missing = append(c.Missing, row)
			return
		}
		c.Str[row-1] = s
		return
	}
	if s == "" {
		f.nullCell(t, row)
		return
	}
	var parts []string
	if f.datatype == "bit" {
		for _, r := range s {
			if r == '0' || r == '1' {
				parts = append(parts, string(r))
			} else if r != ' ' && r != '\t' && r != '\n' && r != '\r' {
				parts = append(parts, string(r)) // reported invalid below
			}
		}
	} else {
		parts = strings.Fields(s)
	}
	if len(parts) != f.elems {
		for k := range f.elems {
			c := &t.Columns[f.out+k]
			c.Invalid = append(c.Invalid, Cell{Row: row, Value: s})
		}
		return
	}
	for k, p := range parts {
		c := &t.Columns[f.out+k]
		v, null, ok := f.parseText(p)
		switch {
		case !ok:
			c.Invalid = append(c.Invalid, Cell{Row: row, Value: p})
		case null:
			c.Missing = append(c.Missing, row)
		default:
			c.Num[row-1] = v
		}
	}
}

// parseText parses one TABLEDATA element of f's datatype.
func (f *voField) parseText(s string) (v float64, null, ok bool) {
	switch f.datatype {
	case "boolean":
		switch strings.ToLower(s) {
		case "t", "1", "true":
			return 1, false, true
		case "f", "0", "false":
			return 0, false, true
		case "?":
			return 0, true, true
		}
		return 0, false, false
	case "bit":
		switch s {
		case "0":
			return 0, false, true
		case "1":
			return 1, false, true
		}
		return 0, false, false
	case "float", "double":
		bits := 64
		if f.datatype == "float" {
			bits = 32 // the nearest float32, as a BINARY float would hold it
		}
		x, err := strconv.ParseFloat(s, bits)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, false, false
		}
		if math.IsNaN(x) || (f.hasNull && x == f.nullF) {
			return 0, true, true
		}
		return x, false, true
	default:
		n, err := parseVOInt(s, f.datatype)
		if err != nil {
			return 0, false, false
		}
		if f.hasNull && n == f.nullInt {
			return 0, true, true
		}
		return float64(n), false, true
	}
}

// parseVOInt parses a TABLEDATA integer: decimal, or hexadecimal after 0x
// (the bits of the datatype's width, so 0xffff is -1 as a short).
func parseVOInt(s, datatype string) (int64, error) {
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		u, err := strconv.ParseUint(h, 16, 64)
		if err != nil {
			return 0, err
		}
		switch datatype {
		case "short":
			return int64(int16(u)), nil
		case "int":
			return int64(int32(u)), nil
		case "unsignedByte":
			return int64(uint8(u)), nil
		}
		return int64(u), nil
	}
	return strconv.ParseInt(s, 10, 64)
}

// readBinary reads a BINARY or (flags=true) BINARY2 stream.
func readBinary(ctx context.Context, b []byte, fields []*voField, t *Table, flags bool) error {
	nflag := 0
	if flags {
		nflag = (len(fields) + 7) / 8
	}
	for off := 0; off < len(b); {
		row := t.Rows + 1
		if off+nflag > len(b) {
			return fmt.Errorf("row %d is truncated", row)
		}
		mask := b[off : off+nflag]
		off += nflag
		for j, f := range fields {
			null := flags && mask[j/8]&(0x80>>uint(j%8)) != 0
			n, err := f.binaryCell(t, row, b[off:], null)
			if err != nil {
				return fmt.Errorf("row %d FIELD %q: %w", row, f.name, err)
			}
			off += n
		}
		t.Rows = row
		if row%ctxCheckRows == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

var errTruncated = fault.New(fault.Invalid, "the stream ends inside the cell")

// binaryCell stores the cell at the start of b and returns its length.
func (f *voField) binaryCell(t *Table, row int, b []byte, null bool) (int, error) {
	f.grow(t)
	size := voSizes[f.datatype]
	if f.chars {
		n, count := 0, f.elems
		if f.variable {
			if len(b) < 4 {
				return 0, errTruncated
			}
			count, n = int(binary.BigEndian.Uint32(b)), 4
		}
		if count < 0 || n+count*size > len(b) {
			return 0, errTruncated
		}
		raw := b[n : n+count*size]
		var s string
		if f.datatype == "unicodeChar" {
			u := make([]uint16, count)
			for i := range u {
				u[i] = binary.BigEndian.Uint16(raw[2*i:])
			}
			s = string(utf16.Decode(u))
		} else {
			s = string(raw)
		}
		if i := strings.IndexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		s = strings.TrimSpace(s)
		c := &t.Columns[f.out]
		if null || isMissing(s) || (f.hasNull && s == f.null) {
			c.Missing = append(c.Missing, row)
		} else {
			c.Str[row-1] = s
		}
		return n + count*size, nil
	}
	length := f.elems * size
	if f.datatype == "bit" {
		length = (f.elems + 7) / 8
	}
	if length > len(b) {
		return 0, errTruncated
	}
	if null {
		f.nullCell(t, row)
		return length, nil
	}
	for k := range f.elems {
		c := &t.Columns[f.out+k]
		v, isNull := f.binaryElem(b, k)
		if isNull {
			c.Missing = append(c.Missing, row)
			continue
		}
		c.Num[row-1] = v
	}
	return length, nil
}

// binaryElem decodes element k of a numeric cell.
func (f *voField) binaryElem(b []byte, k int) (float64, bool) {
	switch f.datatype {
	case "bit":
		if f.elems == 1 {
			// A scalar bit: the spec puts it in the most significant bit,
			// astropy 8 writes 0x08; any set bit is true.
			return float64(min(b[0], 1)), false
		}
		return float64(b[k/8] >> (7 - uint(k%8)) & 1), false
	case "boolean":
		switch b[k] {
		case 'T', 't', '1':
			return 1, false
		case 'F', 'f', '0':
			return 0, false
		}
		return 0, true // 0x00, ' ' and '?' are null
	case "float":
		x := float64(math.Float32frombits(binary.BigEndian.Uint32(b[4*k:])))
		return x, math.IsNaN(x) || (f.hasNull && x == f.nullF)
	case "double":
		x := math.Float64frombits(binary.BigEndian.Uint64(b[8*k:]))
		return x, math.IsNaN(x) || (f.hasNull && x == f.nullF)
	}
	var n int64
	switch f.datatype {
	case "unsignedByte":
		n = int64(b[k])
	case "short":
		n = int64(int16(binary.BigEndian.Uint16(b[2*k:])))
	case "int":
		n = int64(int32(binary.BigEndian.Uint32(b[4*k:])))
	case "long":
		n = int64(binary.BigEndian.Uint64(b[8*k:]))
	}
	if f.hasNull && n == f.nullInt {
		return 0, true
	}
	return float64(n), false
}
