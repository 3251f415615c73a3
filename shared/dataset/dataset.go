package dataset

import (
	"fmt"

	"github.com/orrery-ml/orrery/shared/fault"
)

// Sentinel errors. Callers test them with errors.Is; messages returned by this
// package wrap them with the file, column and row they concern.
var (
	ErrEmptyFile   = fault.New(fault.Invalid, "dataset: empty file")
	ErrNotRegular  = fault.New(fault.Invalid, "dataset: not a regular file")
	ErrNoRows      = fault.New(fault.Invalid, "dataset: no data rows")
	ErrRaggedRow   = fault.New(fault.Invalid, "dataset: ragged row")
	ErrUnsupported = fault.New(fault.Invalid, "dataset: unsupported format")
	// ErrMalformed: the file's bytes do not parse as its format (a bare
	// quote in a CSV field, a Parquet page that does not decode).
	ErrMalformed       = fault.New(fault.Invalid, "dataset: malformed file")
	ErrMissingColumn   = fault.New(fault.Invalid, "dataset: missing column")
	ErrNonNumeric      = fault.New(fault.Invalid, "dataset: non-numeric value")
	ErrSingleClass     = fault.New(fault.Invalid, "dataset: target has a single class")
	ErrUnknownClass    = fault.New(fault.Invalid, "dataset: unknown class")
	ErrMissingTarget   = fault.New(fault.Invalid, "dataset: missing target value")
	ErrTooFewRows      = fault.New(fault.Invalid, "dataset: too few rows")
	ErrInvalidFraction = fault.New(fault.Invalid, "dataset: invalid split fraction")
	// ErrBadHeader: a header name is empty or repeated.
	ErrBadHeader = fault.New(fault.Invalid, "dataset: bad header")
)

// Kind is the inferred type of a column.
type Kind int

const (
	// Numeric columns hold numbers; missing cells are NaN.
	Numeric Kind = iota
	// Text columns hold strings (labels, identifiers, categories).
	Text
)

// String returns "numeric" or "text".
func (k Kind) String() string {
	if k == Text {
		return "text"
	}
	return "numeric"
}

// MarshalText writes the kind as "numeric" or "text", so that it reads as a
// word in JSON.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText accepts "numeric" or "text".
func (k *Kind) UnmarshalText(b []byte) error {
	switch string(b) {
	case "numeric":
		*k = Numeric
	case "text":
		*k = Text
	default:
		return fmt.Errorf("dataset: column kind %q is not numeric or text", b)
	}
	return nil
}

// Cell points at one cell of a table: Row is the 1-based data row (the header
// is not counted), Value the raw text found there.
type Cell struct {
	Row   int    `json:"row"`
	Value string `json:"value"`
}

// Column is one column of a Table.
type Column struct {
	Name string
	Kind Kind
	// Unit is the column's physical unit as the file states it (FITS
	// TUNIT, VOTable unit); empty when the format has none or none is given.
	Unit string
	// Num has one value per row for Numeric columns: NaN where the cell was
	// missing or invalid, and the parsed value otherwise (a literal "NaN" or
	// "Inf" in the data parses to NaN or ±Inf). Nil for Text columns.
	Num []float64
	// Str has one value per row for Text columns ("" where missing). Nil for
	// Numeric columns.
	Str []string
	// Missing lists the 1-based rows whose cell was empty or a missing marker
	// ("", "NA", "N/A", "null", "NULL", "None", "?"), a Parquet null, a FITS
	// null (TNULL of an integer column, NaN of a float column, an undefined
	// logical) or a VOTable null (VALUES null, an empty TD, a BINARY2 null
	// flag, NaN), or a catalog sentinel turned missing by MarkMissing, in
	// increasing order.
	Missing []int
	// Invalid lists, for Numeric columns, the cells that held text that is not
	// a number, in increasing row order.
	Invalid []Cell
}

// Table is a whole data file, column by column.
type Table struct {
	// Source is the path the table was read from.
	Source string
	// Hash is the hex SHA-256 of the file's bytes.
	Hash string
	// HDU names the table read from a file that holds several: the FITS HDU
	// ("1 CANDIDATES": number and EXTNAME) or the VOTable TABLE ("0
	// results": index and name). Empty for the other formats.
	HDU     string
	Rows    int
	Columns []Column
}

// Dataset is the numeric design matrix and encoded labels a model trains on.
type Dataset struct {
	// FeatureNames in the order of X's columns.
	FeatureNames []string
	// X is row-major: Rows × len(FeatureNames). NaN marks a missing value.
	X    []float64
	Rows int
	// Y holds the class index of each row, into Classes.
	Y []int
	// Classes maps class index to the label as written in the data. For a
	// binary task Classes is [negative, positive].
	Classes []string
	// Positive is the index of the positive class for binary tasks (always 1),
	// or -1 for multi-class tasks.
	Positive int
	// Target is the name of the target column.
	Target string
	// RowIDs holds each row's 1-based row number in the source table.
	RowIDs []int
	// Weights holds each row's sample weight (inverse-variance weights from
	// measurement errors, say); nil means every row weighs 1.
	Weights []float64
	// Skipped names the text columns of the source table that are neither the
	// target nor a feature (identifiers, free text), in table order.
	Skipped []string
}

// Split is a stratified train/validation/test partition of a Dataset.
type Split struct {
	Train, Validation, Test *Dataset
}
