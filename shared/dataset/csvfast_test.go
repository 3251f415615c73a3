package dataset

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseFloatBytesMatchesStrconv compares the in-place parser with
// strconv.ParseFloat on numbers of every shape the fast path takes and on
// the ones it hands back.
func TestParseFloatBytesMatchesStrconv(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := []string{"0", "-0", "+0", "0.0", ".5", "5.", "-.25e-3", "1e22", "1e23", "9007199254740993", "123456789012345678901234",
		"1e-400", "1e400", "Inf", "-inf", "NaN", "0x1p-2", "1_000", "1e", "e5", ".", "-", "+", "1.2.3", "12a", "1e+05", "4.9e-324",
		"0.000000000000000000000000001", "179769313486231570000000000000000000000", "3.14159265358979323846"}
	for range 20000 {
		v := rng.NormFloat64() * math.Pow(10, float64(rng.IntN(40)-20))
		switch rng.IntN(4) {
		case 0:
			inputs = append(inputs, strconv.FormatFloat(v, 'g', -1, 64))
		case 1:
			inputs = append(inputs, strconv.FormatFloat(v, 'f', rng.IntN(8), 64))
		case 2:
			inputs = append(inputs, strconv.FormatFloat(v, 'e', rng.IntN(17), 64))
		default:
			inputs = append(inputs, strconv.Itoa(rng.IntN(1<<30)-1<<29))
		}
	}
	for _, s := range inputs {
		want, werr := strconv.ParseFloat(s, 64)
		got, ok := parseFloatBytes([]byte(s))
		wantOK := werr == nil || errors.Is(werr, strconv.ErrRange)
		require.Equal(t, wantOK, ok, "%q", s)
		if ok {
			require.Equal(t, math.Float64bits(want), math.Float64bits(got), "%q: want %v got %v", s, want, got)
		}
	}
}

// bigCSV returns a numeric CSV of rows rows (well above csvFastMinBytes)
// with the cells as written, so that a test can check each value.
func bigCSV(rows int, crlf, trailingNewline bool) (string, [][]string) {
	rng := rand.New(rand.NewPCG(3, 4))
	var b strings.Builder
	b.WriteString("a, b ,c,d\n")
	cells := make([][]string, rows)
	for i := range rows {
		row := []string{
			strconv.FormatFloat(rng.NormFloat64()*1e3, 'f', 4, 64),
			" " + strconv.FormatFloat(rng.NormFloat64(), 'g', -1, 64) + " ",
			strconv.FormatFloat(rng.NormFloat64()*1e-30, 'e', 6, 64),
			strconv.Itoa(rng.IntN(100)),
		}
		if i%97 == 0 {
			row[1] = "NA"
		}
		if i%101 == 0 {
			row[3] = ""
		}
		cells[i] = row
		b.WriteString(strings.Join(row, ","))
		if i < rows-1 || trailingNewline {
			if crlf {
				b.WriteString("\r\n")
			} else {
				b.WriteString("\n")
			}
		}
	}
	return b.String(), cells
}

// TestNumericCSVFastPath reads large numeric files (LF and CRLF, with and
// without a final newline) and checks every cell, the missing rows and the
// hash against what the general reader gives.
func TestNumericCSVFastPath(t *testing.T) {
	for _, crlf := range []bool{false, true} {
		for _, trailing := range []bool{false, true} {
			t.Run(fmt.Sprintf("crlf=%v/trailing=%v", crlf, trailing), func(t *testing.T) {
				data, cells := bigCSV(5000, crlf, trailing)
				require.Greater(t, len(data), 2*csvFastMinBytes)
				tb, err := ReadBytes(context.Background(), []byte(data), "big.csv", FormatCSV, ReadOptions{})
				require.NoError(t, err)
				require.Equal(t, len(cells), tb.Rows)
				require.Len(t, tb.Columns, 4)
				assert.Equal(t, []string{"a", "b", "c", "d"}, []string{tb.Columns[0].Name, tb.Columns[1].Name, tb.Columns[2].Name, tb.Columns[3].Name})
				for j, col := range tb.Columns {
					require.Equal(t, Numeric, col.Kind)
					var missing []int
					for i, row := range cells {
						s := strings.TrimSpace(row[j])
						if isMissing(s) {
							missing = append(missing, i+1)
							require.True(t, math.IsNaN(col.Num[i]))
							continue
						}
						want, err := strconv.ParseFloat(s, 64)
						require.NoError(t, err)
						require.Equal(t, want, col.Num[i], "row %d column %d", i+1, j)
					}
					assert.Equal(t, missing, col.Missing, "missing rows of column %d", j)
				}
				general, err := parseCSV(context.Background(), []byte(data[:len(data)]), "big.csv", ',', "h")
				require.NoError(t, err)
				assert.Equal(t, general.Rows, tb.Rows)
				assert.Len(t, tb.Hash, 64)
			})
		}
	}
}

