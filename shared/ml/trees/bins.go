package trees

import (
	"math"
	"sort"
)

// maxBins is the most value bins per feature, scikit-learn's
// HistGradientBoosting max_bins: bins 1..255 hold values and bin 0 missing
// ones (NaN), so a bin index fits a uint8.
const maxBins = 255

// binEdges fits at most maxBins quantile bins on one feature's values:
// edges[i] is the upper bound (inclusive) of value bin i+1.
func binEdges(col []float64) []float64 {
	vals := make([]float64, 0, len(col))
	for _, v := range col {
		if !math.IsNaN(v) {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return nil
	}
	sort.Float64s(vals)
	distinct := vals[:0:0]
	for i, v := range vals {
		if i == 0 || v != vals[i-1] {
			distinct = append(distinct, v)
		}
	}
	nb := maxBins
	if len(distinct) <= nb {
		edges := make([]float64, 0, len(distinct))
		for i := 0; i+1 < len(distinct); i++ {
			edges = append(edges, (distinct[i]+distinct[i+1])/2)
		}
		return append(edges, math.Inf(1))
	}
	// Quantile edges by the averaged inverse of the empirical CDF (numpy's
	// percentile, method "averaged_inverted_cdf", as scikit-learn's
	// _BinMapper fits them since 1.6): edge i is the smallest value whose
	// share of the sorted values reaches i/nb, or the mean of the two
	// values around it when the share falls exactly between them. n·i/nb is
	// worked out in integers, so an exact quantile is found exactly.
	n := len(vals)
	edges := make([]float64, 0, nb)
	for i := 1; i < nb; i++ {
		j, rem := n*i/nb, n*i%nb
		q := vals[min(j, n-1)]
		if rem == 0 && j > 0 && j < n {
			q = vals[j-1] + (vals[j]-vals[j-1])/2
		}
		if len(edges) == 0 || q > edges[len(edges)-1] {
			edges = append(edges, q)
		}
	}
	return append(edges, math.Inf(1))
}

// binSampleRows is the most rows bin edges are fitted on: larger training
// sets are binned by the quantiles of a uniform sample of this many rows,
// as LightGBM (bin_construct_sample_cnt, 200000) and scikit-learn's
// HistGradientBoosting (_BinMapper subsample, 2e5) do. Every row is still
// binned and trained on.
const binSampleRows = 200_000

// binOf maps a value to its bin: 0 for NaN, else 1 + the first edge ≥ v
// (edges ascending, the last +Inf).
func binOf(edges []float64, v float64) uint8 {
	if math.IsNaN(v) || len(edges) == 0 {
		return 0
	}
	lo, hi := 0, len(edges)-1 // edges[hi] = +Inf ≥ v
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if edges[mid] < v {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return uint8(1 + lo)
}

// binSearch is a feature's edges padded with +Inf to 256: binOf by a
// branch-free binary search of fixed length, whose steps are selected
// rather than branched on.
type binSearch [256]float64

func newBinSearch(edges []float64) *binSearch {
	s := new(binSearch)
	for i := range s {
		s[i] = math.Inf(1)
	}
	copy(s[:], edges)
	return s
}

// bin is binOf(edges, v) for edges with at least one value (s from
// newBinSearch).
func (s *binSearch) bin(v float64) uint8 {
	i := 0
	for step := 128; step > 0; step >>= 1 {
		if s[i+step-1] < v {
			i += step
		}
	}
	b := uint8(1 + i)
	if v != v { // NaN
		b = 0
	}
	return b
}

// binColumn sets out[r] = binOf(edges, x[r*stride]) for every r.
func binColumn(edges []float64, x []float64, stride int, out []uint8) {
	if len(edges) == 0 {
		clear(out)
		return
	}
	s := newBinSearch(edges)
	for r := range out {
		out[r] = s.bin(x[r*stride])
	}
}
