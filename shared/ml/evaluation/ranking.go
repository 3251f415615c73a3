package evaluation

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// BinaryAUCROC returns the area under the ROC curve of score for labels y
// (1 = positive, anything else negative), as scikit-learn's
// roc_auc_score(y, score): tied scores form one step of the curve
// (trapezoid), which equals the Mann–Whitney U statistic with mid-ranks.
// It returns NaN when y has a single class (scikit-learn returns nan with an
// UndefinedMetricWarning), when y is empty, when the lengths differ or when a
// score is NaN (scikit-learn raises for the last three).
func BinaryAUCROC(y []int, score []float64) float64 {
	if len(y) == 0 || len(y) != len(score) {
		return math.NaN()
	}
	for _, s := range score {
		if math.IsNaN(s) {
			return math.NaN()
		}
	}
	return BinaryAUCROCOf(len(y), func(i int) bool { return y[i] == 1 }, func(i int) float64 { return score[i] })
}

// BinaryAUCROCOf is BinaryAUCROC of n rows given by functions — whether
// row i is a positive, and its score, which must not be NaN — so that a
// caller ranking a column of a larger matrix (the validation's leakage
// check, one feature at a time) copies neither the labels nor the scores.
// NaN for n = 0 or a single class.
func BinaryAUCROCOf(n int, positive func(int) bool, score func(int) float64) float64 {
	if n <= 0 {
		return math.NaN()
	}
	if pos, neg, ok := sortedKeys32(n, positive, score); ok {
		return mergeAUC(pos, neg)
	}
	pos, neg := sortedKeys64(n, positive, score)
	return mergeAUC(pos, neg)
}

// AveragePrecision returns scikit-learn's average_precision_score(y, score)
// for labels y (1 = positive, anything else negative):
// AP = Σ_n (R_n − R_{n−1}) P_n over the distinct scores taken from the
// highest down, tied scores forming one threshold (no interpolation). It
// returns 0 when y has no positive, as scikit-learn does (its recall is set
// to 1 at every threshold, where precision is 0), and NaN when y is empty,
// the lengths differ or a score is NaN.
func AveragePrecision(y []int, score []float64) float64 {
	c, ok := binaryCurveOf(y, score)
	if !ok {
		return math.NaN()
	}
	return c.averagePrecision()
}

// curve holds the cumulative confusion counts of a scoring rule at each
// distinct score, from the highest score down: predicting positive for
// score >= thr[i] gives tp[i] true and fp[i] false positives. It is
// scikit-learn's _binary_clf_curve.
type curve struct {
	thr      []float64
	tp, fp   []int
	pos, neg int
}

// binaryCurveOf builds the curve for labels y (1 = positive) and reports
// false when the input cannot be ranked.
func binaryCurveOf(y []int, score []float64) (curve, bool) {
	if len(y) == 0 || len(y) != len(score) {
		return curve{}, false
	}
	for _, s := range score {
		if math.IsNaN(s) {
			return curve{}, false
		}
	}
	return newCurve(len(y), func(i int) bool { return y[i] == 1 }, func(i int) float64 { return score[i] }), true
}

// newCurve ranks n rows by score (decreasing) and accumulates counts per
// distinct score. Scores must not be NaN.
//
// The scores of the positive and of the negative rows are radix-sorted
// separately (see sortedKeys), and the two sorted runs are merged from the
// highest score down, each distinct score closing one step of the curve: no
// label travels with the keys, so a float64 score sorts as one uint64 and a
// score exactly representable as float32 (the output of a float32 model) as
// one uint32 with half the passes. O(n) time, 2n keys of memory.
func newCurve(n int, positive func(int) bool, score func(int) float64) curve {
	if pos, neg, ok := sortedKeys32(n, positive, score); ok {
		return mergeCurve(pos, neg, func(k uint32) float64 { return float64(fromDescendingKey32(k)) })
	}
	pos, neg := sortedKeys64(n, positive, score)
	return mergeCurve(pos, neg, fromDescendingKey64)
}

// sortedKeys32 returns the descending keys of the positives' and the
// negatives' scores, each sorted, when every score is exactly a float32;
// false, having sorted nothing, otherwise.
func sortedKeys32(n int, positive func(int) bool, score func(int) float64) (pos, neg []uint32, ok bool) {
	for i := range n {
		if s := score(i); float64(float32(s)) != s {
			return nil, nil, false
		}
	}
	pos, neg = sortedKeys(n, positive, func(i int) uint32 { return descendingKey32(float32(score(i))) }, 4)
	return pos, neg, true
}

// sortedKeys64 is sortedKeys32 for any non-NaN scores.
func sortedKeys64(n int, positive func(int) bool, score func(int) float64) (pos, neg []uint64) {
	return sortedKeys(n, positive, func(i int) uint64 { return descendingKey64(score(i)) }, 8)
}