// TestNumericCSVFallsBack checks that large files the fast path does not
// take still read as the general reader reads them: a text column, quotes,
// blank lines, and a ragged row reported with its line.
func TestNumericCSVFallsBack(t *testing.T) {
	data, _ := bigCSV(5000, false, true)
	lines := strings.Split(data, "\n")

	text := strings.Replace(data, "\n"+lines[3000]+"\n", "\n"+lines[3000][:strings.LastIndexByte(lines[3000], ',')]+",x\n", 1)
	// One text cell in column d: still numeric (more numbers than text), with the cell recorded as invalid.
	tb, err := ReadBytes(context.Background(), []byte(text), "text.csv", FormatCSV, ReadOptions{})
	require.NoError(t, err)
	require.Equal(t, Numeric, tb.Columns[3].Kind)
	require.Len(t, tb.Columns[3].Invalid, 1)
	assert.Equal(t, 3000, tb.Columns[3].Invalid[0].Row)

	quoted := strings.Replace(data, "\n"+lines[10]+"\n", "\n\"1\",2,3,4\n", 1)
	tb, err = ReadBytes(context.Background(), []byte(quoted), "quoted.csv", FormatCSV, ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1.0, tb.Columns[0].Num[9])

	blank := strings.Replace(data, "\n"+lines[20]+"\n", "\n\n"+lines[20]+"\n", 1)
	tb, err = ReadBytes(context.Background(), []byte(blank), "blank.csv", FormatCSV, ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, 5000, tb.Rows, "a blank line is skipped, as encoding/csv does")

	ragged := strings.Replace(data, "\n"+lines[4000]+"\n", "\n1,2,3\n", 1)
	_, err = ReadBytes(context.Background(), []byte(ragged), "ragged.csv", FormatCSV, ReadOptions{})
	require.ErrorIs(t, err, ErrRaggedRow)
	assert.ErrorContains(t, err, "line 4001")
}

// TestNumericCSVCancelled checks that the parallel parse honours a
// cancelled context.
func TestNumericCSVCancelled(t *testing.T) {
	data, _ := bigCSV(20000, false, true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := parseCSV(ctx, []byte(data), "big.csv", ',', "")
	require.ErrorIs(t, err, context.Canceled)
}

// BenchmarkParseNumericLines parses 4,000 lines of ten 4-decimal numbers
// (the load benchmark's shape) in memory: the per-cell cost of the fast
// path without I/O or page faults.
func BenchmarkParseNumericLines(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	var sb strings.Builder
	const rows, ncol = 4000, 10
	for range rows {
		for j := range ncol {
			if j > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(strconv.FormatFloat(math.Round(rng.NormFloat64()*1e4*float64(j+1))/1e4, 'f', -1, 64))
		}
		sb.WriteByte('\n')
	}
	data := []byte(sb.String())
	cols := make([][]float64, ncol)
	for j := range cols {
		cols[j] = make([]float64, rows)
	}
	missing := make([][]int, ncol)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := parseNumericLines(data, 0, cols, missing, ','); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows*ncol), "ns/cell")
}
