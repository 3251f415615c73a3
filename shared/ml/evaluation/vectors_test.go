package evaluation

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sklearnTolerance is the agreement required with scikit-learn, relative to
// the magnitude of values above 1 (log loss reaches 36).
const sklearnTolerance = 1e-9

// sklearnVectors is testdata/sklearn_vectors.json, written by
// scripts/gen_metric_vectors.py.
type sklearnVectors struct {
	GeneratedBy    string        `json:"generated_by"`
	SklearnVersion string        `json:"sklearn_version"`
	NumpyVersion   string        `json:"numpy_version"`
	Cases          []sklearnCase `json:"cases"`
}

type sklearnCase struct {
	Name      string      `json:"name"`
	Classes   []string    `json:"classes"`
	Positive  int         `json:"positive"`
	Threshold float64     `json:"threshold"`
	Y         []int       `json:"y"`
	P1        []float64   `json:"p1"`
	Proba     [][]float64 `json:"proba"`
	Expected  struct {
		Pred                 []int                      `json:"pred"`
		Accuracy             float64                    `json:"accuracy"`
		Precision            float64                    `json:"precision"`
		Recall               float64                    `json:"recall"`
		F1                   float64                    `json:"f1"`
		ConfusionMatrix      [][]int                    `json:"confusion_matrix"`
		ClassificationReport map[string]json.RawMessage `json:"classification_report"`
		BalancedAccuracy     float64                    `json:"balanced_accuracy"`
		MCC                  float64                    `json:"mcc"`
		LogLoss              float64                    `json:"log_loss"`
		ROCAUC               *float64                   `json:"roc_auc"`
		AveragePrecision     *float64                   `json:"average_precision"`
		Brier                *float64                   `json:"brier"`
		Specificity          *float64                   `json:"specificity"`
		BestF1Threshold      *float64                   `json:"best_f1_threshold"`
		BestF1               *float64                   `json:"best_f1"`
		YoudenThreshold      *float64                   `json:"youden_threshold"`
	} `json:"expected"`
}

// sklearnReportRow is one row of classification_report(output_dict=True).
type sklearnReportRow struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1-score"`
	Support   float64 `json:"support"`
}

// input rebuilds the Calculate input of c; binary rows are [1 − p1, p1] as
// numpy computed them.
func (c sklearnCase) input() Input {
	in := Input{Y: c.Y, Classes: c.Classes, Positive: c.Positive, Threshold: c.Threshold}
	if c.P1 != nil {
		for _, p := range c.P1 {
			in.Proba = append(in.Proba, 1.0-p, p)
		}
		return in
	}
	for _, row := range c.Proba {
		in.Proba = append(in.Proba, row...)
	}
	return in
}

func loadSklearnVectors(t *testing.T) sklearnVectors {
	t.Helper()
	data, err := os.ReadFile("testdata/sklearn_vectors.json")
	require.NoError(t, err)
	var v sklearnVectors
	require.NoError(t, json.Unmarshal(data, &v))
	require.NotEmpty(t, v.SklearnVersion, "header names the scikit-learn version")
	require.GreaterOrEqual(t, len(v.Cases), 40)
	return v
}

// assertClose asserts got agrees with want to sklearnTolerance; a nil want
// (scikit-learn's nan, written as null) requires NaN.
func assertClose(t *testing.T, want *float64, got float64, what string) {
	t.Helper()
	if want == nil {
		assert.Truef(t, math.IsNaN(got), "%s: want NaN (sklearn nan), got %v", what, got)
		return
	}
	assert.InDeltaf(t, *want, got, sklearnTolerance*math.Max(1, math.Abs(*want)), "%s", what)
}

