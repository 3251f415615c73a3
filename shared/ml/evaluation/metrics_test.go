package evaluation

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// validBinary is a small valid binary input that tests modify.
func validBinary() Input {
	return Input{
		Y:        []int{0, 1, 1, 0},
		Proba:    []float64{0.9, 0.1, 0.2, 0.8, 0.6, 0.4, 0.3, 0.7},
		Classes:  []string{"noise", "pulsar"},
		Positive: 1,
	}
}

func TestCalculateRejectsInvalidInput(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Input)
		want   error
	}{
		{"empty rows", func(in *Input) { in.Y, in.Proba = nil, nil }, ErrEmptyInput},
		{"one class", func(in *Input) { in.Classes = []string{"noise"} }, ErrClasses},
		{"binary without positive index 1", func(in *Input) { in.Positive = -1 }, ErrClasses},
		{"multi-class with a positive index", func(in *Input) {
			in.Classes = []string{"a", "b", "c"}
			in.Proba = []float64{1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0}
		}, ErrClasses},
		{"too few probabilities", func(in *Input) { in.Proba = in.Proba[:7] }, ErrLengthMismatch},
		{"too many probabilities", func(in *Input) { in.Proba = append(in.Proba, 0.5, 0.5) }, ErrLengthMismatch},
		{"negative class index", func(in *Input) { in.Y[2] = -1 }, ErrClassIndex},
		{"class index past the classes", func(in *Input) { in.Y[3] = 2 }, ErrClassIndex},
		{"NaN probability", func(in *Input) { in.Proba[3] = math.NaN() }, ErrNotFinite},
		{"infinite probability", func(in *Input) { in.Proba[0] = math.Inf(1) }, ErrNotFinite},
		{"negative probability", func(in *Input) { in.Proba[0], in.Proba[1] = -0.1, 1.1 }, ErrProbability},
		{"row not summing to one", func(in *Input) { in.Proba[0] = 0.5 }, ErrNotDistribution},
		{"threshold above one", func(in *Input) { in.Threshold = 1.5 }, ErrThreshold},
		{"negative threshold", func(in *Input) { in.Threshold = -0.1 }, ErrThreshold},
		{"NaN threshold", func(in *Input) { in.Threshold = math.NaN() }, ErrThreshold},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := validBinary()
			tt.modify(&in)
			_, err := MetricsCalculator{}.Calculate(in)
			require.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), "calculate metrics")
		})
	}
}

func TestCalculateCustomMetrics(t *testing.T) {
	positives := func(_ Input, pred []int) float64 {
		var n float64
		for _, p := range pred {
			n += float64(p)
		}
		return n
	}
	t.Run("registered metric sees predictions", func(t *testing.T) {
		c := MetricsCalculator{Custom: map[string]CustomMetric{"predicted_positives": positives}}
		in := validBinary()
		in.Threshold = 0.75
		m, err := c.Calculate(in)
		require.NoError(t, err)
		assert.Equal(t, 1.0, m.CustomMetrics["predicted_positives"])
		assert.Equal(t, 0.75, m.Threshold)
		for _, name := range []string{MetricBalancedAccuracy, MetricMCC, MetricLogLoss, MetricBrierScore, MetricSpecificity} {
			assert.Contains(t, m.CustomMetrics, name)
		}
	})
	t.Run("default threshold", func(t *testing.T) {
		c := MetricsCalculator{Custom: map[string]CustomMetric{"predicted_positives": positives}}
		m, err := c.Calculate(validBinary())
		require.NoError(t, err)
		assert.Equal(t, DefaultThreshold, m.Threshold)
		assert.Equal(t, 2.0, m.CustomMetrics["predicted_positives"])
	})
	for _, name := range []string{MetricMCC, MetricLogLoss, MetricSpecificity} {
		t.Run("built-in name "+name+" refused", func(t *testing.T) {
			_, err := MetricsCalculator{Custom: map[string]CustomMetric{name: positives}}.Calculate(validBinary())
			require.ErrorIs(t, err, ErrCustomMetricName)
			assert.Contains(t, err.Error(), name)
		})
	}
	t.Run("nil metric refused", func(t *testing.T) {
		_, err := MetricsCalculator{Custom: map[string]CustomMetric{"x": nil}}.Calculate(validBinary())
		require.ErrorIs(t, err, ErrCustomMetricName)
	})
}

