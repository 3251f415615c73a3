package parquetfits

import (
	"context"
	"errors"
	"fmt"
	"github.com/orrery-ml/orrery/shared/dataset"
	"io"
	"math"
	"runtime"
	"sync"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
)

// readColumnsDirect is the fast path of parseParquet for files whose
// columns are all plain (not dictionary-encoded) DOUBLE, FLOAT, INT32 or
// INT64 without a decimal type: each column chunk is read page by page and
// its values converted straight from the page buffer into the table's final
// column, nulls placed by the definition levels. It returns errSlowPath,
// before writing anything visible, when a column or page is of another kind
// (the row-wise reader then reads the file).
func readColumnsDirect(ctx context.Context, f *parquet.File, leaves []parquetLeaf, maxDef []int, t *dataset.Table) error {
	for _, l := range leaves {
		if l.decimal {
			return errSlowPath
		}
		switch l.kind {
		case parquet.Double, parquet.Float, parquet.Int32, parquet.Int64:
		default:
			return errSlowPath
		}
	}
	base := 0
	for _, rg := range f.RowGroups() {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := int(rg.NumRows())
		if base+n > t.Rows {
			return fmt.Errorf("more rows than the %d the metadata declares", t.Rows)
		}
		// The columns of a row group are independent: one goroutine per
		// core takes every workers-th of them.
		chunks := rg.ColumnChunks()
		workers := min(runtime.GOMAXPROCS(0), len(chunks))
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for j := w; j < len(chunks); j += workers {
					if err := readChunkDirect(chunks[j], leaves[j], maxDef[j], &t.Columns[j], base, n); err != nil {
						errs[w] = err
						return
					}
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if errors.Is(err, errSlowPath) {
				return errSlowPath
			}
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
		base += n
	}
	if base != t.Rows {
		return fmt.Errorf("metadata says %d rows, row groups hold %d", t.Rows, base)
	}
	return nil
}

// readChunkDirect reads the n rows of one column chunk into col from row
// base on.
func readChunkDirect(chunk parquet.ColumnChunk, l parquetLeaf, maxDef int, col *dataset.Column, base, n int) (err error) {
	pages := chunk.Pages()
	defer func() {
		if cerr := pages.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	off := base
	for {
		p, perr := pages.ReadPage()
		if errors.Is(perr, io.EOF) {
			break
		}
		if perr != nil {
			return perr
		}
		err := storePage(p, l, maxDef, col, off, base+n)
		rows := int(p.NumRows())
		parquet.Release(p)
		if err != nil {
			return err
		}
		off += rows
	}
	if off != base+n {
		return fmt.Errorf("column %q holds %d rows in a row group of %d", col.Name, off-base, n)
	}
	return nil
}

// storePage converts one page's values into col.Num[off:].
func storePage(p parquet.Page, l parquetLeaf, maxDef int, col *dataset.Column, off, limit int) error {
	if p.Dictionary() != nil {
		return errSlowPath
	}
	rows := int(p.NumRows())
	if off+rows > limit {
		return fmt.Errorf("column %q has more rows than its row group", col.Name)
	}
	data := p.Data()
	var count int
	var at func(i int) float64
	switch {
	case l.kind == parquet.Double && data.Kind() == encoding.Double:
		v := data.Double()
		count, at = len(v), func(i int) float64 { return v[i] }
	case l.kind == parquet.Float && data.Kind() == encoding.Float:
		v := data.Float()
		count, at = len(v), func(i int) float64 { return float64(v[i]) }
	case l.kind == parquet.Int32 && data.Kind() == encoding.Int32:
		v := data.Int32()
		if l.unsigned {
			count, at = len(v), func(i int) float64 { return float64(uint32(v[i])) }
		} else {
			count, at = len(v), func(i int) float64 { return float64(v[i]) }
		}
	case l.kind == parquet.Int64 && data.Kind() == encoding.Int64:
		v := data.Int64()
		if l.unsigned {
			count, at = len(v), func(i int) float64 { return float64(uint64(v[i])) }
		} else {
			count, at = len(v), func(i int) float64 { return float64(v[i]) }
		}
	default:
		return errSlowPath
	}
	dst := col.Num[off : off+rows]
	if p.NumNulls() == 0 {
		if count != rows {
			return fmt.Errorf("column %q page has %d values for %d rows", col.Name, count, rows)
		}
		if l.kind == parquet.Double {
			copy(dst, data.Double())
			return nil
		}
		for i := range dst {
			dst[i] = at(i)
		}
		return nil
	}
	def := p.DefinitionLevels()
	if len(def) != rows {
		return fmt.Errorf("column %q page has %d definition levels for %d rows", col.Name, len(def), rows)
	}
	k := 0
	for i, d := range def {
		if int(d) == maxDef {
			if k >= count {
				return fmt.Errorf("column %q page has fewer values than its definition levels", col.Name)
			}
			dst[i] = at(k)
			k++
			continue
		}
		dst[i] = math.NaN()
		col.Missing = append(col.Missing, off+i+1)
	}
	return nil
}
