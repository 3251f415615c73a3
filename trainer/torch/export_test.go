//go:build torch

package torch

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/modelexport"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
)

// onnxScript runs onnxruntime over the rows in argv[1] (feature j fed to
// the j-th input) with the model in argv[2] and prints the probabilities,
// one row per input row, as JSON.
const onnxScript = `
import json, sys
import numpy as np, onnxruntime as ort
x = np.array(json.load(open(sys.argv[1])), dtype=np.float64)
s = ort.InferenceSession(sys.argv[2], providers=["CPUExecutionProvider"])
outs = s.run(None, {i.name: x[:, j] for j, i in enumerate(s.get_inputs())})
print(json.dumps(np.stack(outs, axis=1).tolist()))
`

// TestTorchModelExportsToONNX: a network the libtorch backend trained,
// saved in the shared model format, exports to ONNX like a gonum-trained one
// ("both backends' models export"), and onnxruntime's probabilities equal
// the shared predict code's to 1e-6.
func TestTorchModelExportsToONNX(t *testing.T) {
	python := os.Getenv("ORRERY_TEST_ONNX_PYTHON")
	if python == "" {
		t.Skip("ORRERY_TEST_ONNX_PYTHON is unset: no Python with onnxruntime (make test sets it)")
	}
	cfg := training.Defaults()
	cfg.Epochs, cfg.HiddenLayers, cfg.Activation = 2, []int{8, 4}, "gelu"
	h := loadHTRU2(t, cfg)
	res, err := Trainer{}.Train(context.Background(), h.in)
	require.NoError(t, err)

	features := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	dir := filepath.Join(t.TempDir(), "model")
	model := &nn.Model{Manifest: nn.Manifest{ModelID: "mdl-torch", Name: "htru2", ModelType: cfg.ModelType, Backend: Backend,
		Architecture: res.Spec, Features: features, Target: "class",
		Classes: []string{"0", "1"}, PositiveClass: "1", Threshold: 0.5,
		Preprocessing: nn.Preprocessing{Impute: make([]float64, 8), Mean: make([]float64, 8), Scale: ones(8)}}, Net: res.Net}
	require.NoError(t, nn.SaveDir(dir, model))
	loaded, err := nn.LoadDir(dir)
	require.NoError(t, err)

	onnx, err := modelexport.ONNX(loaded)
	require.NoError(t, err)
	onnxPath := filepath.Join(t.TempDir(), "model.onnx")
	require.NoError(t, os.WriteFile(onnxPath, onnx, 0o644))

	val := h.in.Validation
	n := min(val.Rows, 500)
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = val.X[i*len(features) : (i+1)*len(features)]
	}
	raw, err := json.Marshal(rows)
	require.NoError(t, err)
	rowsPath := filepath.Join(t.TempDir(), "rows.json")
	require.NoError(t, os.WriteFile(rowsPath, raw, 0o644))
	out, err := exec.CommandContext(t.Context(), python, "-c", onnxScript, rowsPath, onnxPath).Output()
	require.NoError(t, err, "onnxruntime: %s", exitStderr(err))
	var got [][]float64
	require.NoError(t, json.Unmarshal(out, &got))
	require.Len(t, got, n)

	want, err := loaded.PredictProba(context.Background(), val.X[:n*len(features)], n)
	require.NoError(t, err)
	for i := range got {
		require.Len(t, got[i], 2, "one output per class")
		for c := range 2 {
			require.InDelta(t, want[2*i+c], got[i][c], 1e-6, "row %d class %d", i, c)
		}
	}
}

func exitStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
