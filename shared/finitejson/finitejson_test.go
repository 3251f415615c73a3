package finitejson_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/finitejson"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
)

func TestMarshalWritesNonFiniteAsNull(t *testing.T) {
	nan := math.NaN()
	tr := optimization.Trial{Number: 2, Values: []float64{nan, 1}, Intermediate: []optimization.Intermediate{{Step: 1, Values: []float64{math.Inf(1)}}}}
	b, err := finitejson.Marshal(struct {
		optimization.Trial
		Extra map[string]float64 `json:"extra,omitempty"`
		Skip  string             `json:"-"`
		Empty []int              `json:"empty,omitempty"`
	}{Trial: tr, Extra: map[string]float64{"x": nan}, Skip: "no"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"number": 2, "params": null, "state": "", "values": [null, 1], "intermediate": [{"step": 1, "values": [null]}],
		"extra": {"x": null}}`, string(b))
}

func TestMarshalKeepsWhatEncodingJSONWrites(t *testing.T) {
	v := struct {
		When  time.Time       `json:"when"`
		Raw   json.RawMessage `json:"raw"`
		Bytes []byte          `json:"bytes"`
		Ptr   *float64        `json:"ptr"`
		F     float64         `json:"f,omitzero"`
	}{When: time.Unix(0, 0).UTC(), Raw: json.RawMessage(`{"a":1}`), Bytes: []byte("hi")}
	got, err := finitejson.Marshal(v)
	require.NoError(t, err)
	want, err := json.Marshal(v)
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(got))
}
