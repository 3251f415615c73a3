package modelexport

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/orrery-ml/orrery/shared/ml/nn"
)

// Field numbers and enum values from onnx.proto (ModelProto, GraphProto,
// NodeProto, AttributeProto, TensorProto, ValueInfoProto, TypeProto).
const (
	irVersion  = 8  // IR version of opset 17 (ONNX 1.12)
	opsetONNX  = 17 // ai.onnx opset the graph uses
	typeFloat  = 1  // TensorProto.DataType FLOAT
	typeDouble = 11 // TensorProto.DataType DOUBLE
	attrInt    = 2  // AttributeProto.AttributeType INT
	InputName  = "features"
	OutputName = "probabilities"
)

// ONNX returns the ONNX ModelProto bytes of m: input "features" (double,
// [N, features]) and output "probabilities" (double, [N, classes]; a binary
// model gives [P(class 0), P(class 1)] like nn.Model.PredictProba).
// NaN inputs are replaced by the imputation values; catalog sentinels
// (Preprocessing.Missing) are not, so a model with sentinels is refused.
func ONNX(m *nn.Model) ([]byte, error) {
	p := m.Manifest.Preprocessing
	if len(p.Missing) > 0 {
		return nil, fmt.Errorf("export model %s to onnx: missing-value sentinels are not exportable", m.Manifest.ModelID)
	}
	d := len(m.Manifest.Features)
	if p.Features() != d || len(m.Net.Layers) == 0 {
		return nil, fmt.Errorf("export model %s to onnx: %d features, preprocessing for %d", m.Manifest.ModelID, d, p.Features())
	}
	var g graph
	g.initializer("impute", []int64{d64(d)}, p.Impute)
	g.initializer("mean", []int64{d64(d)}, p.Mean)
	g.initializer("scale", []int64{d64(d)}, p.Scale)
	g.node("IsNaN", []string{InputName}, "isnan")
	g.node("Where", []string{"isnan", "impute", InputName}, "imputed")
	g.node("Sub", []string{"imputed", "mean"}, "centred")
	g.node("Div", []string{"centred", "scale"}, "h0")
	cur := "h0"
	for i, l := range m.Net.Layers {
		wt := make([]float64, l.In*l.Out) // transpose Out×In into In×Out for MatMul
		for o := range l.Out {
			for j := range l.In {
				wt[j*l.Out+o] = l.W[o*l.In+j]
			}
		}
		w, b := fmt.Sprintf("w%d", i), fmt.Sprintf("b%d", i)
		g.initializer(w, []int64{d64(l.In), d64(l.Out)}, wt)
		g.initializer(b, []int64{d64(l.Out)}, l.B)
		g.node("MatMul", []string{cur, w}, fmt.Sprintf("mm%d", i))
		z := fmt.Sprintf("z%d", i)
		g.node("Add", []string{fmt.Sprintf("mm%d", i), b}, z)
		cur = z
		if i < len(m.Net.Layers)-1 {
			h := fmt.Sprintf("h%d", i+1)
			if err := g.activation(m.Net.Spec.Activation, z, h); err != nil {
				return nil, fmt.Errorf("export model %s to onnx: %w", m.Manifest.ModelID, err)
			}
			cur = h
		}
	}
	classes := m.Net.Spec.Classes()
	if m.Net.Spec.Outputs == 1 {
		g.node("Sigmoid", []string{cur}, "p1")
		g.constant("one", 1)
		g.node("Sub", []string{"one", "p1"}, "p0")
		g.nodeAttr("Concat", []string{"p0", "p1"}, OutputName, "axis", 1)
	} else {
		g.nodeAttr("Softmax", []string{cur}, OutputName, "axis", 1)
	}
	var gb []byte
	gb = protowire.AppendTag(gb, 2, protowire.BytesType)
	gb = protowire.AppendString(gb, "orrery_"+m.Manifest.ModelType)
	gb = append(gb, g.body...)
	gb = appendMsg(gb, 11, valueInfo(InputName, d))
	gb = appendMsg(gb, 12, valueInfo(OutputName, classes))

	var mb []byte
	mb = protowire.AppendTag(mb, 1, protowire.VarintType)
	mb = protowire.AppendVarint(mb, irVersion)
	mb = protowire.AppendTag(mb, 2, protowire.BytesType)
	mb = protowire.AppendString(mb, "orrery")
	mb = protowire.AppendTag(mb, 3, protowire.BytesType)
	mb = protowire.AppendString(mb, m.Manifest.CodeVersion)
	mb = appendMsg(mb, 7, gb)
	var op []byte
	op = protowire.AppendTag(op, 2, protowire.VarintType)
	op = protowire.AppendVarint(op, opsetONNX)
	mb = appendMsg(mb, 8, op)
	return mb, nil
}

