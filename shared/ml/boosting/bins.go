package boosting

import (
	"math"
	"sort"
)

// maxBins is the number of value bins per feature; bin 0 is reserved for
// missing values (NaN), so a bin index fits a uint8.
const maxBins = 255

// binEdges fits at most maxBins-1 quantile bins on one feature's values:
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
	nb := maxBins - 1
	if len(distinct) <= nb {
		edges := make([]float64, 0, len(distinct))
		for i := 0; i+1 < len(distinct); i++ {
			edges = append(edges, (distinct[i]+distinct[i+1])/2)
		}
		return append(edges, math.Inf(1))
	}
	edges := make([]float64, 0, nb)
	for i := 1; i < nb; i++ {
		q := vals[i*len(vals)/nb]
		if len(edges) == 0 || q > edges[len(edges)-1] {
			edges = append(edges, q)
		}
	}
	return append(edges, math.Inf(1))
}

// binOf maps a value to its bin: 0 for NaN, else 1 + the first edge ≥ v.
func binOf(edges []float64, v float64) uint8 {
	if math.IsNaN(v) || len(edges) == 0 {
		return 0
	}
	return uint8(1 + sort.SearchFloat64s(edges, v))
}
