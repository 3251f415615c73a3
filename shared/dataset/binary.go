package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/orrery-ml/orrery/shared/fault"
)

// BinaryFormats reads and writes the binary table formats, Parquet and
// FITS. Their libraries (parquet-go and, through it, protobuf, zstd and
// the other codecs; fitsio) are not linked by this package: their package
// inits and size would be paid by every cold start of a program that
// reads no data set but works with the package's types (the api Lambda
// function, through shared/api's validation). shared/dataset/parquetfits
// implements BinaryFormats and registers itself when it is linked: the
// programs that read data sets import it, and shared/arch checks which do.
type BinaryFormats interface {
	// ReadParquet parses the Parquet file of size bytes in r, as ReadParquet
	// documents; name is the table's Source, hash its Hash.
	ReadParquet(ctx context.Context, r io.ReaderAt, size int64, name, hash string) (*Table, error)
	// ReadFITS parses the FITS file in data, the table HDU that selector
	// names ("": the first table; see SplitHDU), as Read documents.
	ReadFITS(ctx context.Context, data []byte, name, hash, selector string) (*Table, error)
	// OpenParquetStream opens file, the Parquet file at path, as
	// OpenParquetStream documents; on error the caller closes file.
	OpenParquetStream(ctx context.Context, file *os.File, path string, opts SelectOptions) (*ParquetStream, error)
	// NewWriter returns a writer of format (FormatParquet or FormatFITS)
	// over w, as NewTableWriter documents; cols are checked already.
	NewWriter(w io.Writer, format Format, cols []WriteColumn, rows int64) (TableWriter, error)
}

// ErrNoBinaryFormats means a Parquet or FITS table in a program that does
// not link shared/dataset/parquetfits: a wiring defect, not bad input.
var ErrNoBinaryFormats = fault.New(fault.Internal,
	"dataset: the Parquet and FITS readers are not linked (import shared/dataset/parquetfits)")

// registered is the BinaryFormats RegisterBinaryFormats was given.
var registered BinaryFormats

// RegisterBinaryFormats makes b read and write Parquet and FITS for Read,
// ReadBytes, ReadParquet, OpenParquetStream and NewTableWriter. It is
// meant for the package init of shared/dataset/parquetfits (as image
// decoders register themselves with package image), and panics when
// called twice.
func RegisterBinaryFormats(b BinaryFormats) {
	if registered != nil {
		panic("dataset: RegisterBinaryFormats called twice")
	}
	registered = b
}

// binaryFormats returns the registered BinaryFormats, or an error wrapping
// ErrNoBinaryFormats for format.
func binaryFormats(format Format) (BinaryFormats, error) {
	if registered == nil {
		return nil, fmt.Errorf("%s: %w", format, ErrNoBinaryFormats)
	}
	return registered, nil
}

// ReadParquet reads a Parquet file of size bytes from r; name identifies it in
// errors and becomes the table's Source, and Hash is the hex SHA-256 of the
// bytes. Numeric physical types (boolean as 0/1, int32, int64, float, double,
// and decimals of any physical type) become Numeric columns; byte arrays
// (strings) and int96 become Text. Nulls, and strings equal to a missing
// marker, are recorded in Column.Missing. Nested (repeated) columns give an
// error wrapping ErrUnsupported; a column inside a group is named by its path
// joined with dots.
func ReadParquet(ctx context.Context, r io.ReaderAt, size int64, name string) (*Table, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	b, err := binaryFormats(FormatParquet)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return b.ReadParquet(ctx, r, size, name, hex.EncodeToString(h.Sum(nil)))
}

// parseParquet parses through the registered BinaryFormats.
func parseParquet(ctx context.Context, r io.ReaderAt, size int64, name, hash string) (*Table, error) {
	b, err := binaryFormats(FormatParquet)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return b.ReadParquet(ctx, r, size, name, hash)
}

// parseFITS parses through the registered BinaryFormats.
func parseFITS(ctx context.Context, data []byte, name, hash, selector string) (*Table, error) {
	b, err := binaryFormats(FormatFITS)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return b.ReadFITS(ctx, data, name, hash, selector)
}