func d64(n int) int64 { return int64(n) }

// graph accumulates GraphProto fields node (1) and initializer (5).
type graph struct {
	body []byte
	n    int
}

func (g *graph) node(op string, in []string, out string) { g.nodeAttr(op, in, out, "", 0) }

func (g *graph) nodeAttr(op string, in []string, out, attr string, v int64) {
	var b []byte
	for _, s := range in {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, out)
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	g.n++
	b = protowire.AppendString(b, fmt.Sprintf("n%d_%s", g.n, op))
	b = protowire.AppendTag(b, 4, protowire.BytesType)
	b = protowire.AppendString(b, op)
	if attr != "" {
		var a []byte
		a = protowire.AppendTag(a, 1, protowire.BytesType)
		a = protowire.AppendString(a, attr)
		a = protowire.AppendTag(a, 3, protowire.VarintType)
		a = protowire.AppendVarint(a, uint64(v))
		a = protowire.AppendTag(a, 20, protowire.VarintType)
		a = protowire.AppendVarint(a, attrInt)
		b = appendMsg(b, 5, a)
	}
	g.body = appendMsg(g.body, 1, b)
}

func (g *graph) constant(name string, v float64) { g.initializer(name, nil, []float64{v}) }

// initializer appends a DOUBLE TensorProto with raw little-endian data.
func (g *graph) initializer(name string, dims []int64, v []float64) {
	var t []byte
	for _, d := range dims {
		t = protowire.AppendTag(t, 1, protowire.VarintType)
		t = protowire.AppendVarint(t, uint64(d))
	}
	t = protowire.AppendTag(t, 2, protowire.VarintType)
	t = protowire.AppendVarint(t, typeDouble)
	t = protowire.AppendTag(t, 8, protowire.BytesType)
	t = protowire.AppendString(t, name)
	raw := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(x))
	}
	t = protowire.AppendTag(t, 9, protowire.BytesType)
	t = protowire.AppendBytes(t, raw)
	g.body = appendMsg(g.body, 5, t)
}

// activation appends the nodes computing h = f(z).
func (g *graph) activation(name, z, h string) error {
	switch name {
	case nn.ActivationReLU:
		g.node("Relu", []string{z}, h)
	case nn.ActivationTanh:
		g.node("Tanh", []string{z}, h)
	case nn.ActivationSigmoid:
		g.node("Sigmoid", []string{z}, h)
	case nn.ActivationGELU:
		// Exact GELU 0.5·z·(1+erf(z/√2)); Gelu itself needs opset 20.
		// onnxruntime's CPU provider implements Erf for float only, so
		// erf runs in float32 (relative error ~1e-7) and the rest in double.
		g.constant(h+"_r2", math.Sqrt2)
		g.constant(h+"_half", 0.5)
		g.constant(h+"_one", 1)
		g.node("Div", []string{z, h + "_r2"}, h+"_s")
		g.nodeAttr("Cast", []string{h + "_s"}, h+"_sf", "to", typeFloat)
		g.node("Erf", []string{h + "_sf"}, h+"_ef")
		g.nodeAttr("Cast", []string{h + "_ef"}, h+"_e", "to", typeDouble)
		g.node("Add", []string{h + "_e", h + "_one"}, h+"_e1")
		g.node("Mul", []string{z, h + "_e1"}, h+"_m")
		g.node("Mul", []string{h + "_m", h + "_half"}, h)
	default:
		return fmt.Errorf("activation %q has no onnx form", name)
	}
	return nil
}

// valueInfo is a ValueInfoProto for a DOUBLE tensor of shape [N, width].
func valueInfo(name string, width int) []byte {
	var batch, w, shape, tt, typ, vi []byte
	batch = protowire.AppendTag(batch, 2, protowire.BytesType)
	batch = protowire.AppendString(batch, "N")
	w = protowire.AppendTag(w, 1, protowire.VarintType)
	w = protowire.AppendVarint(w, uint64(width))
	shape = appendMsg(appendMsg(shape, 1, batch), 1, w)
	tt = protowire.AppendTag(tt, 1, protowire.VarintType)
	tt = protowire.AppendVarint(tt, typeDouble)
	tt = appendMsg(tt, 2, shape)
	typ = appendMsg(typ, 1, tt)
	vi = protowire.AppendTag(vi, 1, protowire.BytesType)
	vi = protowire.AppendString(vi, name)
	return appendMsg(vi, 2, typ)
}

func appendMsg(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}
