package main

import (
	"context"
	"fmt"
	"math"
	"runtime"

	"github.com/orrery-ml/orrery/shared/ml/evaluation"
)

// benchMetrics times ROC AUC, average precision and the confusion matrix at
// 0.5 on the same scores as scikit-learn, single-threaded on both sides
// (scikit-learn's metrics are), and the three together from one ranking.
func benchMetrics(ctx context.Context, s settings) ([]Row, error) {
	scores, labels, sp, lp, err := scoreData(s.Dir, s.ScoreRows)
	if err != nil {
		return nil, err
	}
	y := make([]int, len(labels))
	for i, l := range labels {
		y[i] = int(l)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))

	var auc, ap float64
	var cm [2][2]int
	aucS := median(s.Repeat, func() { auc = evaluation.BinaryAUCROC(y, scores) })
	apS := median(s.Repeat, func() { ap = evaluation.AveragePrecision(y, scores) })
	cmS := median(s.Repeat, func() { cm = evaluation.BinaryConfusionMatrix(y, scores, 0.5) })
	allS := median(s.Repeat, func() {
		r, err := evaluation.RankBinary(y, scores)
		if err != nil {
			panic(err)
		}
		_, _, _ = r.AUCROC(), r.AveragePrecision(), r.ConfusionMatrix(0.5)
	})

	p, err := peer(ctx, s.PyBench, s.Peers, []string{"OMP_NUM_THREADS=1"}, "metrics", sp, lp, itoa(s.Repeat))
	if err != nil {
		return nil, err
	}
	name := str(p, "peer")
	n := countLabel(s.ScoreRows)
	cmNote := "same counts"
	if !sameCounts(p["cm"], cm) {
		cmNote = fmt.Sprintf("COUNTS DIFFER: ours %v, peer %v", cm, p["cm"])
	}
	return []Row{
		newRow("metrics", "roc_auc "+n+" tied scores", "s", aucS, num(p, "auc_s"), 3, name, diffNote(auc, num(p, "auc"))),
		newRow("metrics", "average_precision "+n, "s", apS, num(p, "ap_s"), 3, name, diffNote(ap, num(p, "ap"))),
		newRow("metrics", "confusion_matrix "+n+" at 0.5", "s", cmS, num(p, "cm_s"), 3, name, cmNote),
		newRow("metrics", "auc+ap+cm, one ranking "+n, "s", allS, num(p, "all_s"), 3, name, "peer: the three calls"),
	}, nil
}

func diffNote(ours, peer float64) string {
	return fmt.Sprintf("|ours-peer| = %.1e", math.Abs(ours-peer))
}

// sameCounts compares the peer's confusion matrix (JSON numbers) with ours.
func sameCounts(peer any, cm [2][2]int) bool {
	rows, ok := peer.([]any)
	if !ok || len(rows) != 2 {
		return false
	}
	for i, r := range rows {
		cols, ok := r.([]any)
		if !ok || len(cols) != 2 {
			return false
		}
		for j, v := range cols {
			if f, ok := v.(float64); !ok || f != float64(cm[i][j]) {
				return false
			}
		}
	}
	return true
}
