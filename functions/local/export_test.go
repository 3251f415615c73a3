package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/modelexport"
	"github.com/orrery-ml/orrery/shared/ml/modelexport/onnxpb"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/tracking/mlflow"
)

// trainHTRU2 trains a small MLP on the bundled HTRU2 data and returns its id.
func trainHTRU2(t *testing.T, home string) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "cfg.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"epochs": 4, "hidden_layers": [16, 8], "activation": "gelu"}`), 0o644))
	code, out, errOut := runArgs(t, "train", "--data", "../../events/data/htru2.csv", "--target", "class", "--positive", "1",
		"--config", cfg, "--json", "--quiet", "--home", home)
	require.Equal(t, 0, code, errOut)
	var res struct {
		ModelID string `json:"model_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	return res.ModelID
}

func TestExportWritesONNXAndMLflowDirectories(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model on HTRU2")
	}
	home := filepath.Join(t.TempDir(), "home")
	id := trainHTRU2(t, home)
	dir := t.TempDir()

	code, out, errOut := runArgs(t, "export", "--model", id, "--out", dir, "--home", home)
	require.Equal(t, 0, code, errOut)
	path := strings.TrimSpace(out)
	assert.Equal(t, filepath.Join(dir, id+".onnx"), path, "an existing directory receives MODEL_ID.onnx")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var mp onnxpb.ModelProto
	require.NoError(t, proto.Unmarshal(b, &mp))
	assert.Len(t, mp.GetGraph().GetInput(), 8, "one input per HTRU2 feature")
	assert.Equal(t, "meanprof", mp.GetGraph().GetInput()[0].GetName())

	mdir := filepath.Join(dir, "mlflow-model")
	code, _, errOut = runArgs(t, "export", "--model", id, "--format", "mlflow", "--out", mdir,
		"--data", "../../events/data/htru2.csv", "--home", home)
	require.Equal(t, 0, code, errOut)
	onnxInDir, err := os.ReadFile(filepath.Join(mdir, modelexport.ONNXFile))
	require.NoError(t, err)
	assert.Equal(t, b, onnxInDir, "the MLflow directory holds the same ONNX file")
	var ex struct {
		Columns []string
		Data    [][]float64
	}
	raw, err := os.ReadFile(filepath.Join(mdir, modelexport.InputExampleFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &ex))
	require.Len(t, ex.Data, 5, "the first five rows of --data")
	assert.Equal(t, 140.5625, ex.Data[0][0], "HTRU2's first row")

	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"existing directory", []string{"export", "--model", id, "--format", "mlflow", "--out", mdir}, 1, "exists"},
		{"unknown format", []string{"export", "--model", id, "--format", "pmml"}, 2, `--format "pmml"`},
		{"no model", []string{"export", "--format", "onnx"}, 2, "--model is required"},
		{"unknown model", []string{"export", "--model", "mdl-absent", "--out", filepath.Join(dir, "x.onnx")}, 1, "mdl-absent"},
		{"data without mlflow", []string{"export", "--model", id, "--data", "x.csv"}, 2, "needs --format mlflow"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runArgs(t, append(tc.args, "--home", home)...)
			assert.Equal(t, tc.code, code, errOut)
			assert.Contains(t, errOut, tc.want)
		})
	}
	_, err = os.Stat(filepath.Join(dir, "x.onnx"))
	assert.True(t, os.IsNotExist(err), "a failed export writes nothing")
}

// registryScript loads the champion version of the registered model through
// MLflow's registry (models:/NAME@champion) with mlflow.pyfunc and predicts
// the test-split CSV; it also runs the downloaded model.onnx with plain
// onnxruntime, one feature column per input. It prints both as JSON.
const registryScript = `
import json, os, sys
import numpy as np, pandas as pd, mlflow, onnxruntime as ort
name, data = sys.argv[1], sys.argv[2]
uri = "models:/" + name + "@champion"
df = pd.read_csv(data)
pyfunc = mlflow.pyfunc.load_model(uri).predict(df)
local = mlflow.artifacts.download_artifacts(uri)
s = ort.InferenceSession(os.path.join(local, "model.onnx"), providers=["CPUExecutionProvider"])
outs = s.run(None, {i.name: df[i.name].to_numpy(dtype=np.float64) for i in s.get_inputs()})
print(json.dumps({"columns": list(pyfunc.columns), "pyfunc": pyfunc.values.tolist(),
                  "ort_outputs": [o.name for o in s.get_outputs()], "ort": np.stack(outs, axis=1).tolist()}))
`

// TestMLflowRegistryModelPredictsLikeOrrery is the bar: an HTRU2
// model logged to a real MLflow server in MLflow's model format, registered
// as a model version with alias champion, loads in Python with
// mlflow.pyfunc.load_model("models:/<name>@champion") and predicts HTRU2's
// test split with the probabilities of `orrery predict` to 1e-5; so does
// plain onnxruntime on the logged model.onnx.
func TestMLflowRegistryModelPredictsLikeOrrery(t *testing.T) {
	uri, python := os.Getenv("ORRERY_TEST_MLFLOW_URI"), os.Getenv("ORRERY_TEST_ONNX_PYTHON")
	if uri == "" || python == "" {
		t.Skip("ORRERY_TEST_MLFLOW_URI or ORRERY_TEST_ONNX_PYTHON is unset: no MLflow server or Python with mlflow (make test starts and sets both)")
	}
	if testing.Short() {
		t.Skip("trains a model on HTRU2")
	}
	ctx := t.Context()
	home := filepath.Join(t.TempDir(), "home")
	id := trainHTRU2(t, home)

	// HTRU2's test split, rebuilt as training drew it, as a CSV.
	rt, err := openRuntime(ctx, home, nil)
	require.NoError(t, err)
	mdir, err := rt.ModelDir(ctx, id)
	require.NoError(t, err)
	model, err := nn.LoadDir(mdir)
	require.NoError(t, err)
	require.NoError(t, rt.Close())
	var cfg training.TrainingConfig
	require.NoError(t, json.Unmarshal(model.Manifest.TrainingConfig, &cfg))
	cfg, err = cfg.Normalize()
	require.NoError(t, err)
	table, err := dataset.Read(ctx, "../../events/data/htru2.csv")
	require.NoError(t, err)
	prep, err := cfg.PrepareData(table, nil)
	require.NoError(t, err)
	test := prep.Split.Test
	require.Greater(t, test.Rows, 1000, "HTRU2's test split")
	testCSV := filepath.Join(t.TempDir(), "htru2-test.csv")
	f, err := os.Create(testCSV)
	require.NoError(t, err)
	w := csv.NewWriter(f)
	require.NoError(t, w.Write(test.FeatureNames))
	d := len(test.FeatureNames)
	for i := range test.Rows {
		rec := make([]string, d)
		for j := range d {
			rec[j] = strconv.FormatFloat(test.X[i*d+j], 'g', -1, 64)
		}
		require.NoError(t, w.Write(rec))
	}
	w.Flush()
	require.NoError(t, w.Error())
	require.NoError(t, f.Close())

	// orrery predict on the test split.
	predCSV := filepath.Join(t.TempDir(), "pred.csv")
	code, _, errOut := runArgs(t, "predict", "--model", id, "--data", testCSV, "--out", predCSV, "--home", home)
	require.Equal(t, 0, code, errOut)
	pf, err := os.Open(predCSV)
	require.NoError(t, err)
	predRows, err := csv.NewReader(pf).ReadAll()
	require.NoError(t, err)
	pf.Close()
	require.Equal(t, []string{"row", "predicted", "p_0", "p_1"}, predRows[0])
	require.Len(t, predRows, test.Rows+1)

	// Log the MLflow model directory to a run, register it, alias champion.
	mlf, err := mlflow.NewFromEnv(uri)
	require.NoError(t, err)
	name := fmt.Sprintf("orrery-htru2-%d", time.Now().UnixNano())
	exp, err := mlf.ExperimentID(ctx, name)
	require.NoError(t, err)
	run, err := mlf.CreateRun(ctx, exp, "train "+id, "", time.Now().UnixMilli(), nil)
	require.NoError(t, err)
	files, err := modelexport.MLflowModel(model, modelexport.MLflowOptions{RunID: run, ArtifactPath: "model"})
	require.NoError(t, err)
	for fname, b := range files {
		require.NoError(t, mlf.UploadArtifact(ctx, exp, run, "model/"+fname, b))
	}
	require.NoError(t, mlf.UpdateRun(ctx, run, "FINISHED", time.Now().UnixMilli()))
	version, err := mlf.CreateModelVersion(ctx, name, "runs:/"+run+"/model", run)
	require.NoError(t, err)
	require.NoError(t, mlf.SetAlias(ctx, name, "champion", version))

	cmd := exec.CommandContext(ctx, python, "-c", registryScript, name, testCSV)
	cmd.Env = append(os.Environ(), "MLFLOW_TRACKING_URI="+uri)
	out, err := cmd.Output()
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	}
	require.NoError(t, err, "python: %s", stderr)
	var res struct {
		Columns    []string
		PyFunc     [][]float64 `json:"pyfunc"`
		ORTOutputs []string    `json:"ort_outputs"`
		ORT        [][]float64 `json:"ort"`
	}
	require.NoError(t, json.Unmarshal(out, &res), "%s", out)
	assert.Equal(t, []string{"p_0", "p_1"}, res.Columns)
	assert.Equal(t, []string{"p_0", "p_1"}, res.ORTOutputs)
	require.Len(t, res.PyFunc, test.Rows)
	require.Len(t, res.ORT, test.Rows)
	var worstPyfunc, worstORT float64
	for i, rec := range predRows[1:] {
		for k := range 2 {
			want, err := strconv.ParseFloat(rec[2+k], 64)
			require.NoError(t, err)
			worstPyfunc = max(worstPyfunc, math.Abs(res.PyFunc[i][k]-want))
			worstORT = max(worstORT, math.Abs(res.ORT[i][k]-want))
		}
	}
	assert.LessOrEqual(t, worstPyfunc, 1e-5, "mlflow.pyfunc differs from orrery predict")
	assert.LessOrEqual(t, worstORT, 1e-5, "onnxruntime differs from orrery predict")
	t.Logf("%d test rows of HTRU2: largest difference from orrery predict: pyfunc %.2g, onnxruntime %.2g",
		test.Rows, worstPyfunc, worstORT)
}
