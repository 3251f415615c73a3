package evaluation

import (
	"fmt"
	"math"
	"slices"

	"github.com/orrery-ml/orrery/shared/fault"
)

// Sentinel errors. Calculate and Evaluate wrap them with the operation and
// the row, column or name concerned; test them with errors.Is.
var (
	// ErrEmptyInput means there are no rows to score.
	ErrEmptyInput = fault.New(fault.Invalid, "evaluation: empty input")
	// ErrLengthMismatch means the probabilities do not cover rows × classes.
	ErrLengthMismatch = fault.New(fault.Invalid, "evaluation: length mismatch")
	// ErrClasses means fewer than two classes, or a positive class index
	// that does not fit the number of classes.
	ErrClasses = fault.New(fault.Invalid, "evaluation: invalid classes")
	// ErrClassIndex means a true class index outside the classes.
	ErrClassIndex = fault.New(fault.Invalid, "evaluation: class index out of range")
	// ErrNotFinite means a probability is NaN or infinite.
	ErrNotFinite = fault.New(fault.Invalid, "evaluation: probability not finite")
	// ErrProbability means a probability below 0 or above 1.
	ErrProbability = fault.New(fault.Invalid, "evaluation: probability outside [0, 1]")
	// ErrNotDistribution means a row of probabilities does not sum to one.
	ErrNotDistribution = fault.New(fault.Invalid, "evaluation: probabilities do not sum to one")
	// ErrThreshold means a binary decision threshold outside [0, 1] or NaN.
	ErrThreshold = fault.New(fault.Invalid, "evaluation: threshold outside [0, 1]")
	// ErrCustomMetricName means a custom metric is nil or named like a
	// built-in one.
	ErrCustomMetricName = fault.New(fault.Invalid, "evaluation: invalid custom metric")
	// ErrNilPredictor means Evaluate was given no Predictor.
	ErrNilPredictor = fault.New(fault.Internal, "evaluation: nil predictor")
	// ErrInvalidDataset means a nil, empty or inconsistent dataset.Dataset.
	ErrInvalidDataset = fault.New(fault.Invalid, "evaluation: invalid data set")
)

// Names of the entries Calculate always writes to
// EvaluationMetrics.CustomMetrics (the last two for binary tasks only).
const (
	MetricBalancedAccuracy = "balanced_accuracy"
	MetricMCC              = "mcc"
	MetricLogLoss          = "log_loss"
	MetricBrierScore       = "brier_score"
	MetricSpecificity      = "specificity"
)

// DefaultThreshold is the binary decision threshold used when
// Input.Threshold is zero.
const DefaultThreshold = 0.5

// EvaluationMetrics is the seed's EvaluationMetrics: what a model scored on
// one labelled data set. JSON field names are snake_case; NaN values (see the
// package comment) are written as null and read back as NaN.
type EvaluationMetrics struct {
	// Accuracy is the fraction of rows predicted correctly (accuracy_score).
	Accuracy float64 `json:"accuracy"`
	// Precision, Recall and F1Score are those of the positive class for a
	// binary task (average='binary') and their unweighted mean over all
	// Classes for a multi-class task (average='macro', labels = every
	// class, so a class absent from both truth and predictions counts as 0).
	// A zero denominator gives 0 (zero_division=0).
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1Score   float64 `json:"f1_score"`
	// AUCROC is roc_auc_score on the positive-class probability for a
	// binary task, and the macro mean of one-vs-rest AUCs
	// (multi_class='ovr', average='macro') for a multi-class one. NaN when
	// a class needed for a curve is missing (see the package comment).
	AUCROC float64 `json:"auc_roc"`
	// AUCPR is average_precision_score on the positive-class probability
	// for a binary task, and the macro mean of per-class one-vs-rest average
	// precision (average_precision_score(label_binarize(y), proba)) for a
	// multi-class one. A class without rows contributes 0.
	AUCPR float64 `json:"auc_pr"`
	// ConfusionMatrix counts rows by true class (row) and predicted class
	// (column), both in Classes order: confusion_matrix(y, pred, labels).
	ConfusionMatrix [][]int `json:"confusion_matrix"`
	// ClassificationReport is classification_report(output_dict=True).
	ClassificationReport ClassificationReport `json:"classification_report"`
	// CustomMetrics always holds balanced_accuracy, mcc, log_loss,
	// cohen_kappa, g_mean and the micro, macro and weighted precision,
	// recall and F1 (precision_micro, ..., f1_weighted); for binary tasks
	// also brier_score, specificity, completeness, purity,
	// fpr_at_95_completeness, fpr_at_99_completeness and
	// missed_detection_rate_at_1pct_fpr; for multi-class tasks
	// roc_auc_ovr_macro, roc_auc_ovr_weighted and top_2_accuracy (see the
	// Metric* constants); plus every metric in MetricsCalculator.Custom.
	CustomMetrics map[string]float64 `json:"custom_metrics"`
	// Threshold is the binary decision threshold applied to the
	// positive-class probability; 0 for multi-class tasks, which predict
	// the first class of highest probability.
	Threshold float64 `json:"decision_threshold"`
	// Classes are the class labels, indexed as in the input.
	Classes []string `json:"classes"`
	// PositiveClass is the label of the positive class of a binary task.
	PositiveClass string `json:"positive_class,omitempty"`
	// Support is the number of rows evaluated.
	Support int `json:"support"`
}

