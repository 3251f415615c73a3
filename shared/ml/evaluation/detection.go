package evaluation

import (
	"fmt"
	"math"
	"slices"
	"sync"
)

// Names of the further entries Calculate writes to
// EvaluationMetrics.CustomMetrics. Completeness and purity are the names
// survey astronomers give recall and precision of the positive class; they
// are reported next to them, not instead of them.
const (
	MetricCohenKappa = "cohen_kappa"
	MetricGMean      = "g_mean"

	MetricPrecisionMicro    = "precision_micro"
	MetricRecallMicro       = "recall_micro"
	MetricF1Micro           = "f1_micro"
	MetricPrecisionMacro    = "precision_macro"
	MetricRecallMacro       = "recall_macro"
	MetricF1Macro           = "f1_macro"
	MetricPrecisionWeighted = "precision_weighted"
	MetricRecallWeighted    = "recall_weighted"
	MetricF1Weighted        = "f1_weighted"

	// Binary tasks only.
	MetricCompleteness = "completeness"
	MetricPurity       = "purity"
	MetricFPRAt95      = "fpr_at_95_completeness"
	MetricFPRAt99      = "fpr_at_99_completeness"
	MetricMDRAt1PctFPR = "missed_detection_rate_at_1pct_fpr"

	// Multi-class tasks only.
	MetricROCAUCOvRMacro    = "roc_auc_ovr_macro"
	MetricROCAUCOvRWeighted = "roc_auc_ovr_weighted"
	MetricTop2Accuracy      = "top_2_accuracy"
)

// builtinMetrics are the CustomMetrics names Calculate writes itself; a
// registered metric may not take one of them.
var builtinMetrics = map[string]bool{
	MetricBalancedAccuracy: true, MetricMCC: true, MetricLogLoss: true, MetricBrierScore: true,
	MetricSpecificity: true, MetricCohenKappa: true, MetricGMean: true,
	MetricPrecisionMicro: true, MetricRecallMicro: true, MetricF1Micro: true,
	MetricPrecisionMacro: true, MetricRecallMacro: true, MetricF1Macro: true,
	MetricPrecisionWeighted: true, MetricRecallWeighted: true, MetricF1Weighted: true,
	MetricCompleteness: true, MetricPurity: true, MetricFPRAt95: true, MetricFPRAt99: true,
	MetricMDRAt1PctFPR: true, MetricROCAUCOvRMacro: true, MetricROCAUCOvRWeighted: true,
	MetricTop2Accuracy: true,
}

// IsBuiltinMetric reports whether Calculate computes name itself.
func IsBuiltinMetric(name string) bool { return builtinMetrics[name] }

// addExtendedMetrics writes the metrics of this file into m.CustomMetrics.
// curves holds the per-class ranking curves (one, of class 1, for a binary
// task).
func addExtendedMetrics(m *EvaluationMetrics, in Input, curves []curve) {
	cm, r, n := m.ConfusionMatrix, m.ClassificationReport, len(in.Y)
	cmx := m.CustomMetrics
	cmx[MetricCohenKappa] = cohenKappa(cm)
	cmx[MetricGMean] = geometricMean(r)
	micro := microAverage(cm, n)
	cmx[MetricPrecisionMicro], cmx[MetricRecallMicro], cmx[MetricF1Micro] = micro, micro, micro
	cmx[MetricPrecisionMacro] = r.MacroAvg.Precision
	cmx[MetricRecallMacro] = r.MacroAvg.Recall
	cmx[MetricF1Macro] = r.MacroAvg.F1Score
	cmx[MetricPrecisionWeighted] = r.WeightedAvg.Precision
	cmx[MetricRecallWeighted] = r.WeightedAvg.Recall
	cmx[MetricF1Weighted] = r.WeightedAvg.F1Score
	if len(in.Classes) == 2 {
		c := curves[0]
		cmx[MetricCompleteness] = r.Classes[1].Recall
		cmx[MetricPurity] = r.Classes[1].Precision
		cmx[MetricFPRAt95] = c.fprAtTPR(0.95)
		cmx[MetricFPRAt99] = c.fprAtTPR(0.99)
		cmx[MetricMDRAt1PctFPR] = 1 - c.tprAtFPR(0.01)
		return
	}
	// roc_auc_score(multi_class='ovr', average='weighted'): classes absent
	// from y weigh 0 and scikit-learn zeroes their undefined AUC, so they
	// do not make the average NaN.
	var weighted float64
	for j, c := range curves {
		if r.Classes[j].Support > 0 {
			weighted += c.aucROC() * float64(r.Classes[j].Support)
		}
	}
	cmx[MetricROCAUCOvRMacro] = m.AUCROC
	cmx[MetricROCAUCOvRWeighted] = weighted / float64(n)
	cmx[MetricTop2Accuracy] = TopKAccuracy(in.Y, in.Proba, len(in.Classes), 2)
}

// cohenKappa is cohen_kappa_score(y, pred, labels=all classes) without
// weights (Cohen 1960, "A coefficient of agreement for nominal scales"):
// κ = 1 − Σ_{i≠j} O_ij / Σ_{i≠j} E_ij with E the outer product of the
// marginals over n. NaN when every row falls in one class on both sides
// (scikit-learn warns and returns replace_undefined_by, nan by default).
func cohenKappa(cm [][]int) float64 {
	k := len(cm)
	rows, cols := make([]float64, k), make([]float64, k)
	var n float64
	for i := range k {
		for j := range k {
			v := float64(cm[i][j])
			rows[i] += v
			cols[j] += v
			n += v
		}
	}
	var num, den float64
	for i := range k {
		for j := range k {
			if i != j {
				num += float64(cm[i][j])
				den += cols[i] * rows[j] / n
			}
		}
	}
	if den == 0 {
		return math.NaN()
	}
	return 1 - num/den
}

