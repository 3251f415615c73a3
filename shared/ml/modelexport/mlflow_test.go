package modelexport

import (
	"bufio"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/orrery-ml/orrery/shared/ml/nn"
)

func TestMLflowModelFiles(t *testing.T) {
	spec := nn.Spec{ModelType: nn.ModelMLP, Inputs: 3, Hidden: []int{4}, Outputs: 1, Activation: nn.ActivationTanh}
	m := testModel(t, spec, []string{"mean_ip", "sd: ip", `"skew"`}, []string{"0", "1"})
	m.Manifest.CreatedAt = time.Date(2026, 3, 4, 5, 6, 7, 891000, time.UTC)
	files, err := MLflowModel(m, MLflowOptions{RunID: "r123", ArtifactPath: "model"})
	require.NoError(t, err)
	for _, f := range []string{MLmodelFile, ONNXFile, InputExampleFile, ServingExampleFile, CondaFile, PythonEnvFile, RequirementsFile} {
		assert.NotEmpty(t, files[f], f)
	}
	assert.Len(t, files, 7)

	var mm struct {
		ArtifactPath string `yaml:"artifact_path"`
		RunID        string `yaml:"run_id"`
		Flavors      struct {
			ONNX struct {
				Data        string   `yaml:"data"`
				ONNXVersion string   `yaml:"onnx_version"`
				Providers   []string `yaml:"providers"`
			} `yaml:"onnx"`
			PyFunc struct {
				Data         string            `yaml:"data"`
				LoaderModule string            `yaml:"loader_module"`
				Env          map[string]string `yaml:"env"`
			} `yaml:"python_function"`
		} `yaml:"flavors"`
		Signature struct {
			Inputs  string `yaml:"inputs"`
			Outputs string `yaml:"outputs"`
		} `yaml:"signature"`
		Example map[string]string `yaml:"saved_input_example_info"`
		Created string            `yaml:"utc_time_created"`
		Size    int               `yaml:"model_size_bytes"`
	}
	require.NoError(t, yaml.Unmarshal(files[MLmodelFile], &mm), "%s", files[MLmodelFile])
	assert.Equal(t, "model", mm.ArtifactPath)
	assert.Equal(t, "r123", mm.RunID)
	assert.Equal(t, ONNXFile, mm.Flavors.ONNX.Data)
	assert.Equal(t, ONNXVersion, mm.Flavors.ONNX.ONNXVersion)
	assert.Equal(t, []string{"CPUExecutionProvider"}, mm.Flavors.ONNX.Providers)
	assert.Equal(t, "mlflow.onnx", mm.Flavors.PyFunc.LoaderModule)
	assert.Equal(t, ONNXFile, mm.Flavors.PyFunc.Data)
	assert.Equal(t, map[string]string{"conda": CondaFile, "virtualenv": PythonEnvFile}, mm.Flavors.PyFunc.Env)
	assert.Equal(t, "2026-03-04 05:06:07.000891", mm.Created)
	assert.Equal(t, len(files[ONNXFile])+len(files[InputExampleFile])+len(files[ServingExampleFile]), mm.Size)
	assert.Equal(t, map[string]string{"artifact_path": InputExampleFile, "pandas_orient": "split",
		"serving_input_path": ServingExampleFile, "type": "dataframe"}, mm.Example)

	type col struct {
		Type, Name string
		Required   bool
	}
	var ins, outs []col
	require.NoError(t, json.Unmarshal([]byte(mm.Signature.Inputs), &ins))
	require.NoError(t, json.Unmarshal([]byte(mm.Signature.Outputs), &outs))
	assert.Equal(t, []col{{"double", "mean_ip", true}, {"double", "sd: ip", true}, {"double", `"skew"`, true}}, ins)
	assert.Equal(t, []col{{"double", "p_0", true}, {"double", "p_1", true}}, outs)

	var ex struct {
		Columns []string
		Data    [][]float64
	}
	require.NoError(t, json.Unmarshal(files[InputExampleFile], &ex))
	assert.Equal(t, m.Manifest.Features, ex.Columns)
	require.Len(t, ex.Data, 3)
	assert.Equal(t, []float64{0, 0, 0}, ex.Data[0], "the imputation values")
	assert.Equal(t, []float64{-1, -1, -1}, ex.Data[1], "means minus one scale")
	assert.Equal(t, []float64{1, 3, 5}, ex.Data[2], "means plus one scale")
	var serving struct {
		Split json.RawMessage `json:"dataframe_split"`
	}
	require.NoError(t, json.Unmarshal(files[ServingExampleFile], &serving))
	assert.JSONEq(t, string(files[InputExampleFile]), string(serving.Split))

	again, err := MLflowModel(m, MLflowOptions{RunID: "r123", ArtifactPath: "model"})
	require.NoError(t, err)
	assert.Equal(t, files, again, "the same model gives the same files")
	bare, err := MLflowModel(m, MLflowOptions{})
	require.NoError(t, err)
	assert.NotContains(t, string(bare[MLmodelFile]), "run_id")
	assert.NotRegexp(t, `(?m)^artifact_path:`, string(bare[MLmodelFile]))
}

func TestMLflowModelRefusesBadExamples(t *testing.T) {
	spec := nn.Spec{ModelType: nn.ModelLogisticRegression, Inputs: 2, Outputs: 1}
	m := testModel(t, spec, []string{"a", "b"}, []string{"0", "1"})
	for name, rows := range map[string][][]float64{
		"no rows":        {},
		"short row":      {{1, 2}, {3}},
		"infinite value": {{1, math.Inf(1)}},
	} {
		t.Run(name, func(t *testing.T) {
			files, err := MLflowModel(m, MLflowOptions{Example: rows})
			assert.True(t, errors.Is(err, ErrBadExample), "%v", err)
			assert.Nil(t, files)
		})
	}
	files, err := MLflowModel(m, MLflowOptions{Example: [][]float64{{math.NaN(), 2}}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"columns":["a","b"],"data":[[null,2]]}`, string(files[InputExampleFile]), "NaN is a missing value")
}

// TestMLflowPinsMatchTheTestEnvironment keeps the versions the environment
// files pin equal to those the tests load the models with.
func TestMLflowPinsMatchTheTestEnvironment(t *testing.T) {
	f, err := os.Open("../../../scripts/requirements-mlflow.txt")
	require.NoError(t, err)
	defer f.Close()
	pins := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, version, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=="); ok {
			pins[name] = version
		}
	}
	require.NoError(t, sc.Err())
	assert.Equal(t, map[string]string{"mlflow": MLflowVersion, "onnx": ONNXVersion, "onnxruntime": ONNXRuntimeVersion}, pins)
}
