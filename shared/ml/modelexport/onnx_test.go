package modelexport

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/orrery-ml/orrery/shared/ml/nn"
)

// fields decodes one protobuf message level into field number → values.
func fields(t *testing.T, b []byte) map[protowire.Number][][]byte {
	t.Helper()
	out := map[protowire.Number][][]byte{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			t.Fatalf("bad field %d: %v", num, protowire.ParseError(m))
		}
		v := b[:m]
		if typ == protowire.BytesType {
			v, _ = protowire.ConsumeBytes(v)
		}
		out[num] = append(out[num], v)
		b = b[m:]
	}
	return out
}

func TestONNXDecodes(t *testing.T) {
	spec := nn.Spec{ModelType: nn.ModelMLP, Inputs: 3, Hidden: []int{4}, Outputs: 1, Activation: nn.ActivationReLU}
	net, err := nn.New(spec, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := &nn.Model{Manifest: nn.Manifest{ModelID: "m1", Features: []string{"a", "b", "c"},
		Preprocessing: nn.Preprocessing{Impute: []float64{0, 0, 0}, Mean: []float64{1, 2, 3}, Scale: []float64{1, 1, 2}}}, Net: net}
	b, err := ONNX(m)
	if err != nil {
		t.Fatal(err)
	}
	top := fields(t, b)
	if len(top[7]) != 1 || len(top[8]) != 1 {
		t.Fatalf("want one graph and one opset, got %d, %d", len(top[7]), len(top[8]))
	}
	g := fields(t, top[7][0])
	if len(g[11]) != 1 || len(g[12]) != 1 {
		t.Fatalf("want one input and one output, got %d, %d", len(g[11]), len(g[12]))
	}
	if len(g[5]) != 8 {
		// impute, mean, scale, w0, b0, w1, b1, one
		t.Fatalf("want 8 initializers, got %d", len(g[5]))
	}
}
