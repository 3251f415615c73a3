package modelexport

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/orrery-ml/orrery/shared/ml/modelexport/onnxpb"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/trees"
)

// treeRows are raw rows of 4 features (feature 1 missing in every 6th row)
// with labels in [0, classes) that depend on features 0, 1 and 3.
func treeRows(n, classes int) ([][]float64, []int) {
	rng := rand.New(rand.NewPCG(11, uint64(classes)))
	rows, ys := make([][]float64, n), make([]int, n)
	for i := range rows {
		r := []float64{rng.NormFloat64()*3 + 1, rng.NormFloat64() - 2, rng.NormFloat64() * 10, rng.Float64()}
		s := r[0]/3 + r[3]
		if i%6 == 0 {
			r[1] = math.NaN()
			s += 1
		} else {
			s += r[1] + 2
		}
		ys[i] = min(classes-1, max(0, int(math.Floor((s+1.5)/3*float64(classes)))))
		rows[i] = r
	}
	return rows, ys
}

// treeONNXModel trains a tree ensemble of kind on treeRows standardised
// as the training pipeline does (nn.Preprocessing.ApplyKeepMissing), so
// that thresholds lie on the standardised training values.
func treeONNXModel(t *testing.T, kind string, classes int, rows [][]float64, ys []int) *nn.Model {
	t.Helper()
	p := nn.Preprocessing{Impute: []float64{0, 0, 0, 0}, Mean: []float64{1, -2, 0.5, 0.5}, Scale: []float64{3, 1, 10, 0.3}}
	d := trees.Data{Features: 4, Classes: classes, Y: ys}
	for _, r := range rows {
		d.X = append(d.X, r...)
	}
	p.ApplyKeepMissing(d.X)
	var tm *trees.Model
	if kind == trees.KindBoosting {
		o := trees.DefaultBoostOptions()
		o.MaxIter = 30
		var err error
		tm, err = trees.Boost(context.Background(), d, trees.Data{}, o)
		require.NoError(t, err)
	} else {
		o := trees.DefaultForestOptions()
		o.NEstimators, o.MinSamplesLeaf = 25, 2
		res, err := trees.Forest(context.Background(), d, o)
		require.NoError(t, err)
		tm = res.Model
	}
	labels := make([]string, classes)
	for k := range labels {
		labels[k] = "c" + strconv.Itoa(k)
	}
	return &nn.Model{Manifest: nn.Manifest{ModelID: "t1", ModelType: kind, Features: []string{"a", "b", "c", "d"}, Classes: labels,
		Preprocessing: p}, Trees: tm}
}

func TestTreeONNXDecodes(t *testing.T) {
	rows, ys := treeRows(300, 3)
	m := treeONNXModel(t, trees.KindBoosting, 3, rows, ys)
	b, err := ONNX(m)
	require.NoError(t, err)
	var mp onnxpb.ModelProto
	require.NoError(t, proto.Unmarshal(b, &mp))
	domains := map[string]int64{}
	for _, o := range mp.GetOpsetImport() {
		domains[o.GetDomain()] = o.GetVersion()
	}
	assert.Equal(t, map[string]int64{"": Opset, MLDomain: MLOpset}, domains)
	var ops []string
	for _, n := range mp.GetGraph().GetNode() {
		if n.GetDomain() == MLDomain {
			ops = append(ops, n.GetOpType())
		}
	}
	assert.Equal(t, []string{"TreeEnsembleClassifier"}, ops)
	var outs []string
	for _, vi := range mp.GetGraph().GetOutput() {
		outs = append(outs, vi.GetName())
	}
	assert.Equal(t, []string{"p_c0", "p_c1", "p_c2"}, outs)
	again, err := ONNX(m)
	require.NoError(t, err)
	assert.Equal(t, b, again, "the encoding is deterministic")

	m.Manifest.Preprocessing.Missing = [][]float64{{-99}, nil, nil, nil}
	_, err = ONNX(m)
	require.True(t, errors.Is(err, ErrNotExportable), "%v", err)
	assert.ErrorContains(t, err, "sentinels")
}

