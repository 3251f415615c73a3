package parquetfits

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/orrery-ml/orrery/shared/dataset"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/parquet-go/parquet-go"
)

// rowGroups is the RowGroupReader of a dataset.ParquetStream: the open
// file, the selected leaves and the scratch columns.
type rowGroups struct {
	*dataset.ParquetStream
	file       *os.File
	f          *parquet.File
	groupStart []int
	feature    []int
	target     int
	leaves     []parquetLeaf
	maxDef     []int
	classOf    map[string]int
	cols       []dataset.Column // scratch, one per feature and the target last
}

// openParquetStream is BinaryFormats.OpenParquetStream.
func openParquetStream(ctx context.Context, file *os.File, path string, opts dataset.SelectOptions) (*dataset.ParquetStream, error) {
	info, err := file.Stat()
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: stream %s", dataset.ErrNotRegular, path)
	}
	if len(opts.Classes) > 0 {
		return nil, fmt.Errorf("%w: stream %s: a fixed class encoding is not supported when streaming", dataset.ErrUnsupported, path)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(file, 0, info.Size())); err != nil {
		return nil, fmt.Errorf("stream %s: %w", path, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("stream %s: %w", path, err)
	}
	size := info.Size()
	if size < 12 {
		return nil, fmt.Errorf("%w: %s is %d bytes, too short to be Parquet", dataset.ErrUnsupported, path, size)
	}
	f, err := parquet.OpenFile(file, size)
	if err != nil {
		return nil, fmt.Errorf("%w: stream parquet %s: %w", dataset.ErrMalformed, path, err)
	}
	ps := &dataset.ParquetStream{Source: path, Hash: hex.EncodeToString(h.Sum(nil)), Rows: int(f.NumRows())}
	s := &rowGroups{ParquetStream: ps, file: file, f: f, target: -1}
	ps.RowGroupReader = s
	if s.Rows == 0 {
		return nil, fmt.Errorf("%w: %s has a schema but no data rows", dataset.ErrNoRows, path)
	}
	names, leaves, maxDef, err := parquetSchema(f.Schema(), "stream parquet", path)
	if err != nil {
		return nil, err
	}
	s.leaves, s.maxDef = leaves, maxDef
	kinds := make([]dataset.Kind, len(leaves))
	for i, l := range leaves {
		if l.numeric() {
			kinds[i] = dataset.Numeric
		} else {
			kinds[i] = dataset.Text
		}
	}
	if opts.Target == "" {
		return nil, fmt.Errorf("%w: no target column given for %s (columns: %s)", dataset.ErrMissingColumn, path, strings.Join(names, ", "))
	}
	if s.target = slices.Index(names, opts.Target); s.target < 0 {
		return nil, fmt.Errorf("%w: target %q is not a column of %s (columns: %s)", dataset.ErrMissingColumn, opts.Target, path, strings.Join(names, ", "))
	}
	s.Target = opts.Target
	if err := s.selectFeatures(opts, names, kinds); err != nil {
		return nil, err
	}
	start := 0
	for _, rg := range f.RowGroups() {
		s.groupStart = append(s.groupStart, start)
		start += int(rg.NumRows())
	}
	if start != s.Rows {
		return nil, fmt.Errorf("%w: stream parquet %s: metadata says %d rows, row groups hold %d", dataset.ErrMalformed, path, s.Rows, start)
	}
	s.cols = make([]dataset.Column, len(s.feature)+1)
	for j, c := range s.feature {
		s.cols[j] = dataset.Column{Name: names[c], Kind: dataset.Numeric}
	}
	s.cols[len(s.feature)] = dataset.Column{Name: names[s.target], Kind: kinds[s.target]}
	if err := s.encodeTarget(ctx, opts); err != nil {
		return nil, err
	}
	return ps, nil
}

