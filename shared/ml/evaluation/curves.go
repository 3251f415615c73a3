package evaluation

// CurvePoint is one point of a ROC or precision-recall curve.
type CurvePoint struct {
	Threshold float64 `json:"threshold"`
	FPR       float64 `json:"fpr"`
	TPR       float64 `json:"tpr"`
	Precision float64 `json:"precision"`
}

// Curve returns the operating points of scores for labels y (1 = positive)
// at every distinct score from the highest down, as scikit-learn's
// roc_curve(drop_intermediate=False) and precision_recall_curve give them,
// preceded by the origin (threshold 2, above any probability; nothing predicted positive,
// precision 1 by convention). TPR is the recall. It returns nil when y is
// empty, the lengths differ, a score is NaN, or y lacks either class.
func Curve(y []int, score []float64) []CurvePoint {
	c, ok := binaryCurveOf(y, score)
	if !ok || c.pos == 0 || c.neg == 0 {
		return nil
	}
	out := make([]CurvePoint, 0, len(c.thr)+1)
	out = append(out, CurvePoint{Threshold: 2, FPR: 0, TPR: 0, Precision: 1})
	for i := range c.thr {
		tp, fp := float64(c.tp[i]), float64(c.fp[i])
		out = append(out, CurvePoint{Threshold: c.thr[i], FPR: fp / float64(c.neg), TPR: tp / float64(c.pos),
			Precision: ratio(tp, tp+fp)})
	}
	return out
}
