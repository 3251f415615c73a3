package serving_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/serving"
)

// benchPredictor is the default MLP's shape (8 inputs, 64 and 32 hidden)
// over the HTRU2 features.
func benchPredictor(b *testing.B) (*serving.Predictor, []string) {
	b.Helper()
	names := []string{"meanprof", "sd-prof", "exk-prof", "skewness-prof", "meandmsnr", "sd-dmsnr", "exk-dmsnr", "skewness-dmsnr"}
	spec := nn.Spec{ModelType: nn.ModelMLP, Inputs: 8, Hidden: []int{64, 32}, Outputs: 1, Activation: nn.ActivationReLU}
	net, err := nn.New(spec, 1)
	require.NoError(b, err)
	pre := nn.Preprocessing{Impute: make([]float64, 8), Mean: make([]float64, 8), Scale: make([]float64, 8)}
	for j := range pre.Scale {
		pre.Scale[j] = 1
	}
	p, err := serving.NewPredictor("mdl-b", &nn.Model{Net: net, Manifest: nn.Manifest{ModelID: "mdl-b", ModelType: nn.ModelMLP,
		Architecture: spec, Features: names, Classes: []string{"0", "1"}, Threshold: 0.5, Preprocessing: pre}}, serving.Limits{})
	require.NoError(b, err)
	return p, names
}

// BenchmarkPredictBody measures decoding, validating and predicting one
// 100-row request, as instances by name and as rows.
func BenchmarkPredictBody(b *testing.B) {
	p, names := benchPredictor(b)
	var instances []map[string]float64
	var rows [][]float64
	for i := range 100 {
		inst, row := map[string]float64{}, []float64{}
		for j, n := range names {
			v := float64(i*8+j) * 1.37
			inst[n] = v
			row = append(row, v)
		}
		instances, rows = append(instances, inst), append(rows, row)
	}
	for _, kind := range []string{"instances", "rows"} {
		var body []byte
		var err error
		if kind == "instances" {
			body, err = json.Marshal(map[string]any{"instances": instances})
		} else {
			body, err = json.Marshal(map[string]any{"rows": rows})
		}
		require.NoError(b, err)
		b.Run(kind, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				res, err := p.PredictBody(b.Context(), body)
				if err != nil || len(res.Predictions) != 100 {
					b.Fatal(err, len(res.Predictions))
				}
			}
		})
		b.Run(kind+"/encode", func(b *testing.B) {
			res, err := p.PredictBody(b.Context(), body)
			require.NoError(b, err)
			resp := serving.PredictResponse{Endpoint: "e", ModelID: "mdl-b", Predictions: res.Predictions}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := json.Marshal(resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
