package modelexport

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/orrery-ml/orrery/shared/ml/modelexport/onnxpb"
	"github.com/orrery-ml/orrery/shared/ml/nn"
)

func testModel(t *testing.T, spec nn.Spec, features, classes []string) *nn.Model {
	t.Helper()
	net, err := nn.New(spec, 1)
	require.NoError(t, err)
	d := len(features)
	p := nn.Preprocessing{Impute: make([]float64, d), Mean: make([]float64, d), Scale: make([]float64, d)}
	for j := range d {
		p.Mean[j], p.Scale[j] = float64(j), float64(j+1)
	}
	return &nn.Model{Manifest: nn.Manifest{ModelID: "m1", ModelType: spec.ModelType, Features: features, Classes: classes,
		Preprocessing: p}, Net: net}
}

// TestONNXDecodes decodes the export with the generated onnx.proto code and
// checks its interface: one [N] double input per feature, named as the
// feature, one [N] double output per class, p_<label>, IR 8 and opset 17.
func TestONNXDecodes(t *testing.T) {
	spec := nn.Spec{ModelType: nn.ModelMLP, Inputs: 3, Hidden: []int{4}, Outputs: 1, Activation: nn.ActivationReLU}
	m := testModel(t, spec, []string{"a", "b c", "d"}, []string{"bogus", "real"})
	b, err := ONNX(m)
	require.NoError(t, err)
	var mp onnxpb.ModelProto
	require.NoError(t, proto.Unmarshal(b, &mp))
	assert.EqualValues(t, IRVersion, mp.GetIrVersion())
	require.Len(t, mp.GetOpsetImport(), 1)
	assert.EqualValues(t, Opset, mp.GetOpsetImport()[0].GetVersion())
	g := mp.GetGraph()
	var ins, outs []string
	for _, vi := range g.GetInput() {
		ins = append(ins, vi.GetName())
		tt := vi.GetType().GetTensorType()
		assert.EqualValues(t, onnxpb.TensorProto_DOUBLE, tt.GetElemType(), vi.GetName())
		require.Len(t, tt.GetShape().GetDim(), 1, "inputs are [N]")
		assert.Equal(t, "N", tt.GetShape().GetDim()[0].GetDimParam())
	}
	for _, vi := range g.GetOutput() {
		outs = append(outs, vi.GetName())
		assert.Len(t, vi.GetType().GetTensorType().GetShape().GetDim(), 1, "outputs are [N]")
	}
	assert.Equal(t, []string{"a", "b c", "d"}, ins)
	assert.Equal(t, []string{"p_bogus", "p_real"}, outs)
	assert.Equal(t, outs, OutputNames(m))

	again, err := ONNX(m)
	require.NoError(t, err)
	assert.Equal(t, b, again, "the encoding is deterministic")
}

func TestONNXRefusesWhatTheGraphCannotExpress(t *testing.T) {
	spec := nn.Spec{ModelType: nn.ModelMLP, Inputs: 2, Hidden: []int{3}, Outputs: 1, Activation: nn.ActivationReLU}
	cases := []struct {
		name     string
		features []string
		classes  []string
		edit     func(m *nn.Model)
		want     string
	}{
		{"sentinels", []string{"a", "b"}, []string{"0", "1"}, func(m *nn.Model) {
			m.Manifest.Preprocessing.Missing = [][]float64{{99}, nil}
		}, "sentinels"},
		{"feature named like an output", []string{"a", "p_1"}, []string{"0", "1"}, nil, `"p_1" is also a feature name`},
		{"repeated feature", []string{"a", "a"}, []string{"0", "1"}, nil, `feature name "a" is also a feature name`},
		{"reserved name", []string{"a", "orrery__x"}, []string{"0", "1"}, nil, "reserves"},
		{"unknown activation", []string{"a", "b"}, []string{"0", "1"}, func(m *nn.Model) { m.Net.Spec.Activation = "swish" }, `"swish" has no onnx form`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := testModel(t, spec, tc.features, tc.classes)
			if tc.edit != nil {
				tc.edit(m)
			}
			b, err := ONNX(m)
			require.Error(t, err)
			assert.Nil(t, b)
			assert.True(t, errors.Is(err, ErrNotExportable), "%v", err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "m1", "the error names the model")
		})
	}
}
