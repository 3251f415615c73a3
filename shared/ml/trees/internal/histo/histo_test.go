package histo

import (
	"math/rand/v2"
	"testing"
)

// goRows is Rows' Go loop, whatever the machine.
func goRows(hs []Hist, bins []uint8, width int, rows []int32, gh []float64) {
	for _, r := range rows {
		g, h := gh[2*r], gh[2*r+1]
		for f, b := range bins[int(r)*width : int(r)*width+len(hs)] {
			add(&hs[f], b, g, h)
		}
	}
}

// TestKernelsEqualTheGoLoops checks every kernel against the Go loop bit
// for bit, on row counts around the prefetch distance and the slices'
// ends.
func TestKernelsEqualTheGoLoops(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const n, width = 3000, 5
	cols := make([][]uint8, width)
	rm := make([]uint8, n*width)
	for f := range cols {
		cols[f] = make([]uint8, n)
		for r := range n {
			b := uint8(rng.IntN(256))
			if f == 0 {
				b = uint8(rng.IntN(3)) // runs of one bin: adds that depend on the last
			}
			cols[f][r], rm[r*width+f] = b, b
		}
	}
	gh := make([]float64, 2*n)
	for i := range gh {
		gh[i] = rng.NormFloat64()
	}
	for _, k := range []int{0, 1, 7, 8, 9, 16, 17, 100, n} {
		var rows []int32
		if k == n {
			for r := range n {
				rows = append(rows, int32(r))
			}
		} else {
			for _, r := range rng.Perm(n)[:k] {
				rows = append(rows, int32(r))
			}
			rows = append(rows[:0:0], rows...)
			slicesSort(rows)
			if k > 0 {
				rows[len(rows)-1] = n - 1 // the last row of the matrix
			}
		}
		ord := make([]float64, 2*len(rows))
		for i, r := range rows {
			ord[2*i], ord[2*i+1] = gh[2*r], gh[2*r+1]
		}
		want := make([]Hist, width)
		goRows(want, rm, width, rows, gh)
		got := make([]Hist, width)
		Rows(got[:width-1], rm, width, rows, gh)
		Rows(got[width-1:], rm[width-1:], width, rows, gh) // a column offset
		check(t, "Rows", k, got, want)

		got = make([]Hist, width)
		Indexed2(&got[0], &got[1], cols[0], cols[1], rows, ord)
		Indexed(&got[2], cols[2], rows, ord)
		Indexed2(&got[3], &got[4], cols[3], cols[4], rows, ord)
		check(t, "Indexed", k, got, want)
		if k == n {
			got = make([]Hist, width)
			Ordered2(&got[0], &got[1], cols[0], cols[1], ord)
			Ordered(&got[2], cols[2], ord)
			Ordered2(&got[3], &got[4], cols[3], cols[4], ord)
			check(t, "Ordered", k, got, want)
		}
	}
}

func check(t *testing.T, name string, k int, got, want []Hist) {
	t.Helper()
	for f := range want {
		for i := range want[f] {
			if got[f][i] != want[f][i] {
				t.Fatalf("%s, %d rows: feature %d, value %d is %v, want %v", name, k, f, i, got[f][i], want[f][i])
			}
		}
	}
}

func slicesSort(s []int32) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestRowsOutsideTheMatrixPanic(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	Rows(make([]Hist, 1), make([]uint8, 10), 2, []int32{1, 5}, make([]float64, 20))
}
