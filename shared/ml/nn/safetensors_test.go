package nn

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawSafetensors assembles a stream by hand: header length, header, data.
func rawSafetensors(header string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func f32s(vs ...float32) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, vs)
	return b.Bytes()
}

func TestSafetensorsRoundTrip(t *testing.T) {
	tensors := []Tensor{
		{Name: "layers.0.weight", Shape: []int{2, 3}, Data: []float64{1, -2.5, 3.25, math.Pi, 1e-300, -0}},
		{Name: "layers.0.bias", Shape: []int{2}, Data: []float64{0.1, math.Inf(-1)}},
		{Name: "scalar", Shape: []int{}, Data: []float64{42}},
		{Name: "empty", Shape: []int{0, 4}, Data: []float64{}},
	}
	meta := map[string]string{"format": "pt", "model_id": "m-1"}
	cases := []struct {
		dtype string
		round func(float64) float64
	}{
		{"", func(v float64) float64 { return v }},
		{F64, func(v float64) float64 { return v }},
		{F32, func(v float64) float64 { return float64(float32(v)) }},
	}
	for _, c := range cases {
		t.Run("dtype="+c.dtype, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, WriteSafetensors(&b, tensors, meta, c.dtype))
			hdrLen := binary.LittleEndian.Uint64(b.Bytes()[:8])
			assert.Zero(t, hdrLen%8, "header padded to 8 bytes")
			want := F64
			if c.dtype == F32 {
				want = F32
			}
			assert.Contains(t, string(b.Bytes()[8:8+hdrLen]), `"dtype":"`+want+`"`)

			got, gotMeta, err := ReadSafetensors(bytes.NewReader(b.Bytes()))
			require.NoError(t, err)
			require.Equal(t, meta, gotMeta)
			require.Len(t, got, len(tensors))
			for i, tt := range tensors {
				assert.Equal(t, tt.Name, got[i].Name)
				assert.Equal(t, tt.Shape, got[i].Shape)
				require.Len(t, got[i].Data, len(tt.Data))
				for j, v := range tt.Data {
					assert.Equal(t, c.round(v), got[i].Data[j], "%s[%d]", tt.Name, j)
				}
			}
		})
	}
}

// TestReadSafetensorsHandBuilt reads a stream assembled byte by byte from
// the format description (F32, tensors listed out of offset order, a
// padded header), as another implementation would write it.
func TestReadSafetensorsHandBuilt(t *testing.T) {
	header := `{"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}   `
	got, meta, err := ReadSafetensors(bytes.NewReader(rawSafetensors(header, f32s(1.5, -2, 0.25))))
	require.NoError(t, err)
	require.Equal(t, map[string]string{"k": "v"}, meta)
	require.Equal(t, []Tensor{
		{Name: "a", Shape: []int{2}, Data: []float64{1.5, -2}},
		{Name: "b", Shape: []int{1}, Data: []float64{0.25}},
	}, got)
}

func TestReadSafetensorsRejectsMalformed(t *testing.T) {
	ok := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, 200<<20)
	cases := []struct {
		name   string
		stream []byte
		want   string
	}{
		{"empty stream", nil, "read header length"},
		{"header over 100 MB", huge, "header length 209715200"},
		{"truncated header", rawSafetensors(ok, nil)[:20], "read 54-byte header"},
		{"not an object", rawSafetensors(`["a"]`, nil), "does not start with '{'"},
		{"not json", rawSafetensors(`{"a":`, nil), "header"},
		{"unknown dtype", rawSafetensors(`{"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`, f32s(1)), `unsupported dtype "BF16"`},
		{"shape and size disagree", rawSafetensors(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, f32s(1, 2)), "needs 12 bytes"},
		{"negative dimension", rawSafetensors(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, f32s(1, 2)), "negative dimension"},
		{"missing shape", rawSafetensors(`{"a":{"dtype":"F32","data_offsets":[0,0]}}`, nil), "has no shape"},
		{"offsets reversed", rawSafetensors(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, nil), "data_offsets [8 0]"},
		{"three offsets", rawSafetensors(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,9]}}`, f32s(1, 2)), "data_offsets [0 8 9]"},
		{"overlap", rawSafetensors(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, f32s(1, 2, 3)), "overlaps"},
		{"hole", rawSafetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32s(1, 2)), "leaving a hole"},
		{"offsets past the data", rawSafetensors(ok, f32s(1)), "data area has 4 bytes, the header describes 8"},
		{"trailing bytes", rawSafetensors(ok, f32s(1, 2, 3)), "trailing bytes"},
		{"repeated entry", rawSafetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32s(1, 2)), `repeats entry "a"`},
		{"unknown field", rawSafetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, f32s(1)), "unknown field"},
		{"metadata not strings", rawSafetensors(`{"__metadata__":{"k":1}}`, nil), "__metadata__"},
		{"garbage after the object", rawSafetensors(`{}{}`, nil), "after its JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := ReadSafetensors(bytes.NewReader(c.stream))
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrMalformedSafetensors)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestWriteSafetensorsRejects(t *testing.T) {
	cases := []struct {
		name    string
		tensors []Tensor
		dtype   string
		want    string
	}{
		{"dtype", []Tensor{{Name: "a", Shape: []int{1}, Data: []float64{1}}}, "F16", `dtype "F16"`},
		{"shape", []Tensor{{Name: "a", Shape: []int{2}, Data: []float64{1}}}, F64, "shape [2] and 1 values"},
		{"empty name", []Tensor{{Shape: []int{1}, Data: []float64{1}}}, F64, "name"},
		{"reserved name", []Tensor{{Name: "__metadata__", Shape: []int{1}, Data: []float64{1}}}, F64, "reserved"},
		{"repeated name", []Tensor{{Name: "a", Shape: []int{1}, Data: []float64{1}}, {Name: "a", Shape: []int{1}, Data: []float64{1}}}, F64, "repeated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			require.ErrorContains(t, WriteSafetensors(&b, c.tensors, nil, c.dtype), c.want)
		})
	}
}