// geometricMean is the G-mean (Kubat & Matwin 1997, "Addressing the curse of
// imbalanced training sets"): the geometric mean of the per-class recalls
// over the classes present in the truth — √(sensitivity · specificity) for a
// binary task with both classes. scikit-learn has no G-mean; this is
// imbalanced-learn's geometric_mean_score(average='multiclass') restricted to
// present classes, as balanced_accuracy_score restricts its mean.
func geometricMean(r ClassificationReport) float64 {
	var logSum float64
	var classes int
	for _, c := range r.Classes {
		if c.Support == 0 {
			continue
		}
		if c.Recall == 0 {
			return 0
		}
		logSum += math.Log(c.Recall)
		classes++
	}
	return math.Exp(logSum / float64(classes))
}

// microAverage is precision, recall and F1 with average='micro' over all
// classes: Σ TP / n, which equals accuracy when every class is a label.
func microAverage(cm [][]int, n int) float64 {
	var tp int
	for j := range cm {
		tp += cm[j][j]
	}
	return float64(tp) / float64(n)
}

// fprAtTPR is the smallest false-positive rate among the points of the ROC
// curve (every distinct threshold, roc_curve with drop_intermediate=False)
// whose true-positive rate reaches target: the contamination a survey accepts
// to reach that completeness. NaN without both classes.
func (c curve) fprAtTPR(target float64) float64 {
	if c.pos == 0 || c.neg == 0 {
		return math.NaN()
	}
	for i := range c.thr {
		if float64(c.tp[i])/float64(c.pos) >= target {
			return float64(c.fp[i]) / float64(c.neg)
		}
	}
	return 1
}

// tprAtFPR is the largest true-positive rate among the points of the ROC
// curve, its origin included, whose false-positive rate is at most limit.
// NaN without both classes.
func (c curve) tprAtFPR(limit float64) float64 {
	if c.pos == 0 || c.neg == 0 {
		return math.NaN()
	}
	best := 0.0
	for i := range c.thr {
		if float64(c.fp[i])/float64(c.neg) > limit {
			break
		}
		best = float64(c.tp[i]) / float64(c.pos)
	}
	return best
}

// TopKAccuracy is scikit-learn's top_k_accuracy_score(y, proba, k=k,
// labels=all classes) for a multi-class task: the fraction of rows whose true
// class is among the k highest probabilities of the row (row-major proba,
// classes columns). Among equal probabilities the class of higher index ranks
// first, as scikit-learn's reversed stable argsort orders them. It returns
// NaN for an empty or inconsistent input or k < 1.
func TopKAccuracy(y []int, proba []float64, classes, k int) float64 {
	if len(y) == 0 || classes < 1 || len(proba) != len(y)*classes || k < 1 {
		return math.NaN()
	}
	var hits int
	for i, t := range y {
		row := proba[i*classes : (i+1)*classes]
		if t < 0 || t >= classes {
			return math.NaN()
		}
		ahead := 0
		for j, p := range row {
			if p > row[t] || (p == row[t] && j > t) {
				ahead++
			}
		}
		if ahead < k {
			hits++
		}
	}
	return float64(hits) / float64(len(y))
}

// Registry holds custom metrics by name, so that a request or a
// configuration can ask for them by name. The zero value is empty and ready;
// it is safe for concurrent use.
type Registry struct {
	mu      sync.RWMutex
	metrics map[string]CustomMetric
}

// Register adds a metric under name. It returns an error wrapping
// ErrCustomMetricName when f is nil, name is empty, a built-in name, or
// registered already.
func (r *Registry) Register(name string, f CustomMetric) error {
	switch {
	case name == "":
		return fmt.Errorf("register metric: empty name: %w", ErrCustomMetricName)
	case f == nil:
		return fmt.Errorf("register metric %q: nil function: %w", name, ErrCustomMetricName)
	case IsBuiltinMetric(name):
		return fmt.Errorf("register metric %q: a built-in metric has that name: %w", name, ErrCustomMetricName)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.metrics[name]; ok {
		return fmt.Errorf("register metric %q: registered already: %w", name, ErrCustomMetricName)
	}
	if r.metrics == nil {
		r.metrics = map[string]CustomMetric{}
	}
	r.metrics[name] = f
	return nil
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.namesLocked()
}

// Calculator returns a MetricsCalculator computing the named registered
// metrics (every registered one when names is empty). A name that is
// neither registered nor built in gives an error wrapping
// ErrCustomMetricName that lists the registered names; built-in names are
// accepted and need nothing extra.
func (r *Registry) Calculator(names ...string) (MetricsCalculator, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c := MetricsCalculator{Custom: map[string]CustomMetric{}}
	if len(names) == 0 {
		for n, f := range r.metrics {
			c.Custom[n] = f
		}
		return c, nil
	}
	for _, n := range names {
		if IsBuiltinMetric(n) {
			continue
		}
		f, ok := r.metrics[n]
		if !ok {
			return MetricsCalculator{}, fmt.Errorf("metric %q is neither built in nor registered (registered: %v): %w",
				n, r.namesLocked(), ErrCustomMetricName)
		}
		c.Custom[n] = f
	}
	return c, nil
}

func (r *Registry) namesLocked() []string {
	names := make([]string, 0, len(r.metrics))
	for n := range r.metrics {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
