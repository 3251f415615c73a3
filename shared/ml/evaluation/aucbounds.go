package evaluation

import "math"

// AUCBinCount is how many equal-width bins AUCBins has.
const AUCBinCount = 1 << 16

// AUCBins maps scores to the bins of AUCROCBoundsOfBins: AUCBinCount
// equal-width bins of [lo, hi], the scores' least and greatest values.
// The bin is a non-decreasing function of the score; when the width is
// zero or not finite every finite score is in bin 0 (and +Inf in the
// last), which decides no pair.
type AUCBins struct{ lo, scale float64 }

// NewAUCBins returns the bins of [lo, hi].
func NewAUCBins(lo, hi float64) AUCBins {
	b := AUCBins{lo: lo}
	if width := hi - lo; !math.IsInf(width, 0) && width > 0 {
		b.scale = AUCBinCount / width
	}
	return b
}

// Of returns the bin of score s (not NaN).
func (b AUCBins) Of(s float64) int {
	switch {
	case b.scale > 0:
		return min(int((s-b.lo)*b.scale), AUCBinCount-1)
	case math.IsInf(s, 1):
		return AUCBinCount - 1
	}
	return 0
}

// AUCROCBoundsOfBins returns an interval [lo, hi] that holds the ROC AUC
// (BinaryAUCROCOf) of scores counted into AUCBins, from the counts of
// positives (pos) and of all scores (all) in each bin, in bin order,
// without sorting. The bin of a score is a non-decreasing function of it,
// so a positive in a higher bin than a negative outranks it, one in a
// lower bin is outranked, and only the pairs that share a bin are
// undecided. Counting those as ½, as a tie, would give the binned AUC;
// each really counts between 0 and 1, so
//
//	lo = (Σ_b pos_b·neg_{<b}) / (P·N),  hi = lo + (Σ_b pos_b·neg_b) / (P·N).
//
// The width hi - lo is the share of positive-negative pairs that share a
// bin: small when the scores spread over the range, up to 1 when one bin
// holds them all (a heavy tail, an infinite score). It is a screen for a
// caller that only asks whether the AUC can reach a bound (the leakage
// check), which ranks exactly only when the interval straddles the bound.
// The interval is widened by 1e-12 for the rounding of the sums. NaN, NaN
// when the counts hold no positive-negative pair.
func AUCROCBoundsOfBins[C uint32 | uint64](pos, all []C) (lo, hi float64) {
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
