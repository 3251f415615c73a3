package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requireSameTable checks two tables cell by cell (NaN bits included,
// which require.Equal cannot: NaN != NaN).
func requireSameTable(t *testing.T, want, got *Table) {
	t.Helper()
	require.Equal(t, want.Rows, got.Rows)
	require.Equal(t, want.Hash, got.Hash)
	require.Equal(t, want.Source, got.Source)
	require.Len(t, got.Columns, len(want.Columns))
	for j, w := range want.Columns {
		g := got.Columns[j]
		require.Equal(t, w.Name, g.Name)
		require.Equal(t, w.Kind, g.Kind)
		require.Equal(t, w.Missing, g.Missing, "missing rows of %s", w.Name)
		require.Equal(t, w.Invalid, g.Invalid, "invalid cells of %s", w.Name)
		require.Equal(t, w.Str, g.Str)
		require.Len(t, g.Num, len(w.Num))
		for i := range w.Num {
			if math.Float64bits(w.Num[i]) != math.Float64bits(g.Num[i]) {
				require.Failf(t, "cell differs", "%s row %d: want %v got %v", w.Name, i+1, w.Num[i], g.Num[i])
			}
		}
	}
}

// withBlock runs f with csvBlockBytes set to n.
func withBlock(t *testing.T, n int, f func()) {
	old := csvBlockBytes
	csvBlockBytes = n
	defer func() { csvBlockBytes = old }()
	f()
}

// TestReadCSVFileFastPath reads large numeric files through the
// descriptor (LF and CRLF, with and without a final newline, with blocks
// of the default size, of a few lines and shorter than a line, so that
// lines are carried across blocks and the buffer grows) and checks that
// the table, hash included, is the one ReadBytes makes of the same bytes.
func TestReadCSVFileFastPath(t *testing.T) {
	dir := t.TempDir()
	for _, crlf := range []bool{false, true} {
		for _, trailing := range []bool{false, true} {
			data, _ := bigCSV(5000, crlf, trailing)
			path := filepath.Join(dir, fmt.Sprintf("big-%v-%v.csv", crlf, trailing))
			require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
			want, err := ReadBytes(context.Background(), []byte(data), path, FormatCSV, ReadOptions{})
			require.NoError(t, err)
			for _, block := range []int{csvBlockBytes, 97, 16} {
				t.Run(fmt.Sprintf("crlf=%v/trailing=%v/block=%d", crlf, trailing, block), func(t *testing.T) {
					withBlock(t, block, func() {
						f, err := os.Open(path)
						require.NoError(t, err)
						defer f.Close()
						got, err := readNumericCSVFile(context.Background(), f, int64(len(data)), path, ',')
						require.NoError(t, err, "the fast path takes this file")
						requireSameTable(t, want, got)
						got, err = Read(context.Background(), path)
						require.NoError(t, err)
						requireSameTable(t, want, got)
					})
				})
			}
		}
	}
}

// TestReadCSVFileFallsBack: a file the fast paths do not take (a text
// cell, quotes, a quoted newline, a blank line, a ragged row, invalid
// UTF-8 far down, a header of one column or a repeated name) reads from
// its path and from its bytes exactly as the general reader (encoding/csv)
// reads it, errors and their lines included; and one they take with
// spaces and missing markers reads the same as well.
func TestReadCSVFileFallsBack(t *testing.T) {
	data, _ := bigCSV(5000, false, true)
	crlf, _ := bigCSV(5000, true, true)
	lines := strings.Split(data, "\n")
	swap := func(i int, with string) string {
		return strings.Replace(data, "\n"+lines[i]+"\n", "\n"+with+"\n", 1)
	}
	cases := map[string]string{
		"text.csv":    swap(3000, lines[3000][:strings.LastIndexByte(lines[3000], ',')]+",x"),
		"quoted.csv":  swap(10, "\"1\",2,3,4"),
		"newline.csv": swap(10, "\"1\n2\",2,3,4"),
		"blank.csv":   swap(20, "\n"+lines[20]),
		"ragged.csv":  swap(4000, "1,2,3"),
		"long.csv":    swap(4000, "1,2,3,4,5"),
		"latin1.csv":  swap(4500, "1,2,3,caf\xe9"),
		"one.csv":     "a\n" + strings.Repeat("1\n", 40000),
		"header.csv":  "a,a\n" + strings.Repeat("1,2\n", 20000),
		"spaces.csv":  swap(100, " , 1 ,\t2\t, NA "),
		"end.csv":     data + "\n",
		"crlf.csv":    crlf + "\r\n",
		"bom.csv":     "\xEF\xBB\xBF" + data,
		"first.csv":   strings.Replace(data, "\n", "\n\n", 1),
	}
	dir := t.TempDir()
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			require.Greater(t, len(content), csvFastMinBytes)
			path := filepath.Join(dir, name)
			require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
			sum := sha256.Sum256([]byte(content))
			general := strings.TrimPrefix(content, "\xEF\xBB\xBF") // as parseCSV trims it
			want, werr := parseCSVGeneral(context.Background(), []byte(general), path, ',', hex.EncodeToString(sum[:]))
			fromBytes, berr := ReadBytes(context.Background(), []byte(content), path, FormatCSV, ReadOptions{})
			fromFile, ferr := Read(context.Background(), path)
			if werr != nil {
				require.Error(t, berr)
				require.Error(t, ferr)
				assert.Equal(t, werr.Error(), berr.Error())
				assert.Equal(t, werr.Error(), ferr.Error())
				return
			}
			require.NoError(t, berr)
			require.NoError(t, ferr)
			requireSameTable(t, want, fromBytes)
			requireSameTable(t, want, fromFile)
		})
	}
}

