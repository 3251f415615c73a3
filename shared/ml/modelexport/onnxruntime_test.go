package modelexport

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/nn"
)

// checkScript runs onnx's full checker over each model and onnxruntime over
// the rows (column j fed to the j-th input; NaN comes as null), printing per
// model the input and output names and the probabilities, one row per input
// row, as JSON — in one Python process, as importing the libraries takes
// seconds.
const checkScript = `
import json, sys
import numpy as np, onnx, onnxruntime as ort
rows, answers = json.load(open(sys.argv[1])), []
x = np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=np.float64)
for path in sys.argv[2:]:
    onnx.checker.check_model(onnx.load(path), full_check=True)
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    outs = s.run(None, {i.name: x[:, j] for j, i in enumerate(s.get_inputs())})
    answers.append({"inputs": [i.name for i in s.get_inputs()], "outputs": [o.name for o in s.get_outputs()],
                    "proba": np.stack(outs, axis=1).tolist()})
print(json.dumps(answers))
`

// TestONNXRunsInOnnxruntime exports networks of every model type and hidden
// activation, binary and multi-class, and checks that the exported file
// passes onnx's full checker and that onnxruntime's probabilities equal
// nn.Model.PredictProba's, NaN inputs (imputed) included.
func TestONNXRunsInOnnxruntime(t *testing.T) {
	python := os.Getenv("ORRERY_TEST_ONNX_PYTHON")
	if python == "" {
		t.Skip("ORRERY_TEST_ONNX_PYTHON is unset: no Python with onnx and onnxruntime (make test sets it)")
	}
	cases := []struct {
		name string
		spec nn.Spec
	}{
		{"relu binary", nn.Spec{ModelType: nn.ModelMLP, Inputs: 4, Hidden: []int{8, 5}, Outputs: 1, Activation: nn.ActivationReLU}},
		{"tanh binary", nn.Spec{ModelType: nn.ModelMLP, Inputs: 4, Hidden: []int{6}, Outputs: 1, Activation: nn.ActivationTanh}},
		{"gelu three classes", nn.Spec{ModelType: nn.ModelMLP, Inputs: 4, Hidden: []int{7, 3}, Outputs: 3, Activation: nn.ActivationGELU}},
		{"sigmoid four classes", nn.Spec{ModelType: nn.ModelMLP, Inputs: 4, Hidden: []int{5}, Outputs: 4, Activation: nn.ActivationSigmoid}},
		{"logistic regression", nn.Spec{ModelType: nn.ModelLogisticRegression, Inputs: 4, Outputs: 1}},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	rows := make([][]float64, 40)
	for i := range rows {
		rows[i] = make([]float64, 4)
		for j := range rows[i] {
			rows[i][j] = rng.NormFloat64()*3 + float64(j)
		}
	}
	rows[5][1], rows[17][3] = math.NaN(), math.NaN()
	js := make([][]*float64, len(rows))
	for i, r := range rows {
		js[i] = make([]*float64, len(r))
		for j := range r {
			if !math.IsNaN(r[j]) {
				js[i][j] = &r[j]
			}
		}
	}
	raw, err := json.Marshal(js)
	require.NoError(t, err)
	dir := t.TempDir()
	input := filepath.Join(dir, "rows.json")
	require.NoError(t, os.WriteFile(input, raw, 0o644))

	args := []string{"-c", checkScript, input}
	models := make([]*nn.Model, len(cases))
	for i, tc := range cases {
		net, err := nn.New(tc.spec, 7)
		require.NoError(t, err)
		models[i] = &nn.Model{Manifest: nn.Manifest{ModelID: "m", Features: []string{"a", "b", "c", "d"},
			Preprocessing: nn.Preprocessing{Impute: []float64{0.5, -1, 2, 0}, Mean: []float64{0, 1, 2, 3}, Scale: []float64{3, 3, 2.5, 4}}}, Net: net}
		b, err := ONNX(models[i])
		require.NoError(t, err, tc.name)
		path := filepath.Join(dir, filepath.Base(t.Name())+string(rune('a'+i))+".onnx")
		require.NoError(t, os.WriteFile(path, b, 0o644))
		args = append(args, path)
	}
	out, err := exec.CommandContext(t.Context(), python, args...).Output()
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	}
	require.NoError(t, err, "onnx checker / onnxruntime: %s", stderr)
	var answers []struct {
		Inputs, Outputs []string
		Proba           [][]float64
	}
	require.NoError(t, json.Unmarshal(out, &answers), "%s", out)
	require.Len(t, answers, len(cases))
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, res := models[i], answers[i]
			assert.Equal(t, m.Manifest.Features, res.Inputs)
			assert.Equal(t, OutputNames(m), res.Outputs)
			require.Len(t, res.Proba, len(rows))
			worst := 0.0
			for i, r := range rows {
				want, err := m.PredictProba(t.Context(), r, 1)
				require.NoError(t, err)
				require.Len(t, res.Proba[i], len(want))
				for k := range want {
					worst = max(worst, math.Abs(res.Proba[i][k]-want[k]))
				}
			}
			tol := 1e-9
			if tc.spec.Activation == nn.ActivationGELU {
				tol = 1e-6 // erf runs in float32 in onnxruntime
			}
			assert.LessOrEqual(t, worst, tol, "onnxruntime differs from PredictProba")
			t.Logf("%d rows, largest difference %.2g", len(rows), worst)
		})
	}
}
