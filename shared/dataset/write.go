package dataset

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/parquet-go/parquet-go"
)

// ErrWrite is wrapped by errors about what a TableWriter was asked to
// write: batches that do not match its columns, a wrong row count.
var ErrWrite = fault.New(fault.Internal, "dataset: cannot write table")

// ColumnType is how a TableWriter stores a column.
type ColumnType int

// Column types. Float64 and Float32 take Values.F (NaN is null: an empty
// CSV cell, a Parquet null, a FITS NaN); Int64, Int32 and Bool take
// Values.I (Bool: 0 false, anything else true); String takes Values.S.
const (
	Float64 ColumnType = iota
	Float32
	Int64
	Int32
	Bool
	String
)

// WriteColumn describes one column of a written table.
type WriteColumn struct {
	Name string
	Type ColumnType
	// Unit is written as the FITS TUNIT (CSV and Parquet have no place
	// for it).
	Unit string
	// Width is the FITS field width in bytes of a String column (default
	// 16); a longer value is an error.
	Width int
}

// Values holds one column of a batch: F, I or S as its ColumnType says.
type Values struct {
	F []float64
	I []int64
	S []string
}

func (v Values) len(t ColumnType) int {
	switch t {
	case Float64, Float32:
		return len(v.F)
	case String:
		return len(v.S)
	}
	return len(v.I)
}

// TableWriter writes a table batch by batch, so a table of any size is
// written in bounded memory.
type TableWriter interface {
	// Write appends the rows of batch: one Values per column, in the
	// writer's column order, all of one length. A batch that does not
	// match is refused (ErrWrite) before anything is written.
	Write(ctx context.Context, batch []Values) error
	// Close flushes what is buffered and finishes the file. For FITS it
	// fails (ErrWrite) unless exactly the declared rows were written. It
	// does not close the underlying io.Writer.
	Close() error
}

// NewTableWriter returns a TableWriter of format (csv, tsv, parquet or
// fits) over w. rows is the number of rows that will be written; FITS
// needs it in its header (NAXIS2) before the first row, the other formats
// ignore it.
func NewTableWriter(w io.Writer, format Format, cols []WriteColumn, rows int64) (TableWriter, error) {
	if len(cols) == 0 {
		return nil, fmt.Errorf("%w: no columns", ErrWrite)
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	if _, err := headerNames(names, "the written table"); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWrite, err)
	}
	switch format {
	case FormatCSV, FormatTSV:
		sep := byte(',')
		if format == FormatTSV {
			sep = '\t'
		}
		return newCSVWriter(w, cols, sep)
	case FormatParquet:
		return newParquetWriter(w, cols)
	case FormatFITS:
		return newFITSWriter(w, cols, rows)
	}
	return nil, fmt.Errorf("%w: writing %q is not supported (csv, tsv, parquet, fits)", ErrUnsupported, format)
}

// check refuses a batch that does not match cols; it returns the rows.
func check(cols []WriteColumn, batch []Values) (int, error) {
	if len(batch) != len(cols) {
		return 0, fmt.Errorf("%w: batch has %d columns, the table %d", ErrWrite, len(batch), len(cols))
	}
	n := batch[0].len(cols[0].Type)
	for j, c := range cols {
		if got := batch[j].len(c.Type); got != n {
			return 0, fmt.Errorf("%w: column %q has %d values in a batch of %d rows", ErrWrite, c.Name, got, n)
		}
	}
	return n, nil
}

// FileWriter is a TableWriter onto a file that appears only when Close
// succeeds: it is written to a temporary file beside it and renamed.
type FileWriter struct {
	TableWriter
	f    *os.File
	buf  *bufio.Writer
	gz   *gzip.Writer
	path string
	done bool
}

