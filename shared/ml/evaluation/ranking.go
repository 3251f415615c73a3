package evaluation

import (
	"math"
	"sort"
)

// BinaryAUCROC returns the area under the ROC curve of scores for labels y
// (1 = positive, anything else negative), as scikit-learn's roc_auc_score:
// tied scores form one step of the curve (trapezoid), which equals the
// Mann–Whitney U statistic with mid-ranks. NaN when y has a single class.
func BinaryAUCROC(y []int, score []float64) float64 {
	idx := order(score)
	var pos, neg float64
	for _, v := range y {
		if v == 1 {
			pos++
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	// Walk thresholds from the highest score down; tie groups move both rates.
	var tp, fp, area float64
	for i := 0; i < len(idx); {
		j := i
		var dtp, dfp float64
		for ; j < len(idx) && score[idx[j]] == score[idx[i]]; j++ {
			if y[idx[j]] == 1 {
				dtp++
			} else {
				dfp++
			}
		}
		area += dfp * (tp + tp + dtp) / 2
		tp += dtp
		fp += dfp
		i = j
	}
	return area / (pos * neg)
}

// AveragePrecision returns scikit-learn's average_precision_score:
// sum over distinct thresholds of (R_n - R_{n-1}) P_n, tied scores taken as
// one threshold. NaN when y has no positive.
func AveragePrecision(y []int, score []float64) float64 {
	idx := order(score)
	var pos float64
	for _, v := range y {
		if v == 1 {
			pos++
		}
	}
	if pos == 0 {
		return math.NaN()
	}
	var tp, fp, ap, prevRecall float64
	for i := 0; i < len(idx); {
		j := i
		for ; j < len(idx) && score[idx[j]] == score[idx[i]]; j++ {
			if y[idx[j]] == 1 {
				tp++
			} else {
				fp++
			}
		}
		recall := tp / pos
		precision := tp / (tp + fp)
		ap += (recall - prevRecall) * precision
		prevRecall = recall
		i = j
	}
	return ap
}

// order returns the indices of score sorted by decreasing score (stable).
func order(score []float64) []int {
	idx := make([]int, len(score))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return score[idx[a]] > score[idx[b]] })
	return idx
}