// selectFeatures resolves the feature columns as Table.featureColumns does.
func (s *rowGroups) selectFeatures(opts dataset.SelectOptions, names []string, kinds []dataset.Kind) error {
	for i, name := range names {
		if kinds[i] == dataset.Text && i != s.target && !slices.Contains(opts.Exclude, name) {
			s.Skipped = append(s.Skipped, name)
		}
	}
	if len(opts.Features) == 0 {
		for i, name := range names {
			if kinds[i] == dataset.Numeric && i != s.target && !slices.Contains(opts.Exclude, name) {
				s.feature = append(s.feature, i)
				s.FeatureNames = append(s.FeatureNames, name)
			}
		}
		if len(s.feature) == 0 {
			return fmt.Errorf("%w: %s has no numeric column besides the target %q (columns: %s)",
				dataset.ErrNonNumeric, s.Source, s.Target, strings.Join(names, ", "))
		}
		return nil
	}
	for _, name := range opts.Features {
		i := slices.Index(names, name)
		switch {
		case i < 0:
			return fmt.Errorf("%w: feature %q is not a column of %s (columns: %s)", dataset.ErrMissingColumn, name, s.Source, strings.Join(names, ", "))
		case i == s.target:
			return fmt.Errorf("dataset: feature %q of %s is the target column", name, s.Source)
		case slices.Contains(opts.Exclude, name):
			return fmt.Errorf("dataset: feature %q of %s is an identifier, group or split column, which is never a feature", name, s.Source)
		case slices.Contains(s.FeatureNames, name):
			return fmt.Errorf("dataset: feature %q of %s is listed twice", name, s.Source)
		case kinds[i] == dataset.Text:
			return fmt.Errorf("%w: feature %q of %s is a text column; only numeric columns can be features", dataset.ErrNonNumeric, name, s.Source)
		}
		s.feature = append(s.feature, i)
		s.FeatureNames = append(s.FeatureNames, name)
	}
	return nil
}

// label is the target label of cell i of the target's scratch column, as
// Table.targetLabels writes it.
func (s *rowGroups) label(c *dataset.Column, i, row int) (string, error) {
	if c.Kind == dataset.Text {
		if len(c.Missing) > 0 && slices.Contains(c.Missing, i+1) {
			return "", fmt.Errorf("%w: target %q of %s is empty in row %d; drop or label those rows", dataset.ErrMissingTarget, s.Target, s.Source, row+1)
		}
		return c.Str[i], nil
	}
	v := c.Num[i]
	if v != v {
		return "", fmt.Errorf("%w: target %q of %s is empty or NaN in row %d", dataset.ErrMissingTarget, s.Target, s.Source, row+1)
	}
	return strconv.FormatFloat(v, 'g', -1, 64), nil
}

// encodeTarget reads the target column of every row group once and fixes
// the classes by Select's rule (labelClasses).
func (s *rowGroups) encodeTarget(ctx context.Context, opts dataset.SelectOptions) error {
	var labels []string
	var counts []int
	index := map[string]int{}
	bits := map[uint64]int{}
	tc := &s.cols[len(s.feature)]
	for g, rg := range s.f.RowGroups() {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("stream %s: %w", s.Source, err)
		}
		n := int(rg.NumRows())
		if err := s.readColumn(rg, s.target, tc, n); err != nil {
			return err
		}
		for i := range n {
			if tc.Kind == dataset.Numeric {
				// Formatting once per distinct value, as targetLabels does.
				if k, ok := bits[math.Float64bits(tc.Num[i])]; ok && tc.Num[i] == tc.Num[i] {
					counts[k]++
					continue
				}
			}
			l, err := s.label(tc, i, s.groupStart[g]+i)
			if err != nil {
				return err
			}
			k, ok := index[l]
			if !ok {
				k = len(labels)
				index[l] = k
				labels, counts = append(labels, l), append(counts, 0)
			}
			if tc.Kind == dataset.Numeric {
				bits[math.Float64bits(tc.Num[i])] = k
			}
			counts[k]++
		}
	}
	classes, classOf, positive, err := dataset.ClassesOf(labels, counts, opts, s.Target)
	if err != nil {
		return err
	}
	s.Classes, s.Positive = classes, positive
	s.ClassCounts = make([]int, len(classes))
	s.classOf = make(map[string]int, len(labels))
	for k, l := range labels {
		s.classOf[l] = classOf[k]
		s.ClassCounts[classOf[k]] += counts[k]
	}
	return nil
}

// RowGroups returns the number of row groups, the units ReadRowGroup reads.
func (s *rowGroups) RowGroups() int { return len(s.groupStart) }

// GroupRows returns the first row (0-based) and the row count of row group g.
func (s *rowGroups) GroupRows(g int) (first, rows int) {
	first = s.groupStart[g]
	if g+1 < len(s.groupStart) {
		return first, s.groupStart[g+1] - first
	}
	return first, s.Rows - first
}