// RowGroupReader reads a ParquetStream's file one row group at a time.
type RowGroupReader interface {
	// RowGroups returns the number of row groups, the units ReadRowGroup
	// reads.
	RowGroups() int
	// GroupRows returns the first row (0-based) and the row count of row
	// group g.
	GroupRows(g int) (first, rows int)
	// ReadRowGroup reads row group g into c, reusing c's buffers.
	ReadRowGroup(ctx context.Context, g int, c *Chunk) error
	// Close releases the file.
	Close() error
}

// ParquetStream reads a Parquet file one row group at a time, so that a
// file larger than memory can be trained on: only the row group being read
// is held (as a Chunk), never the whole table. It selects features and
// encodes the target exactly as Table.Select would (the same classes, the
// same positive class, the same feature order), from one first pass over
// the target column that OpenParquetStream makes.
//
// A ParquetStream is not safe for concurrent use; Close releases the file.
type ParquetStream struct {
	// Source is the file's path, Hash the hex SHA-256 of its bytes (equal
	// to the Table.Hash that Read gives the same file).
	Source, Hash string
	// Rows is the number of data rows in the file.
	Rows int
	// FeatureNames, Classes, Positive, Target and Skipped are what
	// Table.Select gives the Dataset.
	FeatureNames []string
	Classes      []string
	Positive     int
	Target       string
	Skipped      []string
	// ClassCounts is the number of rows of each class in the whole file.
	ClassCounts []int

	// RowGroupReader reads the row groups: the Parquet reader of
	// shared/dataset/parquetfits, which opened the stream.
	RowGroupReader
}

// Chunk is the rows of one row group of a ParquetStream.
type Chunk struct {
	// FirstRow is the 0-based number of the chunk's first row in the file
	// (its RowIDs are FirstRow+1 ... FirstRow+Rows).
	FirstRow int
	Rows     int
	// X is Rows × len(FeatureNames), row-major; NaN marks a missing value.
	X []float64
	// Y holds each row's class index into the stream's Classes.
	Y []int
}

// OpenParquetStream opens the Parquet file at path for streaming with the
// selection opts (opts.Classes is not supported: a fixed encoding is for a
// separate test file, which streaming does not take). It hashes the file
// and reads its target column once to find the classes; the errors are
// those of Read and Table.Select for the same file.
func OpenParquetStream(ctx context.Context, path string, opts SelectOptions) (*ParquetStream, error) {
	b, err := binaryFormats(FormatParquet)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", path, err)
	}
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", path, err)
	}
	s, err := b.OpenParquetStream(ctx, file, path, opts)
	if err != nil {
		file.Close()
		return nil, err
	}
	return s, nil
}

// The functions below are the rules of the text readers that a
// BinaryFormats implementation applies too, so that every format reads
// alike.

// IsMissing reports whether a trimmed cell is one of the missing-value
// markers ("", "NA", "N/A", "null", "NULL", "None", "?"). A literal "NaN" is
// not a marker: it parses as the number NaN.
func IsMissing(s string) bool { return isMissing(s) }

// HeaderNames trims and checks a table's column names (name is the file, for
// errors): every name non-empty and unique, or an error wrapping
// ErrBadHeader.
func HeaderNames(header []string, name string) ([]string, error) { return headerNames(header, name) }

// ClassesOf is Table.Select's class encoding for the distinct target
// labels of a table and the rows of each: the classes in order, each
// label's class, and the positive class. Its errors are Select's (a single
// class, an unknown positive class).
func ClassesOf(labels []string, perLabel []int, opts SelectOptions, target string) (classes []string, classOf []int, positive int, err error) {
	return labelClasses(labels, perLabel, opts, target)
}

// CheckBatch refuses (ErrWrite) a batch that does not match cols, as every
// TableWriter does before writing; it returns the batch's rows.
func CheckBatch(cols []WriteColumn, batch []Values) (int, error) { return check(cols, batch) }
