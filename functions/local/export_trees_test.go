package main

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/modelexport"
)

// treeORTScript runs an exported model.onnx with plain onnxruntime on a
// CSV's feature columns (one per input, by name) and prints the outputs'
// names and the probabilities as JSON.
const treeORTScript = `
import json, sys
import numpy as np, onnx, onnxruntime as ort
import csv
model, data = sys.argv[1], sys.argv[2]
onnx.checker.check_model(onnx.load(model), full_check=True)
rows = list(csv.DictReader(open(data)))
s = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
feed = {i.name: np.array([float(r[i.name]) if r[i.name] != "" else np.nan for r in rows]) for i in s.get_inputs()}
outs = s.run(None, feed)
print(json.dumps({"outputs": [o.name for o in s.get_outputs()], "proba": np.stack(outs, axis=1).tolist()}))
`

// TestExportTreeModelPredictsLikeOrrery trains boosted trees and a random
// forest on HTRU2 with orrery train, exports each with orrery export
// (--format onnx and --format mlflow) and checks that onnxruntime's
// probabilities on 2,000 HTRU2 rows (some with a missing value) equal
// orrery predict's to 1e-5.
func TestExportTreeModelPredictsLikeOrrery(t *testing.T) {
	python := os.Getenv("ORRERY_TEST_ONNX_PYTHON")
	if python == "" {
		t.Skip("ORRERY_TEST_ONNX_PYTHON is unset: no Python with onnx and onnxruntime (make test sets it)")
	}
	if testing.Short() {
		t.Skip("trains tree models on HTRU2")
	}
	// 2,000 HTRU2 rows without the label, every 50th missing a value.
	src, err := os.Open("../../events/data/htru2.csv")
	require.NoError(t, err)
	all, err := csv.NewReader(src).ReadAll()
	require.NoError(t, err)
	src.Close()
	d := len(all[0]) - 1
	dataCSV := filepath.Join(t.TempDir(), "rows.csv")
	f, err := os.Create(dataCSV)
	require.NoError(t, err)
	w := csv.NewWriter(f)
	require.NoError(t, w.Write(all[0][:d]))
	const n = 2000
	for i, rec := range all[1 : n+1] {
		row := append([]string(nil), rec[:d]...)
		if i%50 == 0 {
			row[i%d] = ""
		}
		require.NoError(t, w.Write(row))
	}
	w.Flush()
	require.NoError(t, w.Error())
	require.NoError(t, f.Close())

	for _, cfgJSON := range []string{
		`{"model_type": "gradient_boosting", "max_iter": 40}`,
		`{"model_type": "random_forest", "n_estimators": 30}`,
	} {
		t.Run(strings.Split(cfgJSON, `"`)[3], func(t *testing.T) {
			home := filepath.Join(t.TempDir(), "home")
			cfg := filepath.Join(t.TempDir(), "cfg.json")
			require.NoError(t, os.WriteFile(cfg, []byte(cfgJSON), 0o644))
			code, out, errOut := runArgs(t, "train", "--data", "../../events/data/htru2.csv", "--target", "class", "--positive", "1",
				"--config", cfg, "--json", "--quiet", "--home", home)
			require.Equal(t, 0, code, errOut)
			var res struct {
				ModelID string `json:"model_id"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &res), out)
			id := res.ModelID

			dir := t.TempDir()
			onnxPath := filepath.Join(dir, "model.onnx")
			code, _, errOut = runArgs(t, "export", "--model", id, "--format", "onnx", "--out", onnxPath, "--home", home)
			require.Equal(t, 0, code, errOut)
			mdir := filepath.Join(dir, "mlflow-model")
			code, _, errOut = runArgs(t, "export", "--model", id, "--format", "mlflow", "--out", mdir, "--data", dataCSV, "--home", home)
			require.Equal(t, 0, code, errOut)
			inDir, err := os.ReadFile(filepath.Join(mdir, modelexport.ONNXFile))
			require.NoError(t, err)
			single, err := os.ReadFile(onnxPath)
			require.NoError(t, err)
			assert.Equal(t, single, inDir, "the MLflow directory holds the same ONNX file")

			predCSV := filepath.Join(dir, "pred.csv")
			code, _, errOut = runArgs(t, "predict", "--model", id, "--data", dataCSV, "--out", predCSV, "--home", home)
			require.Equal(t, 0, code, errOut)
			pf, err := os.Open(predCSV)
			require.NoError(t, err)
			pred, err := csv.NewReader(pf).ReadAll()
			require.NoError(t, err)
			pf.Close()
			require.Equal(t, []string{"row", "predicted", "p_0", "p_1"}, pred[0])
			require.Len(t, pred, n+1)

			cmd := exec.CommandContext(t.Context(), python, "-c", treeORTScript, onnxPath, dataCSV)
			raw, err := cmd.Output()
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			require.NoError(t, err, "onnxruntime: %s", stderr)
			var ort struct {
				Outputs []string
				Proba   [][]float64
			}
			require.NoError(t, json.Unmarshal(raw, &ort), "%s", raw)
			assert.Equal(t, []string{"p_0", "p_1"}, ort.Outputs)
			require.Len(t, ort.Proba, n)
			worst := 0.0
			for i, rec := range pred[1:] {
				for k := range 2 {
					want, err := strconv.ParseFloat(rec[2+k], 64)
					require.NoError(t, err)
					worst = max(worst, math.Abs(ort.Proba[i][k]-want))
				}
			}
			assert.LessOrEqual(t, worst, 1e-5, "onnxruntime differs from orrery predict")
			t.Logf("%d HTRU2 rows: largest difference from orrery predict %.2g", n, worst)
		})
	}
}