// ClassReport is one class's row of a ClassificationReport.
type ClassReport struct {
	Label     string  `json:"label"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1Score   float64 `json:"f1_score"`
	// Support is the number of rows whose true class is Label.
	Support int `json:"support"`
}

// AverageReport is an average row (macro or support-weighted) of a
// ClassificationReport.
type AverageReport struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1Score   float64 `json:"f1_score"`
	Support   int     `json:"support"`
}

// ClassificationReport is scikit-learn's classification_report with
// output_dict=True, labels = all classes and zero_division=0: per-class
// precision, recall, F1 and support in Classes order, accuracy, the
// unweighted (macro) and support-weighted averages.
type ClassificationReport struct {
	Classes     []ClassReport `json:"classes"`
	Accuracy    float64       `json:"accuracy"`
	MacroAvg    AverageReport `json:"macro_avg"`
	WeightedAvg AverageReport `json:"weighted_avg"`
}

// Input is what Calculate scores: true classes and predicted probabilities
// for the same rows.
type Input struct {
	// Y is the true class index of each row, into Classes.
	Y []int
	// Proba is row-major, len(Y) × len(Classes): each row a probability
	// distribution over Classes (entries in [0, 1] summing to one within
	// numpy.allclose's default tolerance). For a binary task column 1 is
	// the positive class.
	Proba []float64
	// Classes are the class labels; at least two.
	Classes []string
	// Positive is 1 for a binary task (len(Classes) == 2) and -1 for a
	// multi-class one.
	Positive int
	// Threshold is the binary decision threshold on column 1, in [0, 1];
	// 0 means DefaultThreshold. A row is predicted positive iff its
	// probability is >= Threshold. Multi-class tasks ignore it and predict
	// the first class of highest probability (numpy.argmax).
	Threshold float64
}

// CustomMetric computes one extra metric from the input (its Threshold set
// to the one applied) and the predicted class of each row, a copy it may
// keep. It may return NaN for an undefined value.
type CustomMetric func(in Input, pred []int) float64

// MetricsCalculator computes EvaluationMetrics. The zero value computes the
// built-in metrics only.
type MetricsCalculator struct {
	// Custom metrics are computed by name into
	// EvaluationMetrics.CustomMetrics. A name may not be one of the
	// built-in Metric* names.
	Custom map[string]CustomMetric
}

// Calculate scores in. It returns an error wrapping ErrEmptyInput,
// ErrLengthMismatch, ErrClasses, ErrClassIndex, ErrNotFinite, ErrProbability,
// ErrNotDistribution, ErrThreshold or ErrCustomMetricName when the input is
// not valid. It runs in O(k·n log n) for n rows and k classes (one sort per
// ranking curve).
func (c MetricsCalculator) Calculate(in Input) (EvaluationMetrics, error) {
	if err := c.validate(in); err != nil {
		return EvaluationMetrics{}, fmt.Errorf("calculate metrics: %w", err)
	}
	return c.calculate(in), nil
}

// calculate is Calculate on an input validate has accepted.
func (c MetricsCalculator) calculate(in Input) EvaluationMetrics {
	k, n := len(in.Classes), len(in.Y)
	binary := k == 2
	if binary && in.Threshold == 0 {
		in.Threshold = DefaultThreshold
	}
	pred := predict(in)
	cm := confusionMatrix(in.Y, pred, k)
	report := newReport(cm, in.Classes, n)

	m := EvaluationMetrics{
		Accuracy:             report.Accuracy,
		ConfusionMatrix:      cm,
		ClassificationReport: report,
		Classes:              slices.Clone(in.Classes),
		Support:              n,
		CustomMetrics: map[string]float64{
			MetricBalancedAccuracy: balancedAccuracy(report),
			MetricMCC:              matthewsCorrcoef(cm, n),
			MetricLogLoss:          logLoss(in.Y, in.Proba, k),
		},
	}
	var curves []curve
	if binary {
		pos := report.Classes[1]
		m.Precision, m.Recall, m.F1Score = pos.Precision, pos.Recall, pos.F1Score
		m.Threshold = in.Threshold
		m.PositiveClass = in.Classes[1]
		cv := classCurve(in, 1)
		curves = []curve{cv}
		m.AUCROC, m.AUCPR = cv.aucROC(), cv.averagePrecision()
		m.CustomMetrics[MetricBrierScore] = brierScore(in.Y, in.Proba)
		m.CustomMetrics[MetricSpecificity] = report.Classes[0].Recall
	} else {
		m.Precision, m.Recall, m.F1Score = report.MacroAvg.Precision, report.MacroAvg.Recall, report.MacroAvg.F1Score
		var auc, ap float64
		for j := range k {
			cv := classCurve(in, j)
			curves = append(curves, cv)
			auc += cv.aucROC()
			ap += cv.averagePrecision()
		}
		m.AUCROC, m.AUCPR = auc/float64(k), ap/float64(k)
	}
	addExtendedMetrics(&m, in, curves)
	for name, f := range c.Custom {
		m.CustomMetrics[name] = f(in, slices.Clone(pred))
	}
	return m
}

// validate checks in and the custom metric names.
func (c MetricsCalculator) validate(in Input) error {
	k, n := len(in.Classes), len(in.Y)
	switch {
	case k < 2:
		return fmt.Errorf("%d classes, need at least 2: %w", k, ErrClasses)
	case k == 2 && in.Positive != 1:
		return fmt.Errorf("binary task with positive class index %d, want 1: %w", in.Positive, ErrClasses)
	case k > 2 && in.Positive != -1:
		return fmt.Errorf("%d-class task with positive class index %d, want -1: %w", k, in.Positive, ErrClasses)
	case n == 0:
		return ErrEmptyInput
	case len(in.Proba) != n*k:
		return fmt.Errorf("%d probabilities for %d rows × %d classes: %w", len(in.Proba), n, k, ErrLengthMismatch)
	}
	if k == 2 && (math.IsNaN(in.Threshold) || in.Threshold < 0 || in.Threshold > 1) {
		return fmt.Errorf("threshold %v: %w", in.Threshold, ErrThreshold)
	}
	for i, y := range in.Y {
		if y < 0 || y >= k {
			return fmt.Errorf("row %d has class index %d of %d classes: %w", i, y, k, ErrClassIndex)
		}
		var sum float64
		for j, p := range in.Proba[i*k : (i+1)*k] {
			switch {
			case math.IsNaN(p) || math.IsInf(p, 0):
				return fmt.Errorf("row %d column %d is %v: %w", i, j, p, ErrNotFinite)
			case p < 0 || p > 1:
				return fmt.Errorf("row %d column %d is %v: %w", i, j, p, ErrProbability)
			}
			sum += p
		}
		// numpy.allclose(1, sum): |1 − sum| <= atol + rtol·|sum|, the check
		// roc_auc_score applies to multi-class probabilities.
		if math.Abs(1-sum) > 1e-8+1e-5*sum {
			return fmt.Errorf("row %d sums to %v: %w", i, sum, ErrNotDistribution)
		}
	}
	for name := range c.Custom {
		if IsBuiltinMetric(name) {
			return fmt.Errorf("custom metric %q: %w", name, ErrCustomMetricName)
		}
		if c.Custom[name] == nil {
			return fmt.Errorf("custom metric %q is nil: %w", name, ErrCustomMetricName)
		}
	}
	return nil
}

// predict returns the predicted class of each row: for a binary task 1 iff
// the positive-class probability is >= in.Threshold, otherwise the first
// column of highest probability. in has been validated.
func predict(in Input) []int {
	k := len(in.Classes)
	pred := make([]int, len(in.Y))
	for i := range pred {
		row := in.Proba[i*k : (i+1)*k]
		if k == 2 {
			if row[1] >= in.Threshold {
				pred[i] = 1
			}
			continue
		}
		best := 0
		for j := 1; j < k; j++ {
			if row[j] > row[best] {
				best = j
			}
		}
		pred[i] = best
	}
	return pred
}

// classCurve ranks rows by their probability of class j, class j positive.
func classCurve(in Input, j int) curve {
	k := len(in.Classes)
	return newCurve(len(in.Y),
		func(i int) bool { return in.Y[i] == j },
		func(i int) float64 { return in.Proba[i*k+j] })
}

// confusionMatrix counts rows by true class (row) and predicted class
// (column).
func confusionMatrix(y, pred []int, k int) [][]int {
	cm := make([][]int, k)
	for i := range cm {
		cm[i] = make([]int, k)
	}
	for i, t := range y {
		cm[t][pred[i]]++
	}
	return cm
}

// ratio returns num/den, or 0 when den is 0 (scikit-learn's zero_division=0).
func ratio(num, den float64) float64 {
	if den == 0 {
		return 0
	}
	return num / den
}

// newReport builds the classification report from the confusion matrix.
// Per class: precision = TP / predicted, recall = TP / support and
// F1 = 2TP / (support + predicted), each 0 on a zero denominator, as
// scikit-learn's precision_recall_fscore_support computes them.
func newReport(cm [][]int, classes []string, n int) ClassificationReport {
	k := len(classes)
	r := ClassificationReport{Classes: make([]ClassReport, k)}
	var correct int
	for j := range k {
		tp, support, predicted := cm[j][j], 0, 0
		for i := range k {
			support += cm[j][i]
			predicted += cm[i][j]
		}
		correct += tp
		r.Classes[j] = ClassReport{
			Label:     classes[j],
			Precision: ratio(float64(tp), float64(predicted)),
			Recall:    ratio(float64(tp), float64(support)),
			F1Score:   ratio(2*float64(tp), float64(support+predicted)),
			Support:   support,
		}
	}
	r.Accuracy = float64(correct) / float64(n)
	r.MacroAvg.Support, r.WeightedAvg.Support = n, n
	for _, c := range r.Classes {
		r.MacroAvg.Precision += c.Precision
		r.MacroAvg.Recall += c.Recall
		r.MacroAvg.F1Score += c.F1Score
		w := float64(c.Support)
		r.WeightedAvg.Precision += w * c.Precision
		r.WeightedAvg.Recall += w * c.Recall
		r.WeightedAvg.F1Score += w * c.F1Score
	}
	r.MacroAvg.Precision /= float64(k)
	r.MacroAvg.Recall /= float64(k)
	r.MacroAvg.F1Score /= float64(k)
	r.WeightedAvg.Precision /= float64(n)
	r.WeightedAvg.Recall /= float64(n)
	r.WeightedAvg.F1Score /= float64(n)
	return r
}

// balancedAccuracy is balanced_accuracy_score (adjusted=False): the mean
// recall over the classes that occur in the truth. Classes only predicted
// are left out, as scikit-learn drops their NaN recall.
func balancedAccuracy(r ClassificationReport) float64 {
	var sum float64
	var classes int
	for _, c := range r.Classes {
		if c.Support > 0 {
			sum += c.Recall
			classes++
		}
	}
	return sum / float64(classes)
}

// matthewsCorrcoef is matthews_corrcoef, in the multi-class form of
// Gorodkin (2004), "Comparing two K-category assignments by a K-category
// correlation coefficient": with t_k and p_k the true and predicted counts of
// class k, c correct rows and s rows,
// MCC = (c·s − Σ t_k p_k) / sqrt((s² − Σ p_k²)(s² − Σ t_k²)), and 0 when
// the denominator is 0, as scikit-learn returns.
func matthewsCorrcoef(cm [][]int, n int) float64 {
	k := len(cm)
	var correct, tp, pp, tt float64
	for j := range k {
		var t, p float64
		for i := range k {
			t += float64(cm[j][i])
			p += float64(cm[i][j])
		}
		correct += float64(cm[j][j])
		tp += t * p
		pp += p * p
		tt += t * t
	}
	s := float64(n)
	den := (s*s - pp) * (s*s - tt)
	if den == 0 {
		return 0
	}
	return (correct*s - tp) / math.Sqrt(den)
}

// logLossEps is the clipping bound of scikit-learn's log_loss (1.5 and
// later): the machine epsilon of float64, numpy.finfo(float64).eps = 2^-52.
const logLossEps = 0x1p-52

// logLoss is log_loss(y, proba, labels=all classes): the mean over rows of
// −ln p(true class), each probability first clipped to [eps, 1 − eps].
func logLoss(y []int, proba []float64, k int) float64 {
	var sum float64
	for i, t := range y {
		p := min(max(proba[i*k+t], logLossEps), 1-logLossEps)
		sum -= math.Log(p)
	}
	return sum / float64(len(y))
}

// brierScore is brier_score_loss(y, p1, pos_label=1): the mean squared
// difference between the positive-class probability and the 0/1 outcome.
func brierScore(y []int, proba []float64) float64 {
	var sum float64
	for i, t := range y {
		d := float64(t) - proba[2*i+1]
		sum += d * d
	}
	return sum / float64(len(y))
}
