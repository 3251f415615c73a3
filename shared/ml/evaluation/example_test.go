package evaluation_test

import (
	"context"
	"fmt"

	"github.com/orrery-ml/orrery/shared/ml/evaluation"
)

func ExampleMetricsCalculator_Calculate() {
	// Six pulsar candidates: true class and p(pulsar) from a model.
	y := []int{0, 0, 1, 1, 0, 1}
	p1 := []float64{0.1, 0.4, 0.35, 0.8, 0.7, 0.9}
	proba := make([]float64, 0, 2*len(p1))
	for _, p := range p1 {
		proba = append(proba, 1-p, p)
	}
	m, err := evaluation.MetricsCalculator{}.Calculate(evaluation.Input{
		Y:         y,
		Proba:     proba,
		Classes:   []string{"noise", "pulsar"},
		Positive:  1,
		Threshold: 0.5,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("accuracy %.4f precision %.4f recall %.4f f1 %.4f\n", m.Accuracy, m.Precision, m.Recall, m.F1Score)
	fmt.Printf("auc_roc %.4f auc_pr %.4f mcc %.4f log_loss %.4f\n",
		m.AUCROC, m.AUCPR, m.CustomMetrics[evaluation.MetricMCC], m.CustomMetrics[evaluation.MetricLogLoss])
	fmt.Println("confusion matrix", m.ConfusionMatrix)
	// Output:
	// accuracy 0.6667 precision 0.6667 recall 0.6667 f1 0.6667
	// auc_roc 0.7778 auc_pr 0.8667 mcc 0.3333 log_loss 0.5331
	// confusion matrix [[2 1] [1 2]]
}

// A comparison's paired bootstrap computed in two ranges apart — as two
// fold jobs of a heavy evaluation compute it — and combined gives the
// figures of Compare in one process.
func ExampleComparator_CompareReplicates() {
	ctx := context.Background()
	y := []int{0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1}
	champion := []float64{0.1, 0.4, 0.35, 0.8, 0.7, 0.9, 0.2, 0.6, 0.75, 0.3, 0.15, 0.55}
	challenger := []float64{0.2, 0.3, 0.6, 0.7, 0.4, 0.8, 0.1, 0.65, 0.9, 0.45, 0.2, 0.7}
	pairs := func(p1 []float64) []float64 {
		out := make([]float64, 0, 2*len(p1))
		for _, p := range p1 {
			out = append(out, 1-p, p)
		}
		return out
	}
	classes := []string{"noise", "pulsar"}
	cands := []evaluation.Candidate{{Name: "champion", Proba: pairs(champion)}, {Name: "challenger", Proba: pairs(challenger)}}
	c := evaluation.Comparator{Bootstrap: evaluation.Bootstrap{Resamples: 200, Seed: 1}}
	var parts []evaluation.Replicates
	for _, r := range [][2]int{{0, 120}, {120, 200}} {
		p, err := c.PairedReplicates(ctx, y, classes, 1, cands, r[0], r[1])
		if err != nil {
			fmt.Println(err)
			return
		}
		parts = append(parts, p)
	}
	sharded, err := c.CompareReplicates(ctx, y, classes, 1, "", cands, parts)
	if err != nil {
		fmt.Println(err)
		return
	}
	whole, err := c.Compare(ctx, y, classes, 1, "", cands)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("same figures:", fmt.Sprintf("%#v", *sharded) == fmt.Sprintf("%#v", *whole))
	for _, t := range sharded.Tests {
		fmt.Printf("%s %s: difference %.4f, p %.3f\n", t.Metric, t.Test, t.Difference, t.PValue)
	}
	// Output:
	// same figures: true
	// accuracy mcnemar: difference -0.1667, p 0.500
	// auc_roc delong: difference -0.1111, p 0.264
	// auc_pr paired_bootstrap: difference -0.1028, p 0.290
	// f1_score paired_bootstrap: difference -0.1667, p 0.230
}