func TestEvaluationMetricsJSON(t *testing.T) {
	in := validBinary()
	in.Y = []int{1, 1, 1, 1} // a single class: ROC AUC is undefined
	m, err := MetricsCalculator{Custom: map[string]CustomMetric{
		"undefined": func(Input, []int) float64 { return math.NaN() },
		"infinite":  func(Input, []int) float64 { return math.Inf(1) },
	}}.Calculate(in)
	require.NoError(t, err)
	require.True(t, math.IsNaN(m.AUCROC))

	data, err := json.Marshal(m)
	require.NoError(t, err)

	var raw map[string]any
	require.NoError(t, json.Unmarshal(data, &raw))
	for _, key := range []string{"accuracy", "precision", "recall", "f1_score", "auc_roc", "auc_pr",
		"confusion_matrix", "classification_report", "custom_metrics", "decision_threshold", "classes",
		"positive_class", "support"} {
		assert.Contains(t, raw, key)
	}
	assert.Nil(t, raw["auc_roc"], "NaN is written as null")
	assert.Equal(t, 1.0, raw["auc_pr"])
	custom := raw["custom_metrics"].(map[string]any)
	assert.Nil(t, custom["undefined"])
	assert.Nil(t, custom["infinite"])
	report := raw["classification_report"].(map[string]any)
	for _, key := range []string{"classes", "accuracy", "macro_avg", "weighted_avg"} {
		assert.Contains(t, report, key)
	}
	row := report["classes"].([]any)[1].(map[string]any)
	assert.Equal(t, map[string]any{"label": "pulsar", "precision": 1.0, "recall": 0.5, "f1_score": 2.0 / 3, "support": 4.0}, row)

	var back EvaluationMetrics
	require.NoError(t, json.Unmarshal(data, &back))
	assert.True(t, math.IsNaN(back.AUCROC), "null is read back as NaN")
	assert.True(t, math.IsNaN(back.CustomMetrics["undefined"]))
	assert.True(t, math.IsNaN(back.CustomMetrics["infinite"]), "±Inf comes back as NaN")
	back.AUCROC, m.AUCROC = 0, 0
	// Undefined values (the two above, and the built-in rates that need
	// both classes) come back as NaN, which never compares equal.
	for name, v := range m.CustomMetrics {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			assert.Truef(t, math.IsNaN(back.CustomMetrics[name]), "%s comes back as NaN", name)
			delete(m.CustomMetrics, name)
			delete(back.CustomMetrics, name)
		}
	}
	assert.Equal(t, m, back, "every finite value survives the round trip")
}

func TestReportJSONNullRoundTrip(t *testing.T) {
	r := ClassificationReport{
		Classes:     []ClassReport{{Label: "a", Precision: math.NaN(), Recall: 1, F1Score: 0.5, Support: 3}},
		Accuracy:    math.NaN(),
		MacroAvg:    AverageReport{Precision: math.NaN(), Support: 3},
		WeightedAvg: AverageReport{F1Score: 0.25, Support: 3},
	}
	data, err := json.Marshal(r)
	require.NoError(t, err)
	assert.JSONEq(t, `{"classes":[{"label":"a","precision":null,"recall":1,"f1_score":0.5,"support":3}],
		"accuracy":null,"macro_avg":{"precision":null,"recall":0,"f1_score":0,"support":3},
		"weighted_avg":{"precision":0,"recall":0,"f1_score":0.25,"support":3}}`, string(data))
	var back ClassificationReport
	require.NoError(t, json.Unmarshal(data, &back))
	assert.True(t, math.IsNaN(back.Accuracy))
	assert.True(t, math.IsNaN(back.Classes[0].Precision))
	assert.True(t, math.IsNaN(back.MacroAvg.Precision))
	assert.Equal(t, 0.25, back.WeightedAvg.F1Score)
	assert.Equal(t, 3, back.Classes[0].Support)

	var m EvaluationMetrics
	require.Error(t, json.Unmarshal([]byte(`{"auc_roc":"high"}`), &m))
}

// calculateInput is an HTRU2-sized input (17,898 rows) of k classes with
// random scores.
func calculateInput(k int) Input {
	const n = 17898
	rng := rand.New(rand.NewPCG(1, 2))
	in := Input{Y: make([]int, n), Proba: make([]float64, n*k), Positive: -1}
	for j := range k {
		in.Classes = append(in.Classes, string(rune('a'+j)))
	}
	if k == 2 {
		in.Positive = 1
	}
	for i := range n {
		in.Y[i] = rng.IntN(k)
		var sum float64
		for j := range k {
			in.Proba[i*k+j] = rng.Float64()
			sum += in.Proba[i*k+j]
		}
		for j := range k {
			in.Proba[i*k+j] /= sum
		}
	}
	return in
}

// TestCalculateAtScale scores an HTRU2-sized input of 2 and of 5 classes.
// How long it takes is BenchmarkCalculate's business (scripts/bench.sh): a
// timed assertion fails on a loaded machine.
func TestCalculateAtScale(t *testing.T) {
	for _, k := range []int{2, 5} {
		m, err := MetricsCalculator{}.Calculate(calculateInput(k))
		require.NoError(t, err)
		assert.InDelta(t, 0.5, m.AUCROC, 0.05, "random scores rank at chance (%d classes)", k)
	}
}

func BenchmarkCalculate(b *testing.B) {
	for _, k := range []int{2, 5} {
		in := calculateInput(k)
		b.Run(fmt.Sprintf("classes=%d", k), func(b *testing.B) {
			for b.Loop() {
				if _, err := (MetricsCalculator{}).Calculate(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