// sortedKeys splits the rows' keys into the positives' and the negatives'
// and radix-sorts each, digits bytes a key.
func sortedKeys[K uint32 | uint64](n int, positive func(int) bool, key func(int) K, digits int) (pos, neg []K) {
	np := 0
	for i := range n {
		if positive(i) {
			np++
		}
	}
	pos, neg = make([]K, 0, np), make([]K, 0, n-np)
	for i := range n {
		if positive(i) {
			pos = append(pos, key(i))
		} else {
			neg = append(neg, key(i))
		}
	}
	scratch := make([]K, max(len(pos), len(neg)))
	radixSort(pos, scratch, digits)
	radixSort(neg, scratch, digits)
	return pos, neg
}

// mergeAUC is mergeCurve followed by aucROC without the curve: the same
// steps, the same sums in the same order (so the same bits), and no
// threshold or count arrays (three of up to n entries each, most of the
// memory and much of the time of a ROC AUC of many distinct scores, as
// the leakage check computes one a feature).
func mergeAUC[K uint32 | uint64](pos, neg []K) float64 {
	if len(pos) == 0 || len(neg) == 0 {
		return math.NaN()
	}
	var area float64
	prevTP, prevFP := 0, 0
	mergeSteps(pos, neg, func(_ K, tp, fp int) {
		area += float64(fp-prevFP) * float64(prevTP+tp) / 2
		prevTP, prevFP = tp, fp
	})
	return area / (float64(len(pos)) * float64(len(neg)))
}

// mergeCurve records the curve's steps (see mergeSteps).
func mergeCurve[K uint32 | uint64](pos, neg []K, score func(K) float64) curve {
	var c curve
	mergeSteps(pos, neg, func(k K, tp, fp int) {
		c.thr = append(c.thr, score(k))
		c.tp = append(c.tp, tp)
		c.fp = append(c.fp, fp)
	})
	c.pos, c.neg = len(pos), len(neg)
	return c
}

// mergeSteps walks the ascending key runs of the positives and negatives
// together (ascending keys are descending scores) and calls step at each
// distinct key with the numbers of positives and negatives whose keys are
// at most it: one step of the curve.
func mergeSteps[K uint32 | uint64](pos, neg []K, step func(k K, tp, fp int)) {
	i, j := 0, 0
	for i < len(pos) || j < len(neg) {
		var k K
		switch {
		case i == len(pos):
			k = neg[j]
		case j == len(neg):
			k = pos[i]
		default:
			k = min(pos[i], neg[j])
		}
		for i < len(pos) && pos[i] == k {
			i++
		}
		for j < len(neg) && neg[j] == k {
			j++
		}
		step(k, i, j)
	}
}

// descendingKey64 maps a non-NaN float64 to a uint64 whose ascending order
// is the descending order of the floats, with −0 and +0 one key (they are
// one threshold, as numpy's diff sees them). The order-preserving transform
// flips every bit of a negative float and only the sign bit of a positive
// one (Herf, "Radix Tricks", 2001); complementing it reverses the order.
func descendingKey64(f float64) uint64 {
	if f == 0 {
		f = 0
	}
	b := math.Float64bits(f)
	if b>>63 != 0 {
		return b // ^(^b)
	}
	return ^(b | 1<<63)
}

// fromDescendingKey64 inverts descendingKey64.
func fromDescendingKey64(k uint64) float64 {
	if k>>63 != 0 {
		return math.Float64frombits(k)
	}
	return math.Float64frombits(^k &^ (1 << 63))
}

// descendingKey32 is descendingKey64 for float32.
func descendingKey32(f float32) uint32 {
	if f == 0 {
		f = 0
	}
	b := math.Float32bits(f)
	if b>>31 != 0 {
		return b
	}
	return ^(b | 1<<31)
}

// fromDescendingKey32 inverts descendingKey32.
func fromDescendingKey32(k uint32) float32 {
	if k>>31 != 0 {
		return math.Float32frombits(k)
	}
	return math.Float32frombits(^k &^ (1 << 31))
}