// TestReadCSVFileCancelled: the descriptor read honours a cancelled
// context.
func TestReadCSVFileCancelled(t *testing.T) {
	data, _ := bigCSV(20000, false, true)
	path := filepath.Join(t.TempDir(), "big.csv")
	require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = readNumericCSVFile(ctx, f, int64(len(data)), path, ',')
	require.ErrorIs(t, err, context.Canceled)
}

// hardFloats are inputs where float parsing goes wrong: 17+ significant
// digits, halfway cases, the edges of the subnormals and of overflow,
// exponents beyond the fast path, inf and nan in their spellings, hex
// floats, signs, and what is not a number.
var hardFloats = []string{
	"9007199254740991", "9007199254740992", "9007199254740993", "9007199254740993.0000000001",
	"1234567890123456789", "12345678901234567890", "123456789012345678", "0.30000000000000004",
	"3.0000000000000004e-1", "1.00000000000000011102230246251565404236316680908203125",
	"1.00000000000000011102230246251565404236316680908203126", "4503599627370497.5",
	"1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308", "1e308", "1e309", "-1e309",
	"2.2250738585072011e-308", "2.2250738585072012e-308", "2.2250738585072014e-308",
	"4.9406564584124654e-324", "5e-324", "2.4703282292062327e-324", "2.4703282292062328e-324", "1e-400", "-1e-400",
	"1e22", "1e23", "1e-22", "1e-23", "9999999999999999e22", "8.98846567431158e307", "123.456e-20", "0.1", "0.3",
	"1e0000", "1e00001", "1e+0022", "1E-0022", "00000000000000000000000000001", "0.00000000000000000000000000001",
	"-0", "+0", "-0.0e5", "+.5", "5.", ".5e1", ".e1", "1e+", "1e-", "e5", ".", "-", "+", "--1", "+-1", "1.2.3", "1..2",
	"inf", "Inf", "+inf", "-Inf", "infinity", "Infinity", "-INFINITY", "infinit", "nan", "NaN", "-nan", "+NaN", "NAN",
	"0x1p-2", "0X1.8P1", "-0x1p1023", "0x1p-1074", "1_000", "0x_1p0", "1e5_0",
	" 1.5 ", "\t-2\t", "1.5\r", "\v3\f", "NA", "N/A", "null", "NULL", "None", "?", "", "  ", "na", "none",
	"١", "1\u00a0", "\u00a01", "12a", "1e5x", "0.5 0.5",
}

