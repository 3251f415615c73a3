package evaluation_test

import (
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
