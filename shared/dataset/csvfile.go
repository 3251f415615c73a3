package dataset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// readCSVFile is Read for a CSV or TSV file. A numeric file of the kind
// parseNumericCSV takes is read through its descriptor (readNumericCSVFile)
// instead of whole, so its bytes never sit in memory beside the columns;
// any other file is read whole and parsed by ReadBytes, which reports
// what is wrong with it.
func readCSVFile(ctx context.Context, file, name string, format Format) (*Table, error) {
	sep := ','
	if format == FormatTSV {
		sep = '\t'
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if size := info.Size(); size >= csvFastMinBytes {
		t, err := readNumericCSVFile(ctx, f, size, name, byte(sep))
		if !errors.Is(err, errSlowPath) {
			return t, err
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	return ReadBytes(ctx, data, name, format, ReadOptions{})
}

// readNumericCSVFile is parseNumericCSV on a file: the header is read
// from the file's first block; the body is cut at line boundaries into
// one range per core; a first parallel pass counts each range's lines
// (so that every worker knows the first row it writes and the columns
// are allocated once, at their final size), and a second parses each
// range block by block (csvBlockBytes, reused) straight into the
// columns. The SHA-256 of the file is streamed beside them. It returns
// errSlowPath for a file the fast path does not take (and for one that
// changes between the passes).
func readNumericCSVFile(ctx context.Context, f *os.File, size int64, name string, sep byte) (*Table, error) {
	var stop atomic.Bool
	type sum struct {
		hex string
		err error
	}
	sums := make(chan sum, 1)
	go func() {
		h := sha256.New()
		buf := make([]byte, csvBlockBytes)
		for off := int64(0); off < size; {
			if stop.Load() {
				sums <- sum{}
				return
			}
			n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
			h.Write(buf[:n])
			off += int64(n)
			if err != nil && off < size {
				sums <- sum{err: err}
				return
			}
		}
		sums <- sum{hex: hex.EncodeToString(h.Sum(nil))}
	}()
	t, err := parseNumericCSVFile(ctx, f, size, name, sep)
	if err != nil {
		stop.Store(true)
		<-sums
		return nil, err
	}
	s := <-sums
	if s.err != nil {
		return nil, fmt.Errorf("read %s: %w", name, s.err)
	}
	t.Hash = s.hex
	return t, nil
}

// parseNumericCSVFile is readNumericCSVFile without the hash.
func parseNumericCSVFile(ctx context.Context, f *os.File, size int64, name string, sep byte) (*Table, error) {
	head := make([]byte, min(size, int64(csvBlockBytes)))
	if _, err := f.ReadAt(head, 0); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	// The header as parseCSV reads it; whatever it would report or treat
	// specially (an unfinished or invalid header, one column to sniff,
	// no data row in the first block) goes to the general reader.
	data := bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF"))
	r := newCSVReader(data, rune(sep))
	header, err := r.Read()
	if err != nil || len(header) < 2 {
		return nil, errSlowPath
	}
	off := int(r.InputOffset())
	if off >= len(data) || data[off] == '\n' || data[off] == '\r' || !utf8.Valid(data[:off]) {
		return nil, errSlowPath
	}
	names, err := headerNames(header, name)
	if err != nil {
		return nil, errSlowPath
	}
	body := int64(len(head)-len(data)) + int64(off)

	workers := max(1, min(int64(runtime.GOMAXPROCS(0)), (size-body)/csvFastMinBytes))
	type part struct {
		lo, hi  int64
		first   int
		rows    int
		missing [][]int
		buf     []byte
		err     error
	}
	var parts []part
	lo := body
	for w := range workers {
		hi := body + (size-body)*(w+1)/workers
		if hi < size {
			if hi, err = nextLine(f, hi, size); err != nil {
				return nil, fmt.Errorf("read %s: %w", name, err)
			}
		}
		if hi > lo {
			parts = append(parts, part{lo: lo, hi: hi})
			lo = hi
		}
	}
	each := func(fn func(p *part)) error {
		var wg sync.WaitGroup
		for i := range parts {
			wg.Go(func() { fn(&parts[i]) })
		}
		wg.Wait()
		for i := range parts {
			if err := parts[i].err; err != nil {
				if errors.Is(err, errSlowPath) {
					return errSlowPath
				}
				return fmt.Errorf("read %s: %w", name, err)
			}
		}
		return nil
	}
	// Pass 1: lines per range. Quotes and blank lines need no search
	// here: the parse below meets them as cells that are not numbers
	// (or lines with too few fields) and fails over to the general
	// reader.
	if err := each(func(p *part) {
		p.buf = make([]byte, csvBlockBytes)
		var lastByte byte
		p.err = readBlocks(ctx, f, p.lo, p.hi, p.buf, func(b []byte) error {
			p.rows += bytes.Count(b, []byte{'\n'})
			lastByte = b[len(b)-1]
			return nil
		})
		if lastByte != '\n' {
			p.rows++
		}
	}); err != nil {
		return nil, err
	}
	rows := 0
	for i := range parts {
		parts[i].first = rows
		rows += parts[i].rows
	}
	cols := make([][]float64, len(names))
	for j := range cols {
		cols[j] = make([]float64, rows)
	}
	// Pass 2: parse whole lines of each block; a line cut by the block's
	// end is carried to the next block.
	if err := each(func(p *part) {
		p.missing = make([][]int, len(cols))
		row, carry := p.first, 0
		for off := p.lo; off < p.hi || carry > 0; {
			if carry == len(p.buf) {
				p.buf = append(p.buf, make([]byte, len(p.buf))...) // a line longer than the buffer
			}
			n := 0
			if off < p.hi {
				want := int(min(int64(len(p.buf)-carry), p.hi-off))
				if n, p.err = f.ReadAt(p.buf[carry:carry+want], off); n < want {
					if p.err == nil || errors.Is(p.err, io.EOF) {
						p.err = errSlowPath // the file shrank
					}
					return
				}
				p.err = nil
				off += int64(n)
			}
			b := p.buf[:carry+n]
			end := len(b)
			if off < p.hi {
				nl := bytes.LastIndexByte(b, '\n')
				if nl < 0 {
					carry = len(b)
					continue
				}
				end = nl + 1
			}
			if p.err = ctx.Err(); p.err != nil {
				return
			}
			done := 0
			if done, p.err = parseNumericLines(b[:end], row, cols, p.missing, sep); p.err != nil {
				return
			}
			row += done
			carry = copy(p.buf, b[end:])
		}
		if row != p.first+p.rows {
			p.err = errSlowPath // the file changed between the passes
		}
	}); err != nil {
		return nil, err
	}
	return numericTable(name, names, rows, cols, func(yield func([][]int) bool) {
		for i := range parts {
			if !yield(parts[i].missing) {
				return
			}
		}
	}), nil
}

// readBlocks reads f's bytes [lo, hi) into buf, a block at a time, and
// hands each block to fn; it checks ctx before each block.
func readBlocks(ctx context.Context, f *os.File, lo, hi int64, buf []byte, fn func([]byte) error) error {
	for off := lo; off < hi; {
		if err := ctx.Err(); err != nil {
			return err
		}
		want := int(min(int64(len(buf)), hi-off))
		n, err := f.ReadAt(buf[:want], off)
		if n < want {
			if err == nil || errors.Is(err, io.EOF) {
				return errSlowPath // the file shrank
			}
			return err
		}
		off += int64(n)
		if err := fn(buf[:n]); err != nil {
			return err
		}
	}
	return nil
}

// nextLine returns the offset of the first line that starts after at (the
// byte after the next newline), or size when there is none.
func nextLine(f *os.File, at, size int64) (int64, error) {
	buf := make([]byte, 4096)
	for at < size {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-at)], at)
		if nl := bytes.IndexByte(buf[:n], '\n'); nl >= 0 {
			return at + int64(nl) + 1, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if n == 0 {
			break
		}
		at += int64(n)
	}
	return size, nil
}
