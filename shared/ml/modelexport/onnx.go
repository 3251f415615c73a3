package modelexport

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/modelexport/onnxpb"
	"github.com/orrery-ml/orrery/shared/ml/nn"
)

const (
	// IRVersion is the ONNX IR version of the exported models (that of
	// opset 17, ONNX 1.12).
	IRVersion = 8
	// Opset is the ai.onnx operator set version the graph uses.
	Opset = 17
	// ProbabilityPrefix starts the name of each class's output, as it starts
	// the probability columns of `orrery predict` (p_<class label>).
	ProbabilityPrefix = "p_"
	// internal starts the names of the graph's intermediate values and
	// initializers; no input or output may start with it.
	internal = "orrery__"
)

// ErrNotExportable is returned for a model the ONNX graph cannot express:
// catalog sentinels, an activation without an ONNX form, feature or class
// names that collide.
var ErrNotExportable = fault.New(fault.Invalid, "modelexport: model is not exportable to onnx")

// OutputNames returns the names of m's ONNX outputs: ProbabilityPrefix and
// each class label, in class order.
func OutputNames(m *nn.Model) []string {
	names := make([]string, m.Classes())
	for k := range names {
		label := strconv.Itoa(k)
		if k < len(m.Manifest.Classes) {
			label = m.Manifest.Classes[k]
		}
		names[k] = ProbabilityPrefix + label
	}
	return names
}

// ONNX returns the ONNX ModelProto bytes of m (IR 8, opset 17), encoded with
// google.golang.org/protobuf from onnx.proto's generated code.
//
// The graph has one input per feature, named as the feature, a double tensor
// of shape [N] — so that MLflow's onnx pyfunc, which feeds each column of a
// DataFrame to the input of its name when a model has several inputs, scores
// a DataFrame with the feature columns directly — and one output per class,
// ProbabilityPrefix + label, double [N]: the probabilities of
// nn.Model.PredictProba, the columns of `orrery predict`. The inputs are
// stacked into [N, features] in the graph, NaN replaced by the imputation
// values, standardised, and run through the network's layers.
//
// Catalog sentinels (Preprocessing.Missing) are not imputed by the graph, so
// a model with sentinels is refused (ErrNotExportable), as is a feature or
// class name the graph cannot use as a distinct value name.
func ONNX(m *nn.Model) ([]byte, error) {
	opsets := []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(Opset)}}
	var g *onnxpb.GraphProto
	var err error
	if m.Trees != nil {
		g, err = buildTreeGraph(m)
		opsets = append(opsets, &onnxpb.OperatorSetIdProto{Domain: proto.String(MLDomain), Version: proto.Int64(MLOpset)})
	} else {
		g, err = buildGraph(m)
	}
	if err != nil {
		return nil, fmt.Errorf("export model %s to onnx: %w", m.Manifest.ModelID, err)
	}
	mp := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(IRVersion),
		ProducerName:    proto.String("orrery"),
		ProducerVersion: proto.String(m.Manifest.CodeVersion),
		DocString:       proto.String(fmt.Sprintf("Orrery %s model %s (%s backend)", m.Manifest.ModelType, m.Manifest.ModelID, m.Manifest.Backend)),
		Graph:           g,
		OpsetImport:     opsets,
		MetadataProps: []*onnxpb.StringStringEntryProto{
			{Key: proto.String("orrery_model_id"), Value: proto.String(m.Manifest.ModelID)},
			{Key: proto.String("orrery_target"), Value: proto.String(m.Manifest.Target)},
			{Key: proto.String("orrery_decision_threshold"), Value: proto.String(strconv.FormatFloat(m.Manifest.Threshold, 'g', -1, 64))},
		},
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(mp)
	if err != nil {
		return nil, fmt.Errorf("export model %s to onnx: encode: %w", m.Manifest.ModelID, err)
	}
	return b, nil
}