// radixSort sorts keys ascending by a least-significant-digit radix sort on
// bytes (Knuth, TAOCP vol. 3, §5.2.5), scratch at least as long as keys.
// One read computes the histograms of all digits; a digit that every key
// shares (the high bytes of scores in [0, 1]) is skipped, so that pass
// costs nothing. The sort is stable.
func radixSort[K uint32 | uint64](keys, scratch []K, digits int) {
	n := len(keys)
	if n < 2 {
		return
	}
	var hist [8][256]int
	for _, k := range keys {
		for d := range digits {
			hist[d][byte(k>>(8*d))]++
		}
	}
	src, dst := keys, scratch[:n]
	for d := range digits {
		h := &hist[d]
		if h[byte(src[0]>>(8*d))] == n {
			continue
		}
		off := 0
		for b := range h {
			c := h[b]
			h[b] = off
			off += c
		}
		shift := uint(8 * d)
		for _, k := range src {
			b := byte(k >> shift)
			dst[h[b]] = k
			h[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
}

// aucROC integrates TPR over FPR with the trapezoid rule; NaN without both
// classes.
func (c curve) aucROC() float64 {
	if c.pos == 0 || c.neg == 0 {
		return math.NaN()
	}
	// In counts: Σ Δfp · (tp_prev + tp) / 2, scaled by pos·neg at the end so
	// that the sum stays exact in float64 for any realistic n.
	var area float64
	prevTP, prevFP := 0, 0
	for i := range c.thr {
		area += float64(c.fp[i]-prevFP) * float64(prevTP+c.tp[i]) / 2
		prevTP, prevFP = c.tp[i], c.fp[i]
	}
	return area / (float64(c.pos) * float64(c.neg))
}

// averagePrecision is the step-function integral of the precision-recall
// curve; 0 without a positive.
func (c curve) averagePrecision() float64 {
	if c.pos == 0 {
		return 0
	}
	var ap float64
	prevTP := 0
	for i := range c.thr {
		if c.tp[i] != prevTP {
			recallStep := float64(c.tp[i]-prevTP) / float64(c.pos)
			ap += recallStep * float64(c.tp[i]) / float64(c.tp[i]+c.fp[i])
		}
		prevTP = c.tp[i]
	}
	return ap
}

// BinaryRanking is the ranking of one set of binary scores, sorted once and
// shared by everything computed from it: ROC AUC, average precision, the
// thresholds and the confusion matrix at any threshold. Build it with
// RankBinary.
type BinaryRanking struct {
	c curve
}

// RankBinary ranks score for labels y (1 = positive, anything else
// negative) in O(n) (a radix sort). It returns an error wrapping
// ErrEmptyInput, ErrLengthMismatch or ErrNotFinite (a NaN score; ±Inf
// ranks as the highest or lowest score).
func RankBinary(y []int, score []float64) (BinaryRanking, error) {
	switch {
	case len(y) == 0:
		return BinaryRanking{}, fmt.Errorf("rank scores: %w", ErrEmptyInput)
	case len(y) != len(score):
		return BinaryRanking{}, fmt.Errorf("rank %d scores for %d labels: %w", len(score), len(y), ErrLengthMismatch)
	}
	for i, s := range score {
		if math.IsNaN(s) {
			return BinaryRanking{}, fmt.Errorf("rank scores: row %d is NaN: %w", i, ErrNotFinite)
		}
	}
	return BinaryRanking{newCurve(len(y), func(i int) bool { return y[i] == 1 }, func(i int) float64 { return score[i] })}, nil
}

// AUCROC is BinaryAUCROC on the ranked scores.
func (r BinaryRanking) AUCROC() float64 { return r.c.aucROC() }

// AveragePrecision is AveragePrecision on the ranked scores.
func (r BinaryRanking) AveragePrecision() float64 { return r.c.averagePrecision() }

// Thresholds returns the distinct scores from the highest down (a copy).
func (r BinaryRanking) Thresholds() []float64 { return append([]float64(nil), r.c.thr...) }

// ConfusionMatrix returns the counts of predicting positive for
// score >= threshold, as confusion_matrix(y, score >= threshold): row the
// true class (0 negative, 1 positive), column the predicted one. It looks
// the threshold up among the ranked scores (O(log n)).
func (r BinaryRanking) ConfusionMatrix(threshold float64) [2][2]int {
	// The number of distinct scores >= threshold: thr is decreasing.
	k, _ := slices.BinarySearchFunc(r.c.thr, threshold, func(t, thr float64) int { return cmp.Compare(thr, t) })
	for k < len(r.c.thr) && r.c.thr[k] >= threshold {
		k++
	}
	var tp, fp int
	if k > 0 {
		tp, fp = r.c.tp[k-1], r.c.fp[k-1]
	}
	return [2][2]int{{r.c.neg - fp, fp}, {r.c.pos - tp, tp}}
}

// BinaryConfusionMatrix returns confusion_matrix(y, score >= threshold) in
// one pass, without ranking: row the true class (1 positive, anything else
// negative), column the predicted one. A NaN score is predicted negative
// (NaN >= threshold is false). The lengths must match; it counts the common
// prefix otherwise.
func BinaryConfusionMatrix(y []int, score []float64, threshold float64) [2][2]int {
	n := min(len(y), len(score))
	var pos, tp, fp int
	for i, s := range score[:n] {
		p := 0
		if y[i] == 1 {
			p = 1
		}
		q := 0
		if s >= threshold {
			q = 1
		}
		pos += p
		tp += p & q
		fp += (1 - p) & q
	}
	return [2][2]int{{n - pos - fp, fp}, {pos - tp, tp}}
}