// CreateFile writes a table to path in the format of its extension (CSV,
// TSV, Parquet or FITS; a trailing .gz compresses a FITS file). rows is as
// for NewTableWriter. Call Close to finish the file, or Abort to drop it.
func CreateFile(path string, cols []WriteColumn, rows int64) (*FileWriter, error) {
	format, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	gz := strings.HasSuffix(strings.ToLower(path), ".gz")
	if gz && format != FormatFITS {
		return nil, fmt.Errorf("%w: %s: only FITS output is compressed (.fits.gz)", ErrUnsupported, path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	fw := &FileWriter{f: f, buf: bufio.NewWriterSize(f, 1<<20), path: path}
	var w io.Writer = fw.buf
	if gz {
		fw.gz = gzip.NewWriter(fw.buf)
		w = fw.gz
	}
	if fw.TableWriter, err = NewTableWriter(w, format, cols, rows); err != nil {
		fw.Abort()
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return fw, nil
}

// Close finishes the table and moves the file into place.
func (fw *FileWriter) Close() error {
	if fw.done {
		return nil
	}
	err := fw.TableWriter.Close()
	if err == nil && fw.gz != nil {
		err = fw.gz.Close()
	}
	if err == nil {
		err = fw.buf.Flush()
	}
	if err == nil {
		err = fw.f.Chmod(0o644) // a data file, not the private temporary file it was
	}
	if err == nil {
		err = fw.f.Close()
	}
	if err == nil {
		err = os.Rename(fw.f.Name(), fw.path)
	}
	if err != nil {
		fw.Abort()
		return fmt.Errorf("write %s: %w", fw.path, err)
	}
	fw.done = true
	return nil
}

// Abort drops the file; it is a no-op after a successful Close.
func (fw *FileWriter) Abort() {
	if fw.done {
		return
	}
	fw.done = true
	fw.f.Close()
	os.Remove(fw.f.Name())
}

// csvWriter writes delimited text with a header row.
type csvWriter struct {
	w    *bufio.Writer
	cols []WriteColumn
	sep  byte
	line []byte
}

func newCSVWriter(w io.Writer, cols []WriteColumn, sep byte) (*csvWriter, error) {
	c := &csvWriter{w: bufio.NewWriter(w), cols: cols, sep: sep}
	for j, col := range cols {
		if j > 0 {
			c.line = append(c.line, sep)
		}
		c.line = appendCSVField(c.line, col.Name, sep)
	}
	c.line = append(c.line, '\n')
	_, err := c.w.Write(c.line)
	return c, err
}

func appendCSVField(b []byte, s string, sep byte) []byte {
	if !strings.ContainsAny(s, string(sep)+"\"\r\n") && strings.TrimSpace(s) == s {
		return append(b, s...)
	}
	b = append(b, '"')
	b = append(b, strings.ReplaceAll(s, `"`, `""`)...)
	return append(b, '"')
}

func (c *csvWriter) Write(ctx context.Context, batch []Values) error {
	n, err := check(c.cols, batch)
	if err != nil {
		return err
	}
	for i := range n {
		if i%ctxCheckRows == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		c.line = c.line[:0]
		for j, col := range c.cols {
			if j > 0 {
				c.line = append(c.line, c.sep)
			}
			switch col.Type {
			case Float64, Float32:
				if v := batch[j].F[i]; !math.IsNaN(v) {
					bits := 64
					if col.Type == Float32 {
						bits = 32
					}
					c.line = strconv.AppendFloat(c.line, v, 'g', -1, bits)
				}
			case Bool:
				if batch[j].I[i] != 0 {
					c.line = append(c.line, '1')
				} else {
					c.line = append(c.line, '0')
				}
			case String:
				c.line = appendCSVField(c.line, batch[j].S[i], c.sep)
			default:
				c.line = strconv.AppendInt(c.line, batch[j].I[i], 10)
			}
		}
		c.line = append(c.line, '\n')
		if _, err := c.w.Write(c.line); err != nil {
			return err
		}
	}
	return nil
}

func (c *csvWriter) Close() error { return c.w.Flush() }

// parquetRowGroup is the most rows a Parquet row group holds, which bounds
// what the writer buffers.
const parquetRowGroup = 256 << 10

// parquetWriter writes one flat Parquet schema, float columns optional
// (NaN written as null).
type parquetWriter struct {
	w    *parquet.Writer
	cols []WriteColumn
	rows []parquet.Row
}

func newParquetWriter(w io.Writer, cols []WriteColumn) (*parquetWriter, error) {
	// A struct type built at run time keeps the columns in their order
	// (a parquet.Group sorts its fields by name).
	fields := make([]reflect.StructField, len(cols))
	for j, c := range cols {
		var typ reflect.Type
		tag := c.Name
		switch c.Type {
		case Float64:
			typ, tag = reflect.TypeFor[float64](), tag+",optional"
		case Float32:
			typ, tag = reflect.TypeFor[float32](), tag+",optional"
		case Int64:
			typ = reflect.TypeFor[int64]()
		case Int32:
			typ = reflect.TypeFor[int32]()
		case Bool:
			typ = reflect.TypeFor[bool]()
		case String:
			typ = reflect.TypeFor[string]()
		}
		if strings.ContainsAny(c.Name, ",\"`") {
			return nil, fmt.Errorf("%w: Parquet column name %q holds a comma or a quote", ErrWrite, c.Name)
		}
		fields[j] = reflect.StructField{Name: "F" + strconv.Itoa(j), Type: typ, Tag: reflect.StructTag(`parquet:"` + tag + `"`)}
	}
	schema := parquet.SchemaOf(reflect.New(reflect.StructOf(fields)).Interface())
	pw := parquet.NewWriter(w, schema, parquet.MaxRowsPerRowGroup(parquetRowGroup), parquet.Compression(&parquet.Snappy))
	return &parquetWriter{w: pw, cols: cols}, nil
}

func (p *parquetWriter) Write(ctx context.Context, batch []Values) error {
	n, err := check(p.cols, batch)
	if err != nil {
		return err
	}
	for lo := 0; lo < n; lo += 4096 {
		if err := ctx.Err(); err != nil {
			return err
		}
		hi := min(n, lo+4096)
		p.rows = p.rows[:0]
		for i := lo; i < hi; i++ {
			row := make(parquet.Row, len(p.cols))
			for j, c := range p.cols {
				var v parquet.Value
				switch c.Type {
				case Float64, Float32:
					x := batch[j].F[i]
					switch {
					case math.IsNaN(x):
						v = parquet.NullValue().Level(0, 0, j)
					case c.Type == Float32:
						v = parquet.FloatValue(float32(x)).Level(0, 1, j)
					default:
						v = parquet.DoubleValue(x).Level(0, 1, j)
					}
				case Int64:
					v = parquet.Int64Value(batch[j].I[i]).Level(0, 0, j)
				case Int32:
					v = parquet.Int32Value(int32(batch[j].I[i])).Level(0, 0, j)
				case Bool:
					v = parquet.BooleanValue(batch[j].I[i] != 0).Level(0, 0, j)
				case String:
					v = parquet.ByteArrayValue([]byte(batch[j].S[i])).Level(0, 0, j)
				}
				row[j] = v
			}
			p.rows = append(p.rows, row)
		}
		if _, err := p.w.WriteRows(p.rows); err != nil {
			return fmt.Errorf("write parquet: %w", err)
		}
	}
	return nil
}

func (p *parquetWriter) Close() error { return p.w.Close() }

// fitsWriter writes a primary HDU without data and one BINTABLE extension
// (FITS Standard 4.0, section 7.3), streaming the rows.
type fitsWriter struct {
	w        *bufio.Writer
	cols     []WriteColumn
	declared int64
	written  int64
	rowBytes int
	row      []byte
}

func newFITSWriter(w io.Writer, cols []WriteColumn, rows int64) (*fitsWriter, error) {
	if rows < 1 {
		return nil, fmt.Errorf("%w: a FITS table needs its row count before the first row (got %d)", ErrWrite, rows)
	}
	fw := &fitsWriter{w: bufio.NewWriterSize(w, 1<<20), cols: cols, declared: rows}
	var hdr []string
	hdr = append(hdr, fitsCard("SIMPLE", "T", "conforms to the FITS standard"), fitsCard("BITPIX", "8", ""),
		fitsCard("NAXIS", "0", ""), fitsCard("EXTEND", "T", ""))
	if err := fw.header(hdr); err != nil {
		return nil, err
	}
	hdr = []string{fitsCard("XTENSION", fitsString("BINTABLE"), "binary table extension"), fitsCard("BITPIX", "8", ""),
		fitsCard("NAXIS", "2", "")}
	var forms []string
	for i := range cols {
		c := &cols[i]
		var form string
		var size int
		switch c.Type {
		case Float64:
			form, size = "1D", 8
		case Float32:
			form, size = "1E", 4
		case Int64:
			form, size = "1K", 8
		case Int32:
			form, size = "1J", 4
		case Bool:
			form, size = "1L", 1
		case String:
			if c.Width <= 0 {
				c.Width = 16
			}
			form, size = strconv.Itoa(c.Width)+"A", c.Width
		}
		forms = append(forms, form)
		fw.rowBytes += size
	}
	hdr = append(hdr, fitsCard("NAXIS1", strconv.Itoa(fw.rowBytes), "bytes per row"),
		fitsCard("NAXIS2", strconv.FormatInt(rows, 10), "rows"), fitsCard("PCOUNT", "0", ""), fitsCard("GCOUNT", "1", ""),
		fitsCard("TFIELDS", strconv.Itoa(len(cols)), ""))
	for i, c := range cols {
		n := strconv.Itoa(i + 1)
		hdr = append(hdr, fitsCard("TTYPE"+n, fitsString(c.Name), ""), fitsCard("TFORM"+n, fitsString(forms[i]), ""))
		if c.Unit != "" {
			hdr = append(hdr, fitsCard("TUNIT"+n, fitsString(c.Unit), ""))
		}
	}
	hdr = append(hdr, fitsCard("EXTNAME", fitsString("TABLE"), ""))
	for _, card := range hdr {
		if len(card) != 80 {
			return nil, fmt.Errorf("%w: FITS header card %q is longer than 80 characters", ErrWrite, strings.TrimSpace(card))
		}
	}
	if err := fw.header(hdr); err != nil {
		return nil, err
	}
	fw.row = make([]byte, fw.rowBytes)
	return fw, nil
}

// fitsCard formats a fixed-format header card: the keyword in columns
// 1-8, "= " and the value right-justified to column 30 (a string starts at
// column 11), then the comment.
func fitsCard(key, value, comment string) string {
	card := fmt.Sprintf("%-8s= ", key)
	if strings.HasPrefix(value, "'") {
		card += fmt.Sprintf("%-20s", value)
	} else {
		card += fmt.Sprintf("%20s", value)
	}
	if comment != "" {
		card += " / " + comment
	}
	if len(card) < 80 {
		card += strings.Repeat(" ", 80-len(card))
	}
	return card
}

// fitsString quotes a string value, padded to at least 8 characters.
func fitsString(s string) string {
	return "'" + fmt.Sprintf("%-8s", strings.ReplaceAll(s, "'", "''")) + "'"
}

// header writes cards and END, padded with spaces to a whole block.
func (fw *fitsWriter) header(cards []string) error {
	var b strings.Builder
	for _, c := range cards {
		b.WriteString(c)
	}
	b.WriteString(fmt.Sprintf("%-80s", "END"))
	if pad := b.Len() % fitsBlock; pad != 0 {
		b.WriteString(strings.Repeat(" ", fitsBlock-pad))
	}
	_, err := fw.w.WriteString(b.String())
	return err
}

func (fw *fitsWriter) Write(ctx context.Context, batch []Values) error {
	n, err := check(fw.cols, batch)
	if err != nil {
		return err
	}
	if fw.written+int64(n) > fw.declared {
		return fmt.Errorf("%w: FITS table declared %d rows; this batch would make %d", ErrWrite, fw.declared, fw.written+int64(n))
	}
	for j, c := range fw.cols {
		if c.Type != String {
			continue
		}
		for _, s := range batch[j].S {
			if len(s) > c.Width {
				return fmt.Errorf("%w: column %q value %q is longer than its FITS width %d", ErrWrite, c.Name, s, c.Width)
			}
		}
	}
	for i := range n {
		if i%ctxCheckRows == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		off := 0
		for j, c := range fw.cols {
			switch c.Type {
			case Float64:
				binary.BigEndian.PutUint64(fw.row[off:], math.Float64bits(batch[j].F[i]))
				off += 8
			case Float32:
				binary.BigEndian.PutUint32(fw.row[off:], math.Float32bits(float32(batch[j].F[i])))
				off += 4
			case Int64:
				binary.BigEndian.PutUint64(fw.row[off:], uint64(batch[j].I[i]))
				off += 8
			case Int32:
				binary.BigEndian.PutUint32(fw.row[off:], uint32(int32(batch[j].I[i])))
				off += 4
			case Bool:
				fw.row[off] = 'F'
				if batch[j].I[i] != 0 {
					fw.row[off] = 'T'
				}
				off++
			case String:
				s := batch[j].S[i]
				copy(fw.row[off:], s)
				for k := off + len(s); k < off+c.Width; k++ {
					fw.row[k] = ' '
				}
				off += c.Width
			}
		}
		if _, err := fw.w.Write(fw.row); err != nil {
			return err
		}
	}
	fw.written += int64(n)
	return nil
}

func (fw *fitsWriter) Close() error {
	if fw.written != fw.declared {
		return fmt.Errorf("%w: FITS table declared %d rows, %d were written", ErrWrite, fw.declared, fw.written)
	}
	if rem := (fw.written * int64(fw.rowBytes)) % fitsBlock; rem != 0 {
		if _, err := fw.w.Write(make([]byte, fitsBlock-rem)); err != nil {
			return err
		}
	}
	return fw.w.Flush()
}