// ReadRowGroup reads row group g into c, reusing c's buffers.
func (s *rowGroups) ReadRowGroup(ctx context.Context, g int, c *dataset.Chunk) error {
	if g < 0 || g >= len(s.groupStart) {
		return fmt.Errorf("stream %s: row group %d of %d", s.Source, g, len(s.groupStart))
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stream %s: %w", s.Source, err)
	}
	rg := s.f.RowGroups()[g]
	first, n := s.GroupRows(g)
	nf := len(s.feature)
	c.FirstRow, c.Rows = first, n
	c.X = slices.Grow(c.X[:0], n*nf)[:n*nf]
	c.Y = slices.Grow(c.Y[:0], n)[:n]
	// The columns are independent: one goroutine per core takes every
	// workers-th (the target is the last).
	workers := max(1, min(runtime.GOMAXPROCS(0), nf+1))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for j := w; j <= nf; j += workers {
				leaf := s.target
				if j < nf {
					leaf = s.feature[j]
				}
				col := &s.cols[j]
				if err := s.readColumn(rg, leaf, col, n); err != nil {
					errs[w] = err
					return
				}
				if j == nf {
					continue
				}
				for i, v := range col.Num[:n] {
					c.X[i*nf+j] = v
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	tc := &s.cols[nf]
	for i := range n {
		l, err := s.label(tc, i, first+i)
		if err != nil {
			return err
		}
		k, ok := s.classOf[l]
		if !ok {
			return fmt.Errorf("%w: stream %s row %d: label %q was not in the first pass (the file changed?)", dataset.ErrUnknownClass, s.Source, first+i+1, l)
		}
		c.Y[i] = k
	}
	return nil
}

// readColumn reads column leaf of rg (n rows) into col, sized to n: the
// page-wise fast path for plain numeric pages, the value reader otherwise.
func (s *rowGroups) readColumn(rg parquet.RowGroup, leaf int, col *dataset.Column, n int) error {
	col.Missing, col.Invalid = col.Missing[:0], nil
	if col.Kind == dataset.Numeric {
		col.Num = slices.Grow(col.Num[:0], n)[:n]
	} else {
		col.Str = slices.Grow(col.Str[:0], n)[:n]
	}
	chunk := rg.ColumnChunks()[leaf]
	l := s.leaves[leaf]
	if col.Kind == dataset.Numeric && !l.decimal {
		switch l.kind {
		case parquet.Double, parquet.Float, parquet.Int32, parquet.Int64:
			err := readChunkDirect(chunk, l, s.maxDef[leaf], col, 0, n)
			if err == nil {
				return nil
			}
			if !errors.Is(err, errSlowPath) {
				return fmt.Errorf("%w: stream parquet %s column %q: %w", dataset.ErrMalformed, s.Source, col.Name, err)
			}
			col.Missing = col.Missing[:0]
		}
	}
	if err := readChunkValues(chunk, l, col, n); err != nil {
		return fmt.Errorf("%w: stream parquet %s column %q: %w", dataset.ErrMalformed, s.Source, col.Name, err)
	}
	return nil
}

// readChunkValues reads a column chunk value by value (any encoding,
// dictionaries included) into cells 0..n-1 of col.
func readChunkValues(chunk parquet.ColumnChunk, l parquetLeaf, col *dataset.Column, n int) (err error) {
	pages := chunk.Pages()
	defer func() {
		if cerr := pages.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	buf := make([]parquet.Value, parquetBatch)
	i := 0
	for {
		p, perr := pages.ReadPage()
		if errors.Is(perr, io.EOF) {
			break
		}
		if perr != nil {
			return perr
		}
		values := p.Values()
		for {
			k, verr := values.ReadValues(buf)
			for _, v := range buf[:k] {
				if i >= n {
					parquet.Release(p)
					return fmt.Errorf("more values than the row group's %d rows", n)
				}
				storeParquetCell(col, l, v, i)
				i++
			}
			if errors.Is(verr, io.EOF) {
				break
			}
			if verr != nil {
				parquet.Release(p)
				return verr
			}
		}
		parquet.Release(p)
	}
	if i != n {
		return fmt.Errorf("%d values in a row group of %d rows", i, n)
	}
	return nil
}

// Close releases the file.
func (s *rowGroups) Close() error {
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	s.file = nil
	return err
}