func buildGraph(m *nn.Model) (*onnxpb.GraphProto, error) {
	p := m.Manifest.Preprocessing
	if len(p.Missing) > 0 {
		return nil, fmt.Errorf("missing-value sentinels are not exportable: %w", ErrNotExportable)
	}
	d := len(m.Manifest.Features)
	if d == 0 || p.Features() != d || len(p.Impute) != d || len(p.Scale) != d || len(m.Net.Layers) == 0 || m.Net.Layers[0].In != d {
		return nil, fmt.Errorf("%d features, preprocessing for %d, %d layers: %w", d, p.Features(), len(m.Net.Layers), ErrNotExportable)
	}
	outputs := OutputNames(m)
	if err := distinctNames(m.Manifest.Features, outputs); err != nil {
		return nil, err
	}
	g := &graphBuilder{g: &onnxpb.GraphProto{Name: proto.String("orrery_" + m.Manifest.ModelType)}}
	x := g.stackInputs(m.Manifest.Features)

	g.doubles("impute", []int64{int64(d)}, p.Impute)
	g.doubles("mean", []int64{int64(d)}, p.Mean)
	g.doubles("scale", []int64{int64(d)}, p.Scale)
	isnan := g.node("IsNaN", []string{x}, "isnan", nil)
	imputed := g.node("Where", []string{isnan, internal + "impute", x}, "imputed", nil)
	centred := g.node("Sub", []string{imputed, internal + "mean"}, "centred", nil)
	cur := g.node("Div", []string{centred, internal + "scale"}, "h0", nil)
	for i, l := range m.Net.Layers {
		if len(l.W) != l.In*l.Out || len(l.B) != l.Out {
			return nil, fmt.Errorf("layer %d holds %d weights and %d biases for %d×%d: %w", i, len(l.W), len(l.B), l.Out, l.In, ErrNotExportable)
		}
		wt := make([]float64, l.In*l.Out) // transpose Out×In into In×Out for MatMul
		for o := range l.Out {
			for j := range l.In {
				wt[j*l.Out+o] = l.W[o*l.In+j]
			}
		}
		w, b := fmt.Sprintf("w%d", i), fmt.Sprintf("b%d", i)
		g.doubles(w, []int64{int64(l.In), int64(l.Out)}, wt)
		g.doubles(b, []int64{int64(l.Out)}, l.B)
		mm := g.node("MatMul", []string{cur, internal + w}, fmt.Sprintf("mm%d", i), nil)
		cur = g.node("Add", []string{mm, internal + b}, fmt.Sprintf("z%d", i), nil)
		if i < len(m.Net.Layers)-1 {
			h, err := g.activation(m.Net.Spec.Activation, cur, fmt.Sprintf("h%d", i+1))
			if err != nil {
				return nil, err
			}
			cur = h
		}
	}
	var proba string
	if m.Net.Spec.Outputs == 1 {
		p1 := g.node("Sigmoid", []string{cur}, "p1", nil)
		g.doubles("one", nil, []float64{1})
		p0 := g.node("Sub", []string{internal + "one", p1}, "p0", nil)
		proba = g.node("Concat", []string{p0, p1}, "proba", intAttr("axis", 1))
	} else {
		proba = g.node("Softmax", []string{cur}, "proba", intAttr("axis", 1))
	}
	g.classOutputs(proba, outputs)
	return g.g, nil
}

// stackInputs adds one [N] double input per feature, named as the
// feature, and the nodes stacking them into [N, d]; it returns the
// stack's name.
func (b *graphBuilder) stackInputs(features []string) string {
	b.int64s("axis1", []int64{1}, []int64{1})
	cols := make([]string, len(features))
	for j, f := range features {
		b.g.Input = append(b.g.Input, valueInfo(f, nil))
		cols[j] = b.node("Unsqueeze", []string{f, internal + "axis1"}, fmt.Sprintf("col%d", j), nil)
	}
	return b.node("Concat", cols, "x", intAttr("axis", 1))
}

// classOutputs adds one [N] output per class, outputs[k] being column k of
// proba [N, classes]: Gather with a scalar index drops the axis.
func (b *graphBuilder) classOutputs(proba string, outputs []string) {
	for k, name := range outputs {
		idx := fmt.Sprintf("class%d", k)
		b.int64s(idx, nil, []int64{int64(k)})
		b.g.Node = append(b.g.Node, &onnxpb.NodeProto{
			Input: []string{proba, internal + idx}, Output: []string{name},
			Name: proto.String(fmt.Sprintf("%sgather%d", internal, k)), OpType: proto.String("Gather"),
			Attribute: intAttr("axis", 1),
		})
		b.g.Output = append(b.g.Output, valueInfo(name, nil))
	}
}

