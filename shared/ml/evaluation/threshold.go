package evaluation

import "math"

// BestF1Threshold returns the decision threshold that maximises F1 of the
// positive class (y == 1) on a validation split, and that F1. Candidates are
// the distinct values of score; a threshold t predicts positive iff
// score >= t, so the result can be used directly as Input.Threshold. Ties
// (equal F1, compared exactly as the rationals 2TP / (2TP + FP + FN)) go to
// the highest threshold, the most conservative rule. This is the argmax of
// F1 = 2PR / (P + R) over scikit-learn's precision_recall_curve(y, score).
//
// Without any positive in y every F1 is 0 and the highest score is returned
// with F1 0. It returns (NaN, NaN) when y is empty, the lengths differ or a
// score is NaN; Calculate rejects a NaN threshold.
func BestF1Threshold(y []int, score []float64) (threshold, f1 float64) {
	c, ok := binaryCurveOf(y, score)
	if !ok {
		return math.NaN(), math.NaN()
	}
	// F1 = 2TP / (2TP + FP + FN) = 2TP / (TP + FP + P): compare a/b > c/d as
	// a·d > c·b in integers so that equal F1 values tie exactly.
	best := 0
	bestNum, bestDen := int64(2*c.tp[0]), int64(c.tp[0]+c.fp[0]+c.pos)
	for i := 1; i < len(c.thr); i++ {
		num, den := int64(2*c.tp[i]), int64(c.tp[i]+c.fp[i]+c.pos)
		if num*bestDen > bestNum*den {
			best, bestNum, bestDen = i, num, den
		}
	}
	return c.thr[best], float64(bestNum) / float64(bestDen)
}

// YoudenThreshold returns the score value that maximises Youden's
// J = TPR − FPR (Youden 1950, "Index for rating diagnostic tests") for
// labels y (1 = positive), predicting positive iff score >= threshold. Ties
// go to the highest threshold. Candidates are the finite thresholds of
// scikit-learn's roc_curve(y, score, drop_intermediate=False). It returns NaN
// when y lacks either class, is empty, the lengths differ or a score is NaN.
func YoudenThreshold(y []int, score []float64) float64 {
	c, ok := binaryCurveOf(y, score)
	if !ok || c.pos == 0 || c.neg == 0 {
		return math.NaN()
	}
	// J = tp/pos − fp/neg; compare tp·neg − fp·pos exactly.
	best := 0
	bestJ := int64(c.tp[0])*int64(c.neg) - int64(c.fp[0])*int64(c.pos)
	for i := 1; i < len(c.thr); i++ {
		j := int64(c.tp[i])*int64(c.neg) - int64(c.fp[i])*int64(c.pos)
		if j > bestJ {
			best, bestJ = i, j
		}
	}
	return c.thr[best]
}
