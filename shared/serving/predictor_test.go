package serving_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/serving"
)

func binaryPredictor(t *testing.T, lim serving.Limits) *serving.Predictor {
	t.Helper()
	p, err := serving.NewPredictor("mdl-a", testModel(t, "mdl-a", []string{"0", "1"}, 3), lim)
	require.NoError(t, err)
	return p
}

func TestDecodeAccepts(t *testing.T) {
	p := binaryPredictor(t, serving.Limits{})
	nan := math.NaN()
	tests := []struct {
		name string
		body string
		want []float64
		rows int
	}{
		{"instances by name, any key order", `{"instances": [{"sd_ip": 2, "mean_ip": 1, "skew_ip": 4, "kurt_ip": 3}]}`, []float64{1, 2, 3, 4}, 1},
		{"rows in feature order", `{"rows": [[1, 2, 3, 4], [5, 6, 7, 8e1]]}`, []float64{1, 2, 3, 4, 5, 6, 7, 80}, 2},
		{"null is a missing measurement", `{"instances": [{"mean_ip": null, "sd_ip": 2, "kurt_ip": 3, "skew_ip": 4}]}`, []float64{nan, 2, 3, 4}, 1},
		{"zero is a value", `{"rows": [[0, -0, 0.0, -1.5]]}`, []float64{0, 0, 0, -1.5}, 1},
		{"escaped keys, white space, exponents", " {\"instances\" : [ {\"mean\\u005fip\": 1E2, \"sd_ip\":-2.5e-1,\n\t\"kurt_ip\": 3, \"skew_ip\": 4} ] }\n",
			[]float64{100, -0.25, 3, 4}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := p.Decode([]byte(tc.body))
			require.NoError(t, err)
			assert.Equal(t, tc.rows, b.Rows)
			require.Len(t, b.X, len(tc.want))
			for i, w := range tc.want {
				if math.IsNaN(w) {
					assert.True(t, math.IsNaN(b.X[i]), "value %d", i)
					continue
				}
				assert.Equal(t, w, b.X[i], "value %d", i)
			}
		})
	}
}

func TestDecodeNamesSchemaViolations(t *testing.T) {
	p := binaryPredictor(t, serving.Limits{})
	tests := []struct {
		name                       string
		body                       string
		missing, extra, nonNumeric []string
		fields                     []string
	}{
		{"missing features", `{"instances": [{"mean_ip": 1, "sd_ip": 2}]}`,
			[]string{"kurt_ip", "skew_ip"}, nil, nil, []string{"instances[0].kurt_ip", "instances[0].skew_ip"}},
		{"an extra feature", `{"instances": [{"mean_ip": 1, "sd_ip": 2, "kurt_ip": 3, "skew_ip": 4, "dm_snr": 5}]}`,
			nil, []string{"dm_snr"}, nil, []string{"instances[0].dm_snr"}},
		{"non-numeric values", `{"instances": [{"mean_ip": "1", "sd_ip": true, "kurt_ip": [3], "skew_ip": {"v": 4}}]}`,
			nil, nil, []string{"mean_ip", "sd_ip", "kurt_ip", "skew_ip"},
			[]string{"instances[0].mean_ip", "instances[0].sd_ip", "instances[0].kurt_ip", "instances[0].skew_ip"}},
		{"a number out of range", `{"rows": [[1, 2, 1e999, 4]]}`, nil, nil, []string{"kurt_ip"}, []string{"rows[0][2]"}},
		{"a short row", `{"rows": [[1, 2, 3, 4], [1, 2, 3]]}`, []string{"skew_ip"}, nil, nil, []string{"rows[1]"}},
		{"a long row", `{"rows": [[1, 2, 3, 4, 5]]}`, nil, []string{"rows[0][4]"}, nil, []string{"rows[0][4]"}},
		{"all at once, each name once", `{"instances": [{"mean_ip": 1, "x": 1}, {"mean_ip": "a", "x": 2, "sd_ip": 1, "kurt_ip": 1, "skew_ip": 1}]}`,
			[]string{"sd_ip", "kurt_ip", "skew_ip"}, []string{"x"}, []string{"mean_ip"},
			[]string{"instances[0].x", "instances[0].sd_ip", "instances[0].kurt_ip", "instances[0].skew_ip", "instances[1].mean_ip", "instances[1].x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Decode([]byte(tc.body))
			var se *serving.SchemaError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, fault.Invalid, fault.CodeOf(err))
			assert.Equal(t, serving.SchemaViolation, serving.OutcomeOf(err))
			assert.Equal(t, tc.missing, se.Missing, "missing")
			assert.Equal(t, tc.extra, se.Extra, "extra")
			assert.Equal(t, tc.nonNumeric, se.NonNumeric, "non-numeric")
			var fields []string
			for _, is := range se.Issues {
				fields = append(fields, is.Field)
				assert.NotEmpty(t, is.Detail)
			}
			assert.Equal(t, tc.fields, fields)
			for _, name := range append(append(tc.missing, tc.extra...), tc.nonNumeric...) {
				assert.Contains(t, err.Error(), name)
			}
		})
	}
}

