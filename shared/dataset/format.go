package dataset

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/orrery-ml/orrery/shared/fault"
	"io"
	"path"
	"strings"
)

// Format is a data file format the readers know.
type Format string

// Formats, named as FormatOf returns them.
const (
	FormatCSV     Format = "csv"
	FormatTSV     Format = "tsv"
	FormatParquet Format = "parquet"
	// FormatFITS is a FITS file (binary or ASCII table extensions), plain
	// or gzip-compressed.
	FormatFITS Format = "fits"
	// FormatVOTable is an IVOA VOTable (TABLEDATA, BINARY, BINARY2 or
	// FITS serialisations), plain or gzip-compressed.
	FormatVOTable Format = "votable"
)

// Extensions lists the file name endings the readers accept, for messages.
const Extensions = ".csv, .tsv, .tab, .parquet, .fits, .fit, .fts (each FITS one optionally .gz), .vot, .votable, .xml (optionally .gz)"

// FormatOf returns the format of a file name (a local path or an object
// key) by its extension, case-insensitively: .csv; .tsv and .tab; .parquet;
// .fits, .fit, .fts with an optional .gz; .vot, .votable, .xml with an
// optional .gz. A table selector ("[1]", "[EVENTS]", see SplitHDU) is
// ignored. Anything else is an error wrapping ErrUnsupported that names the
// file and lists the extensions.
func FormatOf(name string) (Format, error) {
	file, _ := SplitHDU(name)
	base := strings.ToLower(path.Base(strings.ReplaceAll(file, `\`, "/")))
	inner := strings.TrimSuffix(base, ".gz")
	switch path.Ext(inner) {
	case ".fits", ".fit", ".fts":
		return FormatFITS, nil
	case ".vot", ".votable", ".xml":
		return FormatVOTable, nil
	}
	switch ext := path.Ext(base); ext {
	case ".csv":
		return FormatCSV, nil
	case ".tsv", ".tab":
		return FormatTSV, nil
	case ".parquet":
		return FormatParquet, nil
	case "":
		return "", fmt.Errorf("%w: %s has no file extension (want %s)", ErrUnsupported, name, Extensions)
	default:
		return "", fmt.Errorf("%w: %s has extension %q (want %s)", ErrUnsupported, name, ext, Extensions)
	}
}

// multiTable reports whether a format holds several tables, among which a
// selector chooses.
func (f Format) multiTable() bool { return f == FormatFITS || f == FormatVOTable }

// SplitHDU splits a FITS or VOTable path written with a table selector in
// the CFITSIO style — "catalog.fits[1]", "catalog.fits.gz[EVENTS]",
// "cone.vot[0]" — into the file and the selector ("1", "EVENTS", "0"). A
// path without one, or of another format, is returned whole with an empty
// selector. See ReadOptions.HDU for what a selector means.
func SplitHDU(p string) (file, hdu string) {
	if !strings.HasSuffix(p, "]") {
		return p, ""
	}
	open := strings.LastIndex(p, "[")
	if open <= 0 {
		return p, ""
	}
	file, hdu = p[:open], strings.TrimSpace(p[open+1:len(p)-1])
	lower := strings.ToLower(strings.TrimSuffix(strings.ToLower(file), ".gz"))
	for _, ext := range []string{".fits", ".fit", ".fts", ".vot", ".votable", ".xml"} {
		if strings.HasSuffix(lower, ext) && hdu != "" {
			return file, hdu
		}
	}
	return p, ""
}

// WithHDU returns p with the table selector hdu appended ("x.fits" and "2"
// give "x.fits[2]"); an empty hdu returns p unchanged. It is the inverse of
// SplitHDU, so a selector travels through interfaces that take one path.
func WithHDU(p, hdu string) string {
	hdu = strings.TrimSpace(hdu)
	if hdu == "" {
		return p
	}
	if _, had := SplitHDU(p); had != "" {
		return p
	}
	return p + "[" + hdu + "]"
}

// ReadOptions chooses what ReadBytes reads from a file.
type ReadOptions struct {
	// HDU selects the table of a FITS or VOTable file. For FITS: an HDU
	// number (0 is the primary HDU, 1 the first extension, as in CFITSIO
	// and astropy) or an EXTNAME (case-insensitive). For VOTable: the
	// 0-based index of a TABLE in document order, or a TABLE's name or ID.
	// Empty picks the first table (for FITS the first table extension).
	// Other formats refuse a selector.
	HDU string
}

// ReadBytes parses data, the whole content of a file of the given format;
// name identifies it in errors and becomes the table's Source, and the
// table's Hash is the hex SHA-256 of data (of the compressed bytes for a
// gzip-compressed file). Errors wrap the sentinels of the format's reader.
func ReadBytes(ctx context.Context, data []byte, name string, format Format, opts ReadOptions) (*Table, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if opts.HDU != "" && !format.multiTable() {
		return nil, fmt.Errorf("%w: %s is %s, which holds one table; a table selector (%q) applies to FITS and VOTable files",
			ErrUnsupported, name, format, opts.HDU)
	}
	// The hash runs beside the parse (a sixth of a CSV read, a fifth of
	// a Parquet one); the parsers leave Hash empty and it is set here.
	sums := make(chan string, 1)
	go func() {
		sum := sha256.Sum256(data)
		sums <- hex.EncodeToString(sum[:])
	}()
	t, err := parseFormat(ctx, data, name, format, opts)
	if err != nil && ctx.Err() == nil && fault.CodeOf(err) == fault.Internal && !errors.Is(err, ErrNoBinaryFormats) {
		// Parsing bytes in memory has no failure of the server's own: an
		// error no reader coded is the file not parsing as its format.
		err = fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	hash := <-sums
	if t != nil {
		t.Hash = hash
	}
	return t, err
}

// parseFormat is ReadBytes without the hash.
func parseFormat(ctx context.Context, data []byte, name string, format Format, opts ReadOptions) (*Table, error) {
	const hash = ""
	switch format {
	case FormatCSV:
		return parseCSV(ctx, data, name, ',', hash)
	case FormatTSV:
		return parseCSV(ctx, data, name, '\t', hash)
	case FormatParquet:
		return parseParquet(ctx, bytes.NewReader(data), int64(len(data)), name, hash)
	case FormatFITS, FormatVOTable:
		plain, err := gunzipIfCompressed(data, name)
		if err != nil {
			return nil, err
		}
		if format == FormatFITS {
			return parseFITS(ctx, plain, name, hash, opts.HDU)
		}
		return parseVOTable(ctx, plain, name, hash, opts.HDU)
	}
	return nil, fmt.Errorf("%w: %s: format %q", ErrUnsupported, name, format)
}

// gunzipIfCompressed returns data decompressed when it starts with the gzip
// magic bytes, and data itself otherwise.
func gunzipIfCompressed(data []byte, name string) ([]byte, error) {
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		return data, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read %s: gzip: %w", name, err)
	}
	defer zr.Close()
	plain, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("read %s: gzip: %w", name, err)
	}
	return plain, nil
}
