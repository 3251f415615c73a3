package evaluation

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/orrery-ml/orrery/shared/finitejson"
)

// jsonFloat is a float64 whose JSON form is null when it is not finite
// (encoding/json refuses NaN and ±Inf), and which reads null back as NaN.
type jsonFloat float64

// MarshalJSON writes null for NaN and ±Inf, the number otherwise.
func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads null as NaN.
func (f *jsonFloat) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*f = jsonFloat(math.NaN())
		return nil
	}
	var v float64
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("decode metric value %s: %w", data, err)
	}
	*f = jsonFloat(v)
	return nil
}

// metricsJSON mirrors EvaluationMetrics with null-aware floats.
type metricsJSON struct {
	Accuracy             jsonFloat            `json:"accuracy"`
	Precision            jsonFloat            `json:"precision"`
	Recall               jsonFloat            `json:"recall"`
	F1Score              jsonFloat            `json:"f1_score"`
	AUCROC               jsonFloat            `json:"auc_roc"`
	AUCPR                jsonFloat            `json:"auc_pr"`
	ConfusionMatrix      [][]int              `json:"confusion_matrix"`
	ClassificationReport ClassificationReport `json:"classification_report"`
	CustomMetrics        map[string]jsonFloat `json:"custom_metrics"`
	Threshold            jsonFloat            `json:"decision_threshold"`
	Classes              []string             `json:"classes"`
	PositiveClass        string               `json:"positive_class,omitempty"`
	Support              int                  `json:"support"`
}

// MarshalJSON writes m with snake_case names and null for NaN or ±Inf
// values (an undefined AUC, a custom metric that returned NaN).
func (m EvaluationMetrics) MarshalJSON() ([]byte, error) {
	out := metricsJSON{
		Accuracy:             jsonFloat(m.Accuracy),
		Precision:            jsonFloat(m.Precision),
		Recall:               jsonFloat(m.Recall),
		F1Score:              jsonFloat(m.F1Score),
		AUCROC:               jsonFloat(m.AUCROC),
		AUCPR:                jsonFloat(m.AUCPR),
		ConfusionMatrix:      m.ConfusionMatrix,
		ClassificationReport: m.ClassificationReport,
		Threshold:            jsonFloat(m.Threshold),
		Classes:              m.Classes,
		PositiveClass:        m.PositiveClass,
		Support:              m.Support,
	}
	if m.CustomMetrics != nil {
		out.CustomMetrics = make(map[string]jsonFloat, len(m.CustomMetrics))
		for name, v := range m.CustomMetrics {
			out.CustomMetrics[name] = jsonFloat(v)
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON writes; null values become NaN.
func (m *EvaluationMetrics) UnmarshalJSON(data []byte) error {
	var in metricsJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("decode evaluation metrics: %w", err)
	}
	*m = EvaluationMetrics{
		Accuracy:             float64(in.Accuracy),
		Precision:            float64(in.Precision),
		Recall:               float64(in.Recall),
		F1Score:              float64(in.F1Score),
		AUCROC:               float64(in.AUCROC),
		AUCPR:                float64(in.AUCPR),
		ConfusionMatrix:      in.ConfusionMatrix,
		ClassificationReport: in.ClassificationReport,
		Threshold:            float64(in.Threshold),
		Classes:              in.Classes,
		PositiveClass:        in.PositiveClass,
		Support:              in.Support,
	}
	if in.CustomMetrics != nil {
		m.CustomMetrics = make(map[string]float64, len(in.CustomMetrics))
		for name, v := range in.CustomMetrics {
			m.CustomMetrics[name] = float64(v)
		}
	}
	return nil
}

// classReportJSON mirrors ClassReport with null-aware floats.
type classReportJSON struct {
	Label     string    `json:"label"`
	Precision jsonFloat `json:"precision"`
	Recall    jsonFloat `json:"recall"`
	F1Score   jsonFloat `json:"f1_score"`
	Support   int       `json:"support"`
}

// MarshalJSON writes r with null for NaN or ±Inf values.
func (r ClassReport) MarshalJSON() ([]byte, error) {
	return json.Marshal(classReportJSON{
		Label: r.Label, Precision: jsonFloat(r.Precision), Recall: jsonFloat(r.Recall),
		F1Score: jsonFloat(r.F1Score), Support: r.Support,
	})
}

// UnmarshalJSON reads what MarshalJSON writes; null values become NaN.
func (r *ClassReport) UnmarshalJSON(data []byte) error {
	var in classReportJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("decode class report: %w", err)
	}
	*r = ClassReport{
		Label: in.Label, Precision: float64(in.Precision), Recall: float64(in.Recall),
		F1Score: float64(in.F1Score), Support: in.Support,
	}
	return nil
}

// averageReportJSON mirrors AverageReport with null-aware floats.
type averageReportJSON struct {
	Precision jsonFloat `json:"precision"`
	Recall    jsonFloat `json:"recall"`
	F1Score   jsonFloat `json:"f1_score"`
	Support   int       `json:"support"`
}

// MarshalJSON writes r with null for NaN or ±Inf values.
func (r AverageReport) MarshalJSON() ([]byte, error) {
	return json.Marshal(averageReportJSON{
		Precision: jsonFloat(r.Precision), Recall: jsonFloat(r.Recall),
		F1Score: jsonFloat(r.F1Score), Support: r.Support,
	})
}

// UnmarshalJSON reads what MarshalJSON writes; null values become NaN.
func (r *AverageReport) UnmarshalJSON(data []byte) error {
	var in averageReportJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("decode average report: %w", err)
	}
	*r = AverageReport{
		Precision: float64(in.Precision), Recall: float64(in.Recall),
		F1Score: float64(in.F1Score), Support: in.Support,
	}
	return nil
}

// classificationReportJSON mirrors ClassificationReport with a null-aware
// accuracy.
type classificationReportJSON struct {
	Classes     []ClassReport `json:"classes"`
	Accuracy    jsonFloat     `json:"accuracy"`
	MacroAvg    AverageReport `json:"macro_avg"`
	WeightedAvg AverageReport `json:"weighted_avg"`
}

// MarshalJSON writes r with null for a NaN or ±Inf accuracy.
func (r ClassificationReport) MarshalJSON() ([]byte, error) {
	return json.Marshal(classificationReportJSON{
		Classes: r.Classes, Accuracy: jsonFloat(r.Accuracy),
		MacroAvg: r.MacroAvg, WeightedAvg: r.WeightedAvg,
	})
}

// UnmarshalJSON reads what MarshalJSON writes; null becomes NaN.
func (r *ClassificationReport) UnmarshalJSON(data []byte) error {
	var in classificationReportJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("decode classification report: %w", err)
	}
	*r = ClassificationReport{
		Classes: in.Classes, Accuracy: float64(in.Accuracy),
		MacroAvg: in.MacroAvg, WeightedAvg: in.WeightedAvg,
	}
	return nil
}

// marshalFinite encodes v with non-finite floats as null (finitejson.Marshal).
func marshalFinite(v any) ([]byte, error) { return finitejson.Marshal(v) }
