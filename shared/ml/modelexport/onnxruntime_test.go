package modelexport

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/orrery-ml/orrery/shared/ml/nn"
)

// checkScript runs onnx's full checker over the model and onnxruntime over
// the rows, printing the probabilities as JSON (NaN rows come as null and
// are sent as NaN).
const checkScript = `
import json, sys
import numpy as np, onnx, onnxruntime as ort
path, rows = sys.argv[1], json.load(open(sys.argv[2]))
onnx.checker.check_model(onnx.load(path), full_check=True)
x = np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=np.float64)
s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
print(json.dumps(s.run(["probabilities"], {"features": x})[0].tolist()))
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
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			net, err := nn.New(tc.spec, 7)
			if err != nil {
				t.Fatal(err)
			}
			m := &nn.Model{Manifest: nn.Manifest{ModelID: "m", Features: []string{"a", "b", "c", "d"},
				Preprocessing: nn.Preprocessing{Impute: []float64{0.5, -1, 2, 0}, Mean: []float64{0, 1, 2, 3}, Scale: []float64{3, 3, 2.5, 4}}}, Net: net}
			b, err := ONNX(m)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			model, input := filepath.Join(dir, "model.onnx"), filepath.Join(dir, "rows.json")
			js := make([][]*float64, len(rows))
			for i, r := range rows {
				js[i] = make([]*float64, len(r))
				for j := range r {
					if !math.IsNaN(r[j]) {
						js[i][j] = &r[j]
					}
				}
			}
			raw, _ := json.Marshal(js)
			if err := os.WriteFile(model, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(input, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.CommandContext(t.Context(), python, "-c", checkScript, model, input).Output()
			if err != nil {
				msg := ""
				if ee, ok := err.(*exec.ExitError); ok {
					msg = string(ee.Stderr)
				}
				t.Fatalf("onnx checker / onnxruntime: %v\n%s", err, msg)
			}
			var got [][]float64
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("decode %s: %v", out, err)
			}
			if len(got) != len(rows) {
				t.Fatalf("%d rows back, want %d", len(got), len(rows))
			}
			worst := 0.0
			for i, r := range rows {
				want, err := m.PredictProba(t.Context(), r, 1)
				if err != nil {
					t.Fatal(err)
				}
				if len(got[i]) != len(want) {
					t.Fatalf("row %d: %d probabilities, want %d", i, len(got[i]), len(want))
				}
				for k := range want {
					worst = max(worst, math.Abs(got[i][k]-want[k]))
				}
			}
			tol := 1e-9
			if tc.spec.Activation == nn.ActivationGELU {
				tol = 1e-6 // erf runs in float32 in onnxruntime
			}
			if worst > tol {
				t.Fatalf("onnxruntime differs from PredictProba by %g", worst)
			}
			t.Logf("%d rows, largest difference %.2g", len(rows), worst)
		})
	}
}