// TestTreeONNXRunsInOnnxruntime exports boosted trees and forests, binary
// and multi-class, and checks with onnx's full checker and onnxruntime that
// the probabilities equal nn.Model.PredictProba's to 1e-5 on the training
// rows themselves — whose standardised values are the split thresholds, so
// a comparison done in float32 or with < instead of ≤ would show — and on
// rows with missing values.
func TestTreeONNXRunsInOnnxruntime(t *testing.T) {
	python := os.Getenv("ORRERY_TEST_ONNX_PYTHON")
	if python == "" {
		t.Skip("ORRERY_TEST_ONNX_PYTHON is unset: no Python with onnx and onnxruntime (make test sets it)")
	}
	cases := []struct {
		kind    string
		classes int
	}{{trees.KindBoosting, 2}, {trees.KindBoosting, 3}, {trees.KindForest, 2}, {trees.KindForest, 4}}
	dir := t.TempDir()
	const n = 400
	models := make([]*nn.Model, len(cases))
	inputs := make([]string, len(cases))
	rowsOf := make([][][]float64, len(cases))
	args := []string{"-c", treeCheckScript}
	for i, tc := range cases {
		rows, ys := treeRows(n, tc.classes)
		models[i] = treeONNXModel(t, tc.kind, tc.classes, rows, ys)
		b, err := ONNX(models[i])
		require.NoError(t, err)
		path := filepath.Join(dir, "m"+strconv.Itoa(i)+".onnx")
		require.NoError(t, os.WriteFile(path, b, 0o644))
		js := make([][]*float64, len(rows))
		for r, row := range rows {
			js[r] = make([]*float64, len(row))
			for j := range row {
				if !math.IsNaN(row[j]) {
					js[r][j] = &row[j]
				}
			}
		}
		raw, err := json.Marshal(js)
		require.NoError(t, err)
		inputs[i] = filepath.Join(dir, "rows"+strconv.Itoa(i)+".json")
		require.NoError(t, os.WriteFile(inputs[i], raw, 0o644))
		rowsOf[i] = rows
		args = append(args, inputs[i], path)
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
		t.Run(tc.kind+" "+strconv.Itoa(tc.classes)+" classes", func(t *testing.T) {
			m, res, rows := models[i], answers[i], rowsOf[i]
			assert.Equal(t, m.Manifest.Features, res.Inputs)
			assert.Equal(t, OutputNames(m), res.Outputs)
			require.Len(t, res.Proba, len(rows))
			x := make([]float64, 0, 4*len(rows))
			for _, r := range rows {
				x = append(x, r...)
			}
			want, err := m.PredictProba(t.Context(), x, len(rows))
			require.NoError(t, err)
			worst := 0.0
			for r := range rows {
				require.Len(t, res.Proba[r], tc.classes)
				for k := range tc.classes {
					worst = max(worst, math.Abs(res.Proba[r][k]-want[r*tc.classes+k]))
				}
			}
			assert.LessOrEqual(t, worst, 1e-5, "onnxruntime differs from PredictProba")
			t.Logf("%d rows, %d trees, largest difference %.2g", len(rows), len(m.Trees.Trees), worst)
		})
	}
}

// treeCheckScript is checkScript for pairs of arguments ROWS.json MODEL.onnx.
const treeCheckScript = `
import json, sys
import numpy as np, onnx, onnxruntime as ort
answers = []
for rows_path, path in zip(sys.argv[1::2], sys.argv[2::2]):
    x = np.array([[np.nan if v is None else v for v in r] for r in json.load(open(rows_path))], dtype=np.float64)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    outs = s.run(None, {i.name: x[:, j] for j, i in enumerate(s.get_inputs())})
    answers.append({"inputs": [i.name for i in s.get_inputs()], "outputs": [o.name for o in s.get_outputs()],
                    "proba": np.stack(outs, axis=1).tolist()})
print(json.dumps(answers))
`
