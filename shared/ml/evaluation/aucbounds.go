package evaluation

import "math"

// aucBoundBins is how many equal-width bins BinaryAUCROCBounds counts in.
const aucBoundBins = 1 << 16

// BinaryAUCROCBounds returns an interval [lo, hi] that holds
// BinaryAUCROCOf(n, positive, score) without sorting: one pass counts the
// positives and negatives in 2^16 equal-width bins of [minScore, maxScore]
// (the scores' least and greatest values, which the caller knows). The bin
// of a score is a non-decreasing function of it, so a positive in a higher
// bin than a negative outranks it, one in a lower bin is outranked, and
// only the pairs that share a bin are undecided. Counting those as ½, as a
// tie, would give the binned AUC; each really counts between 0 and 1, so
//
//	lo = (Σ_b pos_b·neg_{<b}) / (P·N),  hi = lo + (Σ_b pos_b·neg_b) / (P·N).
//
// The width hi - lo is the share of positive-negative pairs that share a
// bin: small when the scores spread over the range, up to 1 when one bin
// holds them all (a heavy tail, an infinite score). It is a screen for a
// caller that only asks whether the AUC can reach a bound (the leakage
// check): it ranks exactly only when the interval straddles the bound.
// The interval is widened by 1e-12 for the rounding of the sums. NaN, NaN
// for n = 0 or a single class; scores must not be NaN.
func BinaryAUCROCBounds(n int, positive func(int) bool, score func(int) float64, minScore, maxScore float64) (lo, hi float64) {
	width := maxScore - minScore
	if n <= 0 {
		return math.NaN(), math.NaN()
	}
	scale := 0.0
	if !math.IsInf(width, 0) && width > 0 {
		scale = aucBoundBins / width
	}
	pos := make([]int, aucBoundBins)
	all := make([]int, aucBoundBins)
	for i := range n {
		b := 0
		if s := score(i); scale > 0 && !math.IsInf(s, 0) {
			b = min(int((s-minScore)*scale), aucBoundBins-1)
		} else if math.IsInf(s, 1) {
			b = aucBoundBins - 1
		}
		all[b]++
		if positive(i) {
			pos[b]++
		}
	}
	var p, below float64 // positives seen; negatives in lower bins
	var ordered, shared float64
	for b := range all {
		pb, nb := float64(pos[b]), float64(all[b]-pos[b])
		ordered += pb * below
		shared += pb * nb
		below += nb
		p += pb
	}
	pairs := p * below
	if pairs == 0 {
		return math.NaN(), math.NaN()
	}
	const slack = 1e-12
	lo = ordered / pairs
	return max(lo-slack, 0), min(lo+shared/pairs+slack, 1)
}
