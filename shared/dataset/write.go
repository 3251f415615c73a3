package dataset

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/orrery-ml/orrery/shared/fault"
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
	case FormatParquet, FormatFITS:
		b, err := binaryFormats(format)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrWrite, err)
		}
		return b.NewWriter(w, format, cols, rows)
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
