package modelexport

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/nn"
)

// The MLflow model format as MLflow 3.17.2's mlflow.onnx.save_model writes
// it (mlflow/onnx/__init__.py, mlflow/models/model.py Model.to_dict,
// mlflow/models/utils.py _save_example), and the versions of the Python
// packages the model's environment files pin: those scripts/
// requirements-mlflow.txt installs for the tests that load the exported
// models (a test keeps the two in step).
const (
	MLflowVersion      = "3.17.2"
	ONNXVersion        = "1.23.2" // the onnx.proto onnxpb is generated from
	ONNXRuntimeVersion = "1.32.0"
	// PythonVersion is the Python of the environment files; MLflow
	// compares major.minor only and installs the newest patch release.
	PythonVersion = "3.11"

	// Files of the model directory.
	MLmodelFile        = "MLmodel"
	ONNXFile           = "model.onnx"
	InputExampleFile   = "input_example.json"
	ServingExampleFile = "serving_input_example.json"
	CondaFile          = "conda.yaml"
	PythonEnvFile      = "python_env.yaml"
	RequirementsFile   = "requirements.txt"
)

// createdLayout is that of MLmodel's utc_time_created: Python's
// str(datetime) of a naive UTC time.
const createdLayout = "2006-01-02 15:04:05.000000"

// ErrBadExample is returned for input-example rows that do not fit the model.
var ErrBadExample = fault.New(fault.Invalid, "modelexport: input example does not fit the model")

// MLflowOptions are the optional parts of an MLflow model directory.
type MLflowOptions struct {
	// RunID and ArtifactPath, when not empty, are written to MLmodel as
	// run_id and artifact_path, as MLflow does for a model logged to a run.
	RunID        string
	ArtifactPath string
	// Example holds input-example rows in the model's feature order (NaN
	// is written as null, a missing value). Nil: three rows made from the
	// training statistics the model stores — the imputation values, and
	// the means minus and plus one scale — so no data leaves with the model.
	Example [][]float64
	// Providers are the onnxruntime execution providers of the onnx
	// flavour, tried in order; nil: CPUExecutionProvider only (Orrery's
	// models are small; MLflow's own default lists CUDA first and warns
	// where it is missing).
	Providers []string
}

