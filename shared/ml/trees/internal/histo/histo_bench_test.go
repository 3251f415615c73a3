package histo

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkRows builds 20 features' histograms of a node holding a third
// of a million rows, from the row-major matrix.
func BenchmarkRows(b *testing.B) {
	const n, width = 1 << 20, 20
	rng := rand.New(rand.NewPCG(1, 2))
	bins := make([]uint8, n*width)
	for i := range bins {
		bins[i] = uint8(rng.IntN(256))
	}
	gh := make([]float64, 2*n)
	for i := range gh {
		gh[i] = rng.Float64()
	}
	var rows []int32
	for r := range n {
		if rng.IntN(3) == 0 {
			rows = append(rows, int32(r))
		}
	}
	hs := make([]Hist, width)
	for b.Loop() {
		Rows(hs[:10], bins, width, rows, gh)
		Rows(hs[10:], bins[10:], width, rows, gh)
	}
}
