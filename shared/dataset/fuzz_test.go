package dataset_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/fault"
)

// fuzzFormats are the readers FuzzReadBytes drives, by the first byte of
// its input.
var fuzzFormats = []dataset.Format{dataset.FormatCSV, dataset.FormatTSV, dataset.FormatParquet, dataset.FormatFITS, dataset.FormatVOTable}

// FuzzReadBytes feeds arbitrary bytes to every table reader (CSV, TSV,
// Parquet, FITS, VOTable): no panic, and a refusal is a client error
// (fault.Invalid) naming the input — never an internal error — while a
// table read has as many values as rows in every column.
func FuzzReadBytes(f *testing.F) {
	add := func(format int, b []byte) { f.Add(append([]byte{byte(format)}, b...)) }
	add(0, []byte("a,b,class\n1,2,x\n3,4,y\n"))
	add(0, []byte("a;b;class\n1;2;x\n"))
	add(0, []byte("a,temp\xe9,class\n1,2,x\n"))
	add(1, []byte("a\tb\tclass\n1\t2\tx\n"))
	add(2, []byte("PAR1PAR1"))
	for i, name := range []string{"htru2-sample.fits", "htru2-sample.vot"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "events", "data", name)); err == nil && len(b) < 1<<20 {
			add(3+i, b)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		format := fuzzFormats[int(in[0])%len(fuzzFormats)]
		const name = "fuzz.input"
		tab, err := dataset.ReadBytes(context.Background(), bytes.Clone(in[1:]), name, format, dataset.ReadOptions{})
		if err != nil {
			if code := fault.CodeOf(err); code != fault.Invalid && !errors.Is(err, context.Canceled) {
				t.Fatalf("%s: refusal coded %s, not invalid: %v", format, code, err)
			}
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("%s: error does not name the input: %v", format, err)
			}
			return
		}
		for _, c := range tab.Columns {
			n := len(c.Num)
			if c.Kind == dataset.Text {
				n = len(c.Str)
			}
			if n != tab.Rows {
				t.Fatalf("%s: column %q has %d values for %d rows", format, c.Name, n, tab.Rows)
			}
		}
	})
}