func TestDecodeRefusesMalformedBodies(t *testing.T) {
	p := binaryPredictor(t, serving.Limits{MaxRows: 3, MaxBodyBytes: 200})
	tests := []struct {
		name, body, field string
		tooLarge          bool
	}{
		{"not JSON", `{"rows": [[1, 2, 3, 4]`, "body", false},
		{"not an object", `[[1, 2, 3, 4]]`, "body", false},
		{"neither instances nor rows", `{}`, "body", false},
		{"both", `{"rows": [[1, 2, 3, 4]], "instances": [{"mean_ip": 1, "sd_ip": 2, "kurt_ip": 3, "skew_ip": 4}]}`, "body", false},
		{"rows twice", `{"rows": [[1, 2, 3, 4]], "rows": [[1, 2, 3, 4]]}`, "rows", false},
		{"an unknown field", `{"rows": [[1, 2, 3, 4]], "model": "x"}`, "model", false},
		{"rows not an array", `{"rows": {"a": 1}}`, "rows", false},
		{"an instance not an object", `{"instances": [[1, 2, 3, 4]]}`, "instances[0]", false},
		{"a row not an array", `{"rows": [{"mean_ip": 1}]}`, "rows[0]", false},
		{"a feature twice in one instance", `{"instances": [{"mean_ip": 1, "mean_ip": 2, "sd_ip": 2, "kurt_ip": 3, "skew_ip": 4}]}`, "instances[0].mean_ip", false},
		{"empty rows", `{"rows": []}`, "rows", false},
		{"too many rows", `{"rows": [[1,2,3,4],[1,2,3,4],[1,2,3,4],[1,2,3,4]]}`, "rows", false},
		{"trailing data", `{"rows": [[1, 2, 3, 4]]} {}`, "body", false},
		{"over the size limit", `{"rows": [` + strings.Repeat(`[1,2,3,4],`, 30) + `[1,2,3,4]]}`, "body", true},
		{"a leading zero", `{"rows": [[01, 2, 3, 4]]}`, "body", false},
		{"a bare decimal point", `{"rows": [[1., 2, 3, 4]]}`, "body", false},
		{"NaN", `{"rows": [[NaN, 2, 3, 4]]}`, "body", false},
		{"a control character in a key", "{\"rows\x01\": []}", "body", false},
		{"a missing colon", `{"rows" [[1, 2, 3, 4]]}`, "body", false},
		{"nested too deep in an extra feature", `{"instances": [{"x": ` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}]}`, "body", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Decode([]byte(tc.body))
			var ie *serving.InputError
			require.ErrorAs(t, err, &ie)
			require.NotEmpty(t, ie.Issues)
			assert.Equal(t, tc.field, ie.Issues[0].Field, ie.Error())
			assert.Equal(t, tc.tooLarge, ie.TooLarge)
			assert.Equal(t, fault.Invalid, fault.CodeOf(err))
			assert.Equal(t, serving.Rejected, serving.OutcomeOf(err), "a malformed body is not a schema violation")
		})
	}
}

// FuzzDecode checks the decoder against encoding/json: it never accepts a
// body that is not JSON, and a body it accepts has the shape it claims.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{`{"rows": [[1, 2, 3, 4]]}`, `{"instances": [{"mean_ip": 1, "sd_ip": 2, "kurt_ip": 3, "skew_ip": null}]}`,
		`{"rows": [[1e400, 2, 3, 4]]}`, `{"rows": [["\u00e9", 2, 3, 4]]}`, `{"rows": [[-0.0, 2, 3, 4]]} `, `{"rows": [[1,2,3,4],]}`} {
		f.Add([]byte(seed))
	}
	p, err := serving.NewPredictor("mdl-f", testModel(f, "mdl-f", []string{"0", "1"}, 1), serving.Limits{MaxRows: 50})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := p.Decode(body)
		var se *serving.SchemaError
		if err == nil || errors.As(err, &se) {
			require.True(t, json.Valid(body), "accepted as JSON: %q", body)
		}
		if err == nil {
			var v struct {
				Instances []map[string]*float64 `json:"instances"`
				Rows      [][]*float64          `json:"rows"`
			}
			require.NoError(t, json.Unmarshal(body, &v), "%q", body)
			assert.Equal(t, len(v.Instances)+len(v.Rows), b.Rows)
			assert.Len(t, b.X, b.Rows*len(features))
		}
	})
}

func TestPredictBinary(t *testing.T) {
	m := testModel(t, "mdl-a", []string{"0", "1"}, 5)
	m.Manifest.Threshold = 0.47
	p, err := serving.NewPredictor("mdl-a", m, serving.Limits{})
	require.NoError(t, err)
	assert.True(t, p.Binary())
	var rows [][]float64
	for i := range 50 {
		rows = append(rows, []float64{float64(i%7) - 3, float64(i%5) - 2, float64(i%3) - 1, float64(i%11) - 5})
	}
	body, err := json.Marshal(map[string]any{"rows": rows})
	require.NoError(t, err)
	res, err := p.PredictBody(t.Context(), body)
	require.NoError(t, err)
	require.Len(t, res.Predictions, len(rows))
	assert.Equal(t, "mdl-a", res.ModelID)

	var x []float64
	for _, r := range rows {
		x = append(x, r...)
	}
	proba, err := m.PredictProba(t.Context(), x, len(rows))
	require.NoError(t, err)
	labels, err := m.Predict(t.Context(), x, len(rows))
	require.NoError(t, err)
	positive, bins := 0, 0
	for i, pred := range res.Predictions {
		require.NotNil(t, pred.Probability, "row %d", i)
		assert.Nil(t, pred.Probabilities)
		assert.Equal(t, proba[2*i+1], *pred.Probability, "row %d: the positive class's probability", i)
		assert.Equal(t, m.Manifest.Classes[labels[i]], pred.Label, "row %d: the label at the model's threshold, as orrery predict", i)
		if pred.Label == "1" {
			positive++
		}
	}
	for _, n := range res.Bins {
		bins += int(n)
	}
	assert.Equal(t, positive, res.Positive)
	assert.Equal(t, len(rows), bins, "every row is in one score bin")
	assert.Positive(t, positive, "the rows span both classes")
	assert.Less(t, positive, len(rows), "the rows span both classes")
}

func TestPredictMultiClass(t *testing.T) {
	classes := []string{"GALAXY", "QSO", "STAR"}
	p, err := serving.NewPredictor("mdl-m", testModel(t, "mdl-m", classes, 9), serving.Limits{})
	require.NoError(t, err)
	assert.False(t, p.Binary())
	res, err := p.PredictBody(t.Context(), []byte(`{"instances": [{"mean_ip": 1, "sd_ip": -2, "kurt_ip": 0.5, "skew_ip": 3}, {"mean_ip": -4, "sd_ip": 2, "kurt_ip": 1, "skew_ip": -1}]}`))
	require.NoError(t, err)
	require.Len(t, res.Predictions, 2)
	for i, pred := range res.Predictions {
		assert.Nil(t, pred.Probability)
		require.Len(t, pred.Probabilities, 3)
		sum, best := 0.0, ""
		for _, c := range classes {
			sum += pred.Probabilities[c]
			if best == "" || pred.Probabilities[c] > pred.Probabilities[best] {
				best = c
			}
		}
		assert.InDelta(t, 1, sum, 1e-12, "row %d", i)
		assert.Equal(t, best, pred.Label, "row %d: the most probable class", i)
	}
	assert.Zero(t, res.Positive, "a multi-class model has no positive class")
	out, err := json.Marshal(res.Predictions[0])
	require.NoError(t, err)
	assert.NotContains(t, string(out), `"probability"`)
}

func TestNewPredictorRefuses(t *testing.T) {
	m := testModel(t, "mdl-a", []string{"0", "1"}, 1)
	_, err := serving.NewPredictor("mdl-b", m, serving.Limits{})
	require.ErrorIs(t, err, serving.ErrModelRefused)
	assert.Contains(t, err.Error(), "mdl-a")

	dup := testModel(t, "mdl-d", []string{"0", "1"}, 1)
	dup.Manifest.Features = []string{"a", "b", "a", "c"}
	_, err = serving.NewPredictor("mdl-d", dup, serving.Limits{})
	require.ErrorIs(t, err, serving.ErrModelRefused)
	assert.Contains(t, err.Error(), `"a"`)
}

func TestScoreBin(t *testing.T) {
	for _, tc := range []struct {
		p    float64
		want int
	}{{0, 0}, {0.0499, 0}, {0.05, 1}, {0.5, 10}, {0.9999, 19}, {1, 19}, {-0.1, 0}, {1.5, 19}, {math.NaN(), 0}} {
		assert.Equal(t, tc.want, serving.ScoreBin(tc.p), fmt.Sprint(tc.p))
	}
}
