package parquetfits

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"github.com/orrery-ml/orrery/shared/dataset"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// ErrWrite is wrapped by errors about what a TableWriter was asked to
// write: batches that do not match its columns, a wrong row count.
// parquetRowGroup is the most rows a Parquet row group holds, which bounds
// what the writer buffers.
const parquetRowGroup = 256 << 10

// parquetWriter writes one flat Parquet schema, float columns optional
// (NaN written as null).
type parquetWriter struct {
	w    *parquet.Writer
	cols []dataset.WriteColumn
	rows []parquet.Row
}

func newParquetWriter(w io.Writer, cols []dataset.WriteColumn) (*parquetWriter, error) {
	// A struct type built at run time keeps the columns in their order
	// (a parquet.Group sorts its fields by name).
	fields := make([]reflect.StructField, len(cols))
	for j, c := range cols {
		var typ reflect.Type
		tag := c.Name
		switch c.Type {
		case dataset.Float64:
			typ, tag = reflect.TypeFor[float64](), tag+",optional"
		case dataset.Float32:
			typ, tag = reflect.TypeFor[float32](), tag+",optional"
		case dataset.Int64:
			typ = reflect.TypeFor[int64]()
		case dataset.Int32:
			typ = reflect.TypeFor[int32]()
		case dataset.Bool:
			typ = reflect.TypeFor[bool]()
		case dataset.String:
			typ = reflect.TypeFor[string]()
		}
		if strings.ContainsAny(c.Name, ",\"`") {
			return nil, fmt.Errorf("%w: Parquet column name %q holds a comma or a quote", dataset.ErrWrite, c.Name)
		}
		fields[j] = reflect.StructField{Name: "F" + strconv.Itoa(j), Type: typ, Tag: reflect.StructTag(`parquet:"` + tag + `"`)}
	}
	schema := parquet.SchemaOf(reflect.New(reflect.StructOf(fields)).Interface())
	pw := parquet.NewWriter(w, schema, parquet.MaxRowsPerRowGroup(parquetRowGroup), parquet.Compression(&parquet.Snappy))
	return &parquetWriter{w: pw, cols: cols}, nil
}

func (p *parquetWriter) Write(ctx context.Context, batch []dataset.Values) error {
	n, err := dataset.CheckBatch(p.cols, batch)
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
				case dataset.Float64, dataset.Float32:
					x := batch[j].F[i]
					switch {
					case math.IsNaN(x):
						v = parquet.NullValue().Level(0, 0, j)
					case c.Type == dataset.Float32:
						v = parquet.FloatValue(float32(x)).Level(0, 1, j)
					default:
						v = parquet.DoubleValue(x).Level(0, 1, j)
					}
				case dataset.Int64:
					v = parquet.Int64Value(batch[j].I[i]).Level(0, 0, j)
				case dataset.Int32:
					v = parquet.Int32Value(int32(batch[j].I[i])).Level(0, 0, j)
				case dataset.Bool:
					v = parquet.BooleanValue(batch[j].I[i] != 0).Level(0, 0, j)
				case dataset.String:
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
	cols     []dataset.WriteColumn
	declared int64
	written  int64
	rowBytes int
	row      []byte
}

func newFITSWriter(w io.Writer, cols []dataset.WriteColumn, rows int64) (*fitsWriter, error) {
	if rows < 1 {
		return nil, fmt.Errorf("%w: a FITS table needs its row count before the first row (got %d)", dataset.ErrWrite, rows)
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
		case dataset.Float64:
			form, size = "1D", 8
		case dataset.Float32:
			form, size = "1E", 4
		case dataset.Int64:
			form, size = "1K", 8
		case dataset.Int32:
			form, size = "1J", 4
		case dataset.Bool:
			form, size = "1L", 1
		case dataset.String:
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
			return nil, fmt.Errorf("%w: FITS header card %q is longer than 80 characters", dataset.ErrWrite, strings.TrimSpace(card))
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

func (fw *fitsWriter) Write(ctx context.Context, batch []dataset.Values) error {
	n, err := dataset.CheckBatch(fw.cols, batch)
	if err != nil {
		return err
	}
	if fw.written+int64(n) > fw.declared {
		return fmt.Errorf("%w: FITS table declared %d rows; this batch would make %d", dataset.ErrWrite, fw.declared, fw.written+int64(n))
	}
	for j, c := range fw.cols {
		if c.Type != dataset.String {
			continue
		}
		for _, s := range batch[j].S {
			if len(s) > c.Width {
				return fmt.Errorf("%w: column %q value %q is longer than its FITS width %d", dataset.ErrWrite, c.Name, s, c.Width)
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
			case dataset.Float64:
				binary.BigEndian.PutUint64(fw.row[off:], math.Float64bits(batch[j].F[i]))
				off += 8
			case dataset.Float32:
				binary.BigEndian.PutUint32(fw.row[off:], math.Float32bits(float32(batch[j].F[i])))
				off += 4
			case dataset.Int64:
				binary.BigEndian.PutUint64(fw.row[off:], uint64(batch[j].I[i]))
				off += 8
			case dataset.Int32:
				binary.BigEndian.PutUint32(fw.row[off:], uint32(int32(batch[j].I[i])))
				off += 4
			case dataset.Bool:
				fw.row[off] = 'F'
				if batch[j].I[i] != 0 {
					fw.row[off] = 'T'
				}
				off++
			case dataset.String:
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
		return fmt.Errorf("%w: FITS table declared %d rows, %d were written", dataset.ErrWrite, fw.declared, fw.written)
	}
	if rem := (fw.written * int64(fw.rowBytes)) % fitsBlock; rem != 0 {
		if _, err := fw.w.Write(make([]byte, fitsBlock-rem)); err != nil {
			return err
		}
	}
	return fw.w.Flush()
}