func TestCalculateMatchesSklearn(t *testing.T) {
	v := loadSklearnVectors(t)
	t.Logf("vectors from scikit-learn %s, numpy %s", v.SklearnVersion, v.NumpyVersion)
	for _, c := range v.Cases {
		t.Run(c.Name, func(t *testing.T) {
			in := c.input()
			m, err := MetricsCalculator{}.Calculate(in)
			require.NoError(t, err)
			e := c.Expected

			assert.Equal(t, e.Pred, predict(withThreshold(in)), "predictions")
			assert.Equal(t, e.ConfusionMatrix, m.ConfusionMatrix)
			assert.Equal(t, len(c.Y), m.Support)
			assertClose(t, &e.Accuracy, m.Accuracy, "accuracy")
			assertClose(t, &e.Precision, m.Precision, "precision")
			assertClose(t, &e.Recall, m.Recall, "recall")
			assertClose(t, &e.F1, m.F1Score, "f1")
			assertClose(t, e.ROCAUC, m.AUCROC, "roc_auc")
			assertClose(t, e.AveragePrecision, m.AUCPR, "average_precision")
			assertClose(t, &e.BalancedAccuracy, m.CustomMetrics[MetricBalancedAccuracy], "balanced_accuracy")
			assertClose(t, &e.MCC, m.CustomMetrics[MetricMCC], "mcc")
			assertClose(t, &e.LogLoss, m.CustomMetrics[MetricLogLoss], "log_loss")

			if len(c.Classes) == 2 {
				require.NotNil(t, e.Brier)
				assertClose(t, e.Brier, m.CustomMetrics[MetricBrierScore], "brier")
				assertClose(t, e.Specificity, m.CustomMetrics[MetricSpecificity], "specificity")
				assert.Equal(t, c.Classes[1], m.PositiveClass)
				assert.Equal(t, in.Threshold, m.Threshold)

				p1 := column(in, 1)
				assertClose(t, e.ROCAUC, BinaryAUCROC(c.Y, p1), "BinaryAUCROC")
				assertClose(t, e.AveragePrecision, AveragePrecision(c.Y, p1), "AveragePrecision")
				thr, f1 := BestF1Threshold(c.Y, p1)
				assertClose(t, e.BestF1Threshold, thr, "best-F1 threshold")
				assertClose(t, e.BestF1, f1, "best F1")
				assertClose(t, e.YoudenThreshold, YoudenThreshold(c.Y, p1), "Youden threshold")
			} else {
				assert.NotContains(t, m.CustomMetrics, MetricBrierScore)
				assert.NotContains(t, m.CustomMetrics, MetricSpecificity)
				assert.Empty(t, m.PositiveClass)
			}

			r := m.ClassificationReport
			require.Len(t, r.Classes, len(c.Classes))
			for i, label := range c.Classes {
				var want sklearnReportRow
				require.NoError(t, json.Unmarshal(e.ClassificationReport[label], &want), label)
				got := r.Classes[i]
				assert.Equal(t, label, got.Label)
				assert.Equal(t, int(want.Support), got.Support, label)
				assertClose(t, &want.Precision, got.Precision, label+" precision")
				assertClose(t, &want.Recall, got.Recall, label+" recall")
				assertClose(t, &want.F1, got.F1Score, label+" f1")
			}
			var accuracy float64
			require.NoError(t, json.Unmarshal(e.ClassificationReport["accuracy"], &accuracy))
			assertClose(t, &accuracy, r.Accuracy, "report accuracy")
			for key, got := range map[string]AverageReport{"macro avg": r.MacroAvg, "weighted avg": r.WeightedAvg} {
				var want sklearnReportRow
				require.NoError(t, json.Unmarshal(e.ClassificationReport[key], &want), key)
				assert.Equal(t, int(want.Support), got.Support, key)
				assertClose(t, &want.Precision, got.Precision, key+" precision")
				assertClose(t, &want.Recall, got.Recall, key+" recall")
				assertClose(t, &want.F1, got.F1Score, key+" f1")
			}
		})
	}
}

// withThreshold applies the default threshold as Calculate does.
func withThreshold(in Input) Input {
	if len(in.Classes) == 2 && in.Threshold == 0 {
		in.Threshold = DefaultThreshold
	}
	return in
}

// column returns column j of in.Proba.
func column(in Input, j int) []float64 {
	k := len(in.Classes)
	out := make([]float64, len(in.Y))
	for i := range out {
		out[i] = in.Proba[i*k+j]
	}
	return out
}