// MLflowModel returns the files of an MLflow model directory for m, keyed by
// their path in the directory: MLmodel (flavours onnx and python_function
// with loader_module mlflow.onnx, the signature — one double column per
// feature in, one double column p_<label> per class out — and the input
// example's description), model.onnx (ONNX's export), input_example.json and
// serving_input_example.json, conda.yaml, python_env.yaml and
// requirements.txt. Loaded with mlflow.pyfunc.load_model, its predict(df) on
// a DataFrame with the feature columns returns a DataFrame of the class
// probabilities, the p_<label> columns of `orrery predict`.
//
// The output depends only on m and opts: utc_time_created is the model's
// creation time and model_uuid is derived from the model id and the ONNX
// bytes, so logging the same model twice writes the same files.
func MLflowModel(m *nn.Model, opts MLflowOptions) (map[string][]byte, error) {
	onnxBytes, err := ONNX(m)
	if err != nil {
		return nil, fmt.Errorf("export model %s to mlflow: %w", m.Manifest.ModelID, err)
	}
	features := m.Manifest.Features
	rows := opts.Example
	if p := m.Manifest.Preprocessing; rows == nil && len(p.Impute) == len(features) && len(p.Mean) == len(features) && len(p.Scale) == len(features) {
		rows = [][]float64{slices.Clone(p.Impute), make([]float64, len(features)), make([]float64, len(features))}
		for j := range features {
			rows[1][j], rows[2][j] = p.Mean[j]-p.Scale[j], p.Mean[j]+p.Scale[j]
		}
	} else if rows == nil {
		// A tree ensemble may take its features as they are (no
		// preprocessing): one row of zeros.
		rows = [][]float64{make([]float64, len(features))}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("export model %s to mlflow: no rows: %w", m.Manifest.ModelID, ErrBadExample)
	}
	data := make([][]*float64, len(rows))
	for i, r := range rows {
		if len(r) != len(features) {
			return nil, fmt.Errorf("export model %s to mlflow: example row %d has %d values for %d features: %w",
				m.Manifest.ModelID, i, len(r), len(features), ErrBadExample)
		}
		data[i] = make([]*float64, len(r))
		for j := range r {
			switch {
			case math.IsNaN(r[j]):
				// null: pandas reads a missing value (NaN)
			case math.IsInf(r[j], 0):
				return nil, fmt.Errorf("export model %s to mlflow: example row %d feature %s is %v: %w",
					m.Manifest.ModelID, i, features[j], r[j], ErrBadExample)
			default:
				data[i][j] = &r[j]
			}
		}
	}
	// _save_example: the DataFrame in pandas' "split" orient, and the
	// serving payload {"dataframe_split": ...} indented by 2.
	split := struct {
		Columns []string     `json:"columns"`
		Data    [][]*float64 `json:"data"`
	}{features, data}
	example, err := json.Marshal(split)
	if err != nil {
		return nil, fmt.Errorf("export model %s to mlflow: input example: %w", m.Manifest.ModelID, err)
	}
	serving, err := json.MarshalIndent(map[string]any{"dataframe_split": split}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("export model %s to mlflow: serving example: %w", m.Manifest.ModelID, err)
	}

	type colSpec struct {
		Type     string `json:"type"`
		Name     string `json:"name"`
		Required bool   `json:"required"`
	}
	var ins, outs []colSpec
	for _, f := range features {
		ins = append(ins, colSpec{"double", f, true})
	}
	for _, o := range OutputNames(m) {
		outs = append(outs, colSpec{"double", o, true})
	}
	inJSON, _ := json.Marshal(ins)
	outJSON, _ := json.Marshal(outs)

	providers := opts.Providers
	if providers == nil {
		providers = []string{"CPUExecutionProvider"}
	}
	if len(providers) == 0 || slices.Contains(providers, "") {
		return nil, fmt.Errorf("export model %s to mlflow: execution providers %q: an empty list or name", m.Manifest.ModelID, providers)
	}
	sum := sha256.Sum256(append([]byte(m.Manifest.ModelID+"\x00"), onnxBytes...))

	// MLmodel, keys sorted as yaml.safe_dump sorts them.
	var y yamlWriter
	if opts.ArtifactPath != "" {
		y.scalar(0, "artifact_path", opts.ArtifactPath)
	}
	y.key(0, "flavors")
	y.key(1, "onnx")
	y.raw(2, "code", "null")
	y.scalar(2, "data", ONNXFile)
	y.raw(2, "onnx_session_options", "null")
	y.scalar(2, "onnx_version", ONNXVersion)
	y.list(2, "providers", providers)
	y.key(1, "python_function")
	y.scalar(2, "data", ONNXFile)
	y.key(2, "env")
	y.scalar(3, "conda", CondaFile)
	y.scalar(3, "virtualenv", PythonEnvFile)
	y.scalar(2, "loader_module", "mlflow.onnx")
	y.scalar(2, "python_version", PythonVersion)
	y.raw(0, "is_signature_from_type_hint", "false")
	y.key(0, "metadata")
	y.scalar(1, "orrery_model_id", m.Manifest.ModelID)
	y.scalar(1, "orrery_model_type", m.Manifest.ModelType)
	y.scalar(1, "orrery_backend", m.Manifest.Backend)
	y.scalar(1, "orrery_decision_threshold", fmt.Sprint(m.Manifest.Threshold))
	y.scalar(0, "mlflow_version", MLflowVersion)
	y.raw(0, "model_size_bytes", fmt.Sprint(len(onnxBytes)+len(example)+len(serving)))
	y.scalar(0, "model_uuid", hex.EncodeToString(sum[:16]))
	if opts.RunID != "" {
		y.scalar(0, "run_id", opts.RunID)
	}
	y.key(0, "saved_input_example_info")
	y.scalar(1, "artifact_path", InputExampleFile)
	y.scalar(1, "pandas_orient", "split")
	y.scalar(1, "serving_input_path", ServingExampleFile)
	y.scalar(1, "type", "dataframe")
	y.key(0, "signature")
	y.scalar(1, "inputs", string(inJSON))
	y.scalar(1, "outputs", string(outJSON))
	y.raw(1, "params", "null")
	y.raw(0, "type_hint_from_example", "false")
	y.scalar(0, "utc_time_created", m.Manifest.CreatedAt.UTC().Format(createdLayout))

	reqs := []string{"mlflow==" + MLflowVersion, "onnx==" + ONNXVersion, "onnxruntime==" + ONNXRuntimeVersion}
	var conda yamlWriter
	conda.list(0, "channels", []string{"conda-forge"})
	conda.key(0, "dependencies")
	conda.item(0, "python="+PythonVersion)
	conda.item(0, "pip")
	conda.key(0, "- pip")
	for _, r := range reqs {
		conda.item(1, r)
	}
	conda.scalar(0, "name", "mlflow-env")
	var env yamlWriter
	env.scalar(0, "python", PythonVersion)
	env.list(0, "build_dependencies", []string{"pip", "setuptools", "wheel"})
	env.list(0, "dependencies", []string{"-r " + RequirementsFile})

	return map[string][]byte{
		MLmodelFile:        y.Bytes(),
		ONNXFile:           onnxBytes,
		InputExampleFile:   example,
		ServingExampleFile: serving,
		CondaFile:          conda.Bytes(),
		PythonEnvFile:      env.Bytes(),
		RequirementsFile:   []byte(strings.Join(reqs, "\n") + "\n"),
	}, nil
}

// yamlWriter writes the block-style YAML of the files above. Every scalar
// is written as a JSON string, which is a YAML double-quoted scalar, so no
// value can be read as another type or break the structure.
type yamlWriter struct{ bytes.Buffer }

func (w *yamlWriter) indent(level int) { w.WriteString(strings.Repeat("  ", level)) }

func (w *yamlWriter) key(level int, k string) {
	w.indent(level)
	w.WriteString(k + ":\n")
}

func (w *yamlWriter) raw(level int, k, v string) {
	w.indent(level)
	w.WriteString(k + ": " + v + "\n")
}

func (w *yamlWriter) scalar(level int, k, v string) { w.raw(level, k, quote(v)) }

// item writes a sequence entry at level (entries of a level-0 key sit at
// indentation 0, as yaml.safe_dump writes them).
func (w *yamlWriter) item(level int, v string) {
	w.indent(level)
	w.WriteString("- " + quote(v) + "\n")
}

func (w *yamlWriter) list(level int, k string, vs []string) {
	w.key(level, k)
	for _, v := range vs {
		w.item(level, v)
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
