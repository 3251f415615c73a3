package parquetfits

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/fault"
)

// ctxCheckRows is how many rows a reader parses between checks of its
// context, as shared/dataset's readers do.
const ctxCheckRows = 4096

// errSlowPath tells parseParquet that a file needs the row-wise reader
// (a dictionary page, a decimal column, an unexpected page kind).
var errSlowPath = fault.New(fault.Internal, "parquetfits: file needs the general reader")

// formats is the dataset.BinaryFormats of the package.
type formats struct{}

var _ dataset.BinaryFormats = formats{}

func init() { dataset.RegisterBinaryFormats(formats{}) }

func (formats) ReadParquet(ctx context.Context, r io.ReaderAt, size int64, name, hash string) (*dataset.Table, error) {
	return parseParquet(ctx, r, size, name, hash)
}

func (formats) ReadFITS(ctx context.Context, data []byte, name, hash, selector string) (*dataset.Table, error) {
	return parseFITS(ctx, data, name, hash, selector)
}

func (formats) OpenParquetStream(ctx context.Context, file *os.File, path string, opts dataset.SelectOptions) (*dataset.ParquetStream, error) {
	return openParquetStream(ctx, file, path, opts)
}

func (formats) NewWriter(w io.Writer, format dataset.Format, cols []dataset.WriteColumn, rows int64) (dataset.TableWriter, error) {
	switch format {
	case dataset.FormatParquet:
		return newParquetWriter(w, cols)
	case dataset.FormatFITS:
		return newFITSWriter(w, cols, rows)
	}
	return nil, fmt.Errorf("%w: parquetfits writes parquet and fits, not %q", dataset.ErrUnsupported, format)
}
