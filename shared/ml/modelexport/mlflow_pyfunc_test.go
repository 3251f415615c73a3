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
	"github.com/orrery-ml/orrery/shared/ml/trees"
)

// pyfuncScript loads each MLflow model directory with mlflow.pyfunc and
// predicts a DataFrame of the rows whose columns are the features in reverse
// order plus a column the model does not use (the pyfunc feeds inputs by
// name), then the model's own input example; it prints the answers (one
// Python process for every model: importing mlflow takes seconds), and
// the serving payload through MLflow's serving-input validation.
const pyfuncScript = `
import json, os, sys, warnings
import numpy as np, pandas as pd, mlflow
from mlflow.models import Model, validate_serving_input
rows, answers = json.load(open(sys.argv[1])), []
for path in sys.argv[2:]:
    model = mlflow.pyfunc.load_model(path)
    cols = [c["name"] for c in model.metadata.get_input_schema().to_dict()]
    df = pd.DataFrame([[np.nan if v is None else v for v in r] for r in rows], columns=cols, dtype=np.float64)
    df = df[cols[::-1]].assign(unused=1.5)
    out = model.predict(df)
    ex = model.predict(Model.load(path).load_input_example(path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated for mlflow.models.predict, which builds an environment
        served = validate_serving_input(path, open(os.path.join(path, "serving_input_example.json")).read())
    answers.append({"columns": list(out.columns), "proba": out.values.tolist(),
                    "example_rows": len(ex), "example_columns": list(ex.columns),
                    "served": pd.DataFrame(served).values.tolist(), "example": ex.values.tolist()})
print(json.dumps(answers))
`

// TestMLflowModelLoadsInPyfunc writes the MLflow model directory of a
// multi-class GELU network, a binary ReLU network, multi-class boosted
// trees and a binary random forest, loads each with
// MLflow 3.17.2's pyfunc (onnx flavour, run by onnxruntime) and checks that
// predict(df) returns the p_<label> columns equal to nn.Model.PredictProba
// (NaN imputed), and that the saved input example loads and predicts.
func TestMLflowModelLoadsInPyfunc(t *testing.T) {
	python := os.Getenv("ORRERY_TEST_ONNX_PYTHON")
	if python == "" {
		t.Skip("ORRERY_TEST_ONNX_PYTHON is unset: no Python with mlflow and onnxruntime (make test sets it)")
	}
	features := []string{"mean_ip", "sd ip", "kurtosis:ip"}
	rng := rand.New(rand.NewPCG(5, 6))
	rows := make([][]float64, 25)
	for i := range rows {
		rows[i] = []float64{rng.NormFloat64()*2 + 1, rng.NormFloat64() + 2, rng.NormFloat64()*3 + 3}
	}
	rows[3][0], rows[11][2] = math.NaN(), math.NaN()
	cases := []struct {
		name    string
		spec    nn.Spec
		classes []string
		tol     float64
		kind    string // a tree ensemble's model type; "" for the network of spec
	}{
		{"relu binary", nn.Spec{ModelType: nn.ModelMLP, Inputs: 3, Hidden: []int{6}, Outputs: 1, Activation: nn.ActivationReLU}, []string{"noise", "pulsar"}, 1e-12, ""},
		{"gelu three classes", nn.Spec{ModelType: nn.ModelMLP, Inputs: 3, Hidden: []int{5, 4}, Outputs: 3, Activation: nn.ActivationGELU}, []string{"a", "b", "c"}, 1e-6, ""},
		{"boosted trees three classes", nn.Spec{}, []string{"a", "b", "c"}, 1e-5, trees.KindBoosting},
		{"random forest binary", nn.Spec{}, []string{"noise", "pulsar"}, 1e-5, trees.KindForest},
	}
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
	input := filepath.Join(t.TempDir(), "rows.json")
	require.NoError(t, os.WriteFile(input, raw, 0o644))
	args := []string{"-c", pyfuncScript, input}
	models := make([]*nn.Model, len(cases))
	for i, tc := range cases {
		if tc.kind != "" {
			models[i] = pyfuncTreeModel(t, tc.kind, features, tc.classes)
		} else {
			models[i] = testModel(t, tc.spec, features, tc.classes)
		}
		files, err := MLflowModel(models[i], MLflowOptions{})
		require.NoError(t, err)
		dir := filepath.Join(t.TempDir(), "model")
		require.NoError(t, os.Mkdir(dir, 0o755))
		for name, b := range files {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
		}
		args = append(args, dir)
	}
	out, err := exec.CommandContext(t.Context(), python, args...).Output()
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	}
	require.NoError(t, err, "mlflow pyfunc: %s", stderr)
	var answers []struct {
		Columns        []string
		Proba          [][]float64
		ExampleRows    int         `json:"example_rows"`
		ExampleColumns []string    `json:"example_columns"`
		Served         [][]float64 `json:"served"`
		Example        [][]float64 `json:"example"`
	}
	require.NoError(t, json.Unmarshal(out, &answers), "%s", out)
	require.Len(t, answers, len(cases))
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, res := models[i], answers[i]
			assert.Equal(t, OutputNames(m), res.Columns)
			assert.Equal(t, 3, res.ExampleRows)
			assert.Equal(t, OutputNames(m), res.ExampleColumns)
			assert.Equal(t, res.Example, res.Served, "the serving payload is the input example, scored alike")
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
			assert.LessOrEqual(t, worst, tc.tol, "pyfunc differs from PredictProba")
			t.Logf("%d rows, largest difference %.2g", len(rows), worst)
		})
	}
}

// pyfuncTreeModel trains a small tree ensemble of kind on 3 features and
// wraps it like testModel (standardisation, no sentinels).
func pyfuncTreeModel(t *testing.T, kind string, features, classes []string) *nn.Model {
	t.Helper()
	rng := rand.New(rand.NewPCG(8, 9))
	d := trees.Data{Features: len(features), Classes: len(classes)}
	for i := range 500 {
		y := i % len(classes)
		for j := range features {
			v := rng.NormFloat64() + float64(y*(j+1))
			if i%9 == j {
				v = math.NaN()
			}
			d.X = append(d.X, v)
		}
		d.Y = append(d.Y, y)
	}
	var tm *trees.Model
	if kind == trees.KindBoosting {
		o := trees.DefaultBoostOptions()
		o.MaxIter = 20
		var err error
		tm, err = trees.Boost(t.Context(), d, trees.Data{}, o)
		require.NoError(t, err)
	} else {
		o := trees.DefaultForestOptions()
		o.NEstimators = 20
		res, err := trees.Forest(t.Context(), d, o)
		require.NoError(t, err)
		tm = res.Model
	}
	m := testModel(t, nn.Spec{ModelType: nn.ModelLogisticRegression, Inputs: len(features), Outputs: 1}, features, classes)
	m.Manifest.ModelType, m.Net, m.Trees = kind, nil, tm
	return m
}
