package evaluation

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
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

// marshalerType is json.Marshaler's reflect type.
var marshalerType = reflect.TypeFor[json.Marshaler]()

// marshalFinite encodes v as encoding/json would, except that NaN and ±Inf
// floats, which encoding/json refuses, are written as null. Values whose
// type has its own MarshalJSON are encoded by it.
func marshalFinite(v any) ([]byte, error) {
	return json.Marshal(finiteValue(reflect.ValueOf(v)))
}

// finiteValue turns v into a tree of maps, slices and scalars with
// non-finite floats replaced by nil, honouring json struct tags (name, "-",
// omitempty) on exported fields.
func finiteValue(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	if v.Type().Implements(marshalerType) && (v.Kind() != reflect.Pointer || !v.IsNil()) {
		b, err := v.Interface().(json.Marshaler).MarshalJSON()
		if err != nil {
			return nil
		}
		return json.RawMessage(b)
	}
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return f
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return finiteValue(v.Elem())
	case reflect.Slice:
		if v.IsNil() {
			return nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Interface()
		}
		fallthrough
	case reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = finiteValue(v.Index(i))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		out := make(map[string]any, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			out[fmt.Sprint(iter.Key().Interface())] = finiteValue(iter.Value())
		}
		return out
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" && opts == "" {
				continue
			}
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				// Embedded struct: its fields are promoted, as encoding/json does.
				if inner, ok := finiteValue(v.Field(i)).(map[string]any); ok {
					for k, x := range inner {
						if _, taken := out[k]; !taken {
							out[k] = x
						}
					}
				}
				continue
			}
			if name == "" {
				name = f.Name
			}
			fv := v.Field(i)
			if omitted(fv, opts) {
				continue
			}
			out[name] = finiteValue(fv)
		}
		return out
	}
	return v.Interface()
}

// omitted reports whether a field with these tag options is left out.
func omitted(v reflect.Value, opts string) bool {
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "omitempty":
			switch v.Kind() {
			case reflect.Slice, reflect.Map, reflect.String, reflect.Array:
				if v.Len() == 0 {
					return true
				}
			default:
				if v.IsZero() {
					return true
				}
			}
		case "omitzero":
			if v.IsZero() {
				return true
			}
		}
	}
	return false
}