// TestCSVCellsMatchStrconv is the property the fast path must keep: a
// cell parses to exactly strconv.ParseFloat's float64 (out-of-range
// values as ±Inf or 0, as the general reader takes them), a missing
// marker to NaN and a missing row, and anything else fails over to the
// general reader — whether the cell is scanned in place (scanNumber)
// or cut and trimmed (parseFloatBytes), in a middle or a last column.
func TestCSVCellsMatchStrconv(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 3))
	inputs := append([]string(nil), hardFloats...)
	for range 8000 {
		var v float64
		switch rng.IntN(3) {
		case 0:
			v = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(60)-30))
		case 1:
			v = math.Float64frombits(rng.Uint64() & (1<<52 - 1)) // a subnormal
		default:
			v = math.Float64frombits(rng.Uint64())
		}
		switch rng.IntN(6) {
		case 0:
			inputs = append(inputs, strconv.FormatFloat(v, 'g', -1, 64))
		case 1:
			inputs = append(inputs, strconv.FormatFloat(v, 'e', 16+rng.IntN(6), 64)) // 17–22 digits
		case 2:
			inputs = append(inputs, strconv.FormatFloat(v, 'f', rng.IntN(10), 64))
		case 3:
			inputs = append(inputs, strconv.FormatFloat(v, 'g', 1+rng.IntN(25), 64))
		case 4: // random digits, a dot somewhere, an exponent
			var b strings.Builder
			n := 1 + rng.IntN(24)
			dot := rng.IntN(n + 1)
			for i := range n {
				if i == dot {
					b.WriteByte('.')
				}
				b.WriteByte(byte('0' + rng.IntN(10)))
			}
			if rng.IntN(2) == 0 {
				fmt.Fprintf(&b, "e%d", rng.IntN(700)-350)
			}
			inputs = append(inputs, b.String())
		default:
			inputs = append(inputs, strconv.Itoa(rng.IntN(1<<40)-1<<39))
		}
	}
	for _, s := range inputs {
		checkCSVCell(t, s)
	}
}

// FuzzCSVCell checks checkCSVCell's property on any cell; its seeds are
// hardFloats.
func FuzzCSVCell(f *testing.F) {
	for _, s := range hardFloats {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsAny(s, ",\n") {
			return // a separator or newline makes it two cells or lines
		}
		checkCSVCell(t, s)
	})
}

// checkCSVCell parses the line "s,s\n" (and "s,s" without the newline,
// and with "\r\n") with parseNumericLines and compares both cells with
// strconv. (Plain ifs rather than require: it runs some 60,000 times.)
func checkCSVCell(t *testing.T, s string) {
	t.Helper()
	trimmed := strings.TrimSpace(s)
	want, werr := strconv.ParseFloat(trimmed, 64)
	number := werr == nil || errors.Is(werr, strconv.ErrRange)
	missing := isMissing(trimmed)
	ascii := strings.IndexFunc(s, func(r rune) bool { return r >= 0x80 }) < 0
	for _, line := range []string{s + "," + s + "\n", s + "," + s, s + "," + s + "\r\n"} {
		cols := [][]float64{{7}, {7}}
		miss := make([][]int, 2)
		n, err := parseNumericLines([]byte(line), 0, cols, miss, ',')
		if err != nil {
			if !errors.Is(err, errSlowPath) {
				t.Fatalf("%q: %v, not errSlowPath", line, err)
			}
			if (number || missing) && ascii {
				t.Fatalf("%q: refused, but strconv reads %q (or it is a missing marker)", line, trimmed)
			}
			continue // refused: the general reader sees it (Unicode space may be refused, never misread)
		}
		if !number && !missing {
			t.Fatalf("%q: read as %v, %v, but it is no number: the general reader must see it", line, cols[0][0], cols[1][0])
		}
		if n != 1 {
			t.Fatalf("%q: %d rows", line, n)
		}
		for j := range cols {
			switch {
			case missing:
				if !math.IsNaN(cols[j][0]) || len(miss[j]) != 1 || miss[j][0] != 1 {
					t.Fatalf("%q column %d: %v, missing %v; want NaN, missing [1]", line, j, cols[j][0], miss[j])
				}
			case math.Float64bits(want) != math.Float64bits(cols[j][0]) || len(miss[j]) != 0:
				t.Fatalf("%q column %d: got %v (%#x), want strconv's %v (%#x)", line, j, cols[j][0],
					math.Float64bits(cols[j][0]), want, math.Float64bits(want))
			}
		}
	}
}
