package parquetfits

import (
	"context"
	"errors"
	"fmt"
	"github.com/orrery-ml/orrery/shared/dataset"
	"io"
	"math"
	"math/big"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// parquetBatch is how many rows are read from a row group at a time.
const parquetBatch = 1024

// parquetLeaf says how to turn the values of one leaf column into cells.
type parquetLeaf struct {
	kind     parquet.Kind
	unsigned bool
	decimal  bool
	scale    float64 // 10^scale of a decimal column
}

func (l parquetLeaf) numeric() bool {
	switch l.kind {
	case parquet.Boolean, parquet.Int32, parquet.Int64, parquet.Float, parquet.Double:
		return true
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return l.decimal
	}
	return false
}

func (l parquetLeaf) number(v parquet.Value) float64 {
	var x float64
	switch l.kind {
	case parquet.Boolean:
		if v.Boolean() {
			x = 1
		}
	case parquet.Int32:
		if l.unsigned {
			x = float64(v.Uint32())
		} else {
			x = float64(v.Int32())
		}
	case parquet.Int64:
		if l.unsigned {
			x = float64(v.Uint64())
		} else {
			x = float64(v.Int64())
		}
	case parquet.Float:
		x = float64(v.Float())
	case parquet.Double:
		x = v.Double()
	case parquet.ByteArray, parquet.FixedLenByteArray:
		x = bigEndianSigned(v.ByteArray())
	}
	if l.decimal {
		x /= l.scale
	}
	return x
}

// bigEndianSigned decodes a big-endian two's-complement integer, the storage
// of Parquet decimals in byte arrays.
func bigEndianSigned(b []byte) float64 {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	f, _ := new(big.Float).SetInt(n).Float64()
	return f
}

func parseParquet(ctx context.Context, r io.ReaderAt, size int64, name, hash string) (*dataset.Table, error) {
	if size == 0 {
		return nil, fmt.Errorf("%w: %s", dataset.ErrEmptyFile, name)
	}
	// A Parquet file starts and ends with the magic "PAR1", with the
	// footer's 4-byte length before the last one: anything shorter or
	// without them is not Parquet, said before the reader trips on it.
	head, tail := make([]byte, 4), make([]byte, 4)
	if size < 12 {
		return nil, fmt.Errorf("%w: %s is %d bytes, too short to be Parquet (at least 12: the PAR1 magic at both ends and the footer length)", dataset.ErrUnsupported, name, size)
	}
	if _, err := r.ReadAt(head, 0); err != nil {
		return nil, fmt.Errorf("%w: read parquet %s: %w", dataset.ErrMalformed, name, err)
	}
	if _, err := r.ReadAt(tail, size-4); err != nil {
		return nil, fmt.Errorf("%w: read parquet %s: %w", dataset.ErrMalformed, name, err)
	}
	if string(head) != "PAR1" || string(tail) != "PAR1" {
		return nil, fmt.Errorf("%w: %s is not a Parquet file: it does not start and end with the magic PAR1 (starts with %q)", dataset.ErrUnsupported, name, head)
	}
	f, err := parquet.OpenFile(r, size)
	if err != nil {
		return nil, fmt.Errorf("%w: read parquet %s: %w", dataset.ErrMalformed, name, err)
	}
	schema := f.Schema()
	paths := schema.Columns()
	if len(paths) == 0 {
		return nil, fmt.Errorf("%w: %s has no columns", dataset.ErrEmptyFile, name)
	}
	rows := int(f.NumRows())
	if rows == 0 {
		return nil, fmt.Errorf("%w: %s has a schema but no data rows", dataset.ErrNoRows, name)
	}
	t := &dataset.Table{Source: name, Hash: hash, Rows: rows, Columns: make([]dataset.Column, len(paths))}
	names, leaves, maxDef, err := parquetSchema(schema, "read parquet", name)
	if err != nil {
		return nil, err
	}
	for i, l := range leaves {
		col := dataset.Column{Name: names[i]}
		if l.numeric() {
			col.Kind = dataset.Numeric
			col.Num = make([]float64, rows)
		} else {
			col.Kind = dataset.Text
			col.Str = make([]string, rows)
		}
		t.Columns[i] = col
	}

	switch err := readColumnsDirect(ctx, f, leaves, maxDef, t); {
	case err == nil:
		return t, nil
	case !errors.Is(err, errSlowPath):
		if ctx.Err() != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		return nil, fmt.Errorf("read parquet %s: %w", name, err)
	}
	// The row-wise reader starts over on fresh columns.
	for j := range t.Columns {
		t.Columns[j].Missing = nil
	}
	row := 0
	buf := make([]parquet.Row, parquetBatch)
	for _, rg := range f.RowGroups() {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if err := readRowGroup(ctx, rg, buf, leaves, t, &row); err != nil {
			return nil, fmt.Errorf("%w: read parquet %s: %w", dataset.ErrMalformed, name, err)
		}
	}
	if row != rows {
		return nil, fmt.Errorf("read parquet %s: metadata says %d rows, row groups hold %d", name, rows, row)
	}
	return t, nil
}

// readRowGroup appends the rows of rg to t, advancing *row.
func readRowGroup(ctx context.Context, rg parquet.RowGroup, buf []parquet.Row, leaves []parquetLeaf, t *dataset.Table, row *int) (err error) {
	rr := rg.Rows()
	defer func() {
		if cerr := rr.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	for {
		n, rerr := rr.ReadRows(buf)
		for _, values := range buf[:n] {
			if *row >= t.Rows {
				return fmt.Errorf("more rows than the %d the metadata declares", t.Rows)
			}
			for _, v := range values {
				j := v.Column()
				if j < 0 || j >= len(leaves) {
					return fmt.Errorf("value for unknown column %d in row %d", j, *row+1)
				}
				storeParquetCell(&t.Columns[j], leaves[j], v, *row)
			}
			*row++
		}
		if errors.Is(rerr, io.EOF) {
			return nil
		}
		if rerr != nil {
			return rerr
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// storeParquetCell writes value v into cell i (0-based) of col.
func storeParquetCell(col *dataset.Column, l parquetLeaf, v parquet.Value, i int) {
	if v.IsNull() {
		col.Missing = append(col.Missing, i+1)
		if col.Kind == dataset.Numeric {
			col.Num[i] = math.NaN()
		}
		return
	}
	if col.Kind == dataset.Numeric {
		col.Num[i] = l.number(v)
		return
	}
	var s string
	if l.kind == parquet.Int96 {
		s = v.String()
	} else {
		s = strings.TrimSpace(string(v.ByteArray()))
	}
	if dataset.IsMissing(s) {
		col.Missing = append(col.Missing, i+1)
		return
	}
	col.Str[i] = s
}

// parquetSchema reads each leaf column of schema, by column index: its
// dotted name, how its values decode and its maximum definition level. A
// repeated column (a list or map) is refused. op and source start the
// errors ("read parquet x.parquet").
func parquetSchema(schema *parquet.Schema, op, source string) (names []string, leaves []parquetLeaf, maxDef []int, err error) {
	paths := schema.Columns()
	names, leaves, maxDef = make([]string, len(paths)), make([]parquetLeaf, len(paths)), make([]int, len(paths))
	for _, p := range paths {
		leaf, ok := schema.Lookup(p...)
		name := strings.Join(p, ".")
		if !ok {
			return nil, nil, nil, fmt.Errorf("%s %s: column %q is not in the schema", op, source, name)
		}
		if leaf.MaxRepetitionLevel > 0 {
			return nil, nil, nil, fmt.Errorf("%w: %s column %q is repeated (lists and maps are not supported)", dataset.ErrUnsupported, source, name)
		}
		typ := leaf.Node.Type()
		l := parquetLeaf{kind: typ.Kind()}
		if lt := typ.LogicalType(); lt != nil {
			switch v := lt.Value.(type) {
			case *format.IntType:
				l.unsigned = !v.IsSigned
			case *format.DecimalType:
				l.decimal, l.scale = true, math.Pow10(int(v.Scale))
			}
		}
		i := leaf.ColumnIndex
		names[i], leaves[i], maxDef[i] = name, l, leaf.MaxDefinitionLevel
	}
	return names, leaves, maxDef, nil
}
