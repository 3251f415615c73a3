package evaluation

import (
	"cmp"
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
	c, ok := binaryCurveOf(y, score)
	if !ok {
		return math.NaN()
	}
	return c.aucROC()
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
// distinct score. Scores must not be NaN. O(n log n).
func newCurve(n int, positive func(int) bool, score func(int) float64) curve {
	type row struct {
		score    float64
		positive bool
	}
	rows := make([]row, n)
	for i := range rows {
		rows[i] = row{score(i), positive(i)}
	}
	slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(b.score, a.score) })
	var c curve
	var tp, fp int
	for i := 0; i < n; {
		s := rows[i].score
		for ; i < n && rows[i].score == s; i++ {
			if rows[i].positive {
				tp++
			} else {
				fp++
			}
		}
		c.thr = append(c.thr, s)
		c.tp = append(c.tp, tp)
		c.fp = append(c.fp, fp)
	}
	c.pos, c.neg = tp, fp
	return c
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