// distinctNames refuses empty or repeated input/output names and names in
// the graph's internal namespace.
func distinctNames(features, outputs []string) error {
	seen := map[string]string{}
	for _, group := range []struct {
		kind  string
		names []string
	}{{"feature", features}, {"output", outputs}} {
		for _, n := range group.names {
			switch {
			case n == "":
				return fmt.Errorf("an empty %s name: %w", group.kind, ErrNotExportable)
			case len(n) >= len(internal) && n[:len(internal)] == internal:
				return fmt.Errorf("%s name %q starts with %q, which the graph reserves: %w", group.kind, n, internal, ErrNotExportable)
			case seen[n] != "":
				return fmt.Errorf("%s name %q is also a %s name: %w", group.kind, n, seen[n], ErrNotExportable)
			}
			seen[n] = group.kind
		}
	}
	return nil
}

// graphBuilder appends nodes and initializers to a GraphProto, naming every
// value it makes internal+name.
type graphBuilder struct {
	g *onnxpb.GraphProto
	n int
}

// node appends op(in...) -> internal+out and returns the output's name.
func (b *graphBuilder) node(op string, in []string, out string, attrs []*onnxpb.AttributeProto) string {
	b.n++
	name := internal + out
	b.g.Node = append(b.g.Node, &onnxpb.NodeProto{
		Input: in, Output: []string{name}, Name: proto.String(fmt.Sprintf("%sn%d_%s", internal, b.n, op)),
		OpType: proto.String(op), Attribute: attrs,
	})
	return name
}

func intAttr(name string, v int64) []*onnxpb.AttributeProto {
	return []*onnxpb.AttributeProto{{Name: proto.String(name), I: proto.Int64(v), Type: onnxpb.AttributeProto_INT.Enum()}}
}

// doubles adds a DOUBLE initializer internal+name with raw little-endian data.
func (b *graphBuilder) doubles(name string, dims []int64, v []float64) {
	raw := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(x))
	}
	b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{
		Name: proto.String(internal + name), Dims: dims,
		DataType: proto.Int32(int32(onnxpb.TensorProto_DOUBLE)), RawData: raw,
	})
}

// int64s adds an INT64 initializer internal+name.
func (b *graphBuilder) int64s(name string, dims []int64, v []int64) {
	b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{
		Name: proto.String(internal + name), Dims: dims,
		DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: v,
	})
}

// activation appends the nodes computing internal+h = f(z) and returns its name.
func (b *graphBuilder) activation(name, z, h string) (string, error) {
	switch name {
	case nn.ActivationReLU:
		return b.node("Relu", []string{z}, h, nil), nil
	case nn.ActivationTanh:
		return b.node("Tanh", []string{z}, h, nil), nil
	case nn.ActivationSigmoid:
		return b.node("Sigmoid", []string{z}, h, nil), nil
	case nn.ActivationGELU:
		// Exact GELU 0.5·z·(1+erf(z/√2)) (Hendrycks & Gimpel, 2016); the
		// Gelu operator needs opset 20. onnxruntime's CPU provider
		// implements Erf for float only, so erf runs in float32 (relative
		// error ~1e-7) and the rest in double.
		b.doubles(h+"_r2", nil, []float64{math.Sqrt2})
		b.doubles(h+"_half", nil, []float64{0.5})
		b.doubles(h+"_one", nil, []float64{1})
		s := b.node("Div", []string{z, internal + h + "_r2"}, h+"_s", nil)
		sf := b.node("Cast", []string{s}, h+"_sf", intAttr("to", int64(onnxpb.TensorProto_FLOAT)))
		ef := b.node("Erf", []string{sf}, h+"_ef", nil)
		e := b.node("Cast", []string{ef}, h+"_e", intAttr("to", int64(onnxpb.TensorProto_DOUBLE)))
		e1 := b.node("Add", []string{e, internal + h + "_one"}, h+"_e1", nil)
		mz := b.node("Mul", []string{z, e1}, h+"_m", nil)
		return b.node("Mul", []string{mz, internal + h + "_half"}, h, nil), nil
	default:
		return "", fmt.Errorf("activation %q has no onnx form: %w", name, ErrNotExportable)
	}
}

// valueInfo is a ValueInfoProto for a DOUBLE tensor of shape [N, dims...].
func valueInfo(name string, dims []int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{
		{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}},
	}}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(onnxpb.TensorProto_DOUBLE)), Shape: shape,
		}}},
	}
}
