package nn

import (
	"math"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var mlpSpec = Spec{ModelType: ModelMLP, Inputs: 8, Hidden: []int{64, 32}, Outputs: 1, Activation: ActivationReLU, Dropout: 0.1}

func TestSpecValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Spec)
		want string // empty: valid
	}{
		{"default mlp", func(*Spec) {}, ""},
		{"softmax", func(s *Spec) { s.Outputs = 3 }, ""},
		{"logistic regression", func(s *Spec) { s.ModelType, s.Hidden, s.Activation = ModelLogisticRegression, nil, "" }, ""},
		{"mlp without hidden layers", func(s *Spec) { s.Hidden = nil }, ""},
		{"unknown model type", func(s *Spec) { s.ModelType = "svm" }, `model_type "svm"`},
		{"logistic regression with hidden", func(s *Spec) { s.ModelType = ModelLogisticRegression }, "no hidden layers"},
		{"no inputs", func(s *Spec) { s.Inputs = 0 }, "inputs is 0"},
		{"no outputs", func(s *Spec) { s.Outputs = 0 }, "outputs is 0"},
		{"empty hidden layer", func(s *Spec) { s.Hidden = []int{64, 0} }, "hidden[1] is 0"},
		{"unknown activation", func(s *Spec) { s.Activation = "swish" }, `activation "swish"`},
		{"missing activation", func(s *Spec) { s.Activation = "" }, `activation ""`},
		{"dropout 1", func(s *Spec) { s.Dropout = 1 }, "dropout 1"},
		{"dropout NaN", func(s *Spec) { s.Dropout = math.NaN() }, "dropout NaN"},
		{"too many parameters", func(s *Spec) { s.Hidden = []int{1 << 20, 1 << 20} }, "too large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := mlpSpec
			s.Hidden = append([]int(nil), s.Hidden...)
			c.edit(&s)
			_, err := New(s, 1)
			if c.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidSpec)
			require.ErrorContains(t, err, c.want)
		})
	}
}

// TestNewInitialisation checks PyTorch's nn.Linear default: every weight and
// bias of a layer with fan-in `in` is uniform on (-1/√in, 1/√in), and the
// draw is a function of the seed.
func TestNewInitialisation(t *testing.T) {
	a, err := New(mlpSpec, 7)
	require.NoError(t, err)
	b, err := New(mlpSpec, 7)
	require.NoError(t, err)
	c, err := New(mlpSpec, 8)
	require.NoError(t, err)
	require.Equal(t, a.Params(), b.Params())
	require.NotEqual(t, a.Params(), c.Params())
	require.Equal(t, 8*64+64+64*32+32+32+1, a.NumParams())
	for i, l := range a.Layers {
		bound := 1 / math.Sqrt(float64(l.In))
		var maxAbs, mean float64
		for _, v := range append(append([]float64(nil), l.W...), l.B...) {
			require.Less(t, math.Abs(v), bound, "layer %d", i)
			maxAbs = max(maxAbs, math.Abs(v))
			mean += v
		}
		mean /= float64(len(l.W) + len(l.B))
		assert.Greater(t, maxAbs, 0.8*bound, "layer %d spans its bound", i)
		assert.Less(t, math.Abs(mean), 0.35*bound, "layer %d is centred", i)
	}
}

func TestTensorsRoundTrip(t *testing.T) {
	net, err := New(mlpSpec, 3)
	require.NoError(t, err)
	ts := net.Tensors()
	require.Len(t, ts, 6)
	assert.Equal(t, "layers.0.weight", ts[0].Name)
	assert.Equal(t, []int{64, 8}, ts[0].Shape)
	assert.Equal(t, "layers.2.bias", ts[5].Name)
	assert.Equal(t, []int{1}, ts[5].Shape)

	// Reversed order is fine; the copy is independent of the original.
	rev := append([]Tensor(nil), ts...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	back, err := FromTensors(mlpSpec, rev)
	require.NoError(t, err)
	require.Equal(t, net.Params(), back.Params())
	ts[0].Data[0] = 99
	require.NotEqual(t, 99.0, net.Layers[0].W[0])

	cases := []struct {
		name string
		edit func([]Tensor) []Tensor
		want string
	}{
		{"missing", func(ts []Tensor) []Tensor { return ts[1:] }, "layers.0.weight is missing"},
		{"wrong shape", func(ts []Tensor) []Tensor { ts[2].Shape = []int{8, 64}; return ts }, "layers.1.weight has shape [8 64]"},
		{"extra", func(ts []Tensor) []Tensor {
			return append(ts, Tensor{Name: "layers.3.weight", Shape: []int{1}, Data: []float64{1}})
		}, "layers.3.weight is not part"},
		{"duplicate", func(ts []Tensor) []Tensor { return append(ts, ts[0]) }, "appears twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := FromTensors(mlpSpec, c.edit(net.Tensors()))
			require.ErrorContains(t, err, c.want)
		})
	}
}

func TestPredictProbaLogisticRegressionByHand(t *testing.T) {
	net, err := New(Spec{ModelType: ModelLogisticRegression, Inputs: 2, Outputs: 1}, 1)
	require.NoError(t, err)
	require.True(t, net.SetParams([]float64{1, 2, -1}))
	// z = x0 + 2·x1 - 1: 0 for the first row, ln 3 for the second.
	p := net.PredictProba([]float64{0.5, 0.25, 1, math.Log(3) / 2}, 2, nil)
	require.InDeltaSlice(t, []float64{0.5, 0.5, 0.25, 0.75}, p, 1e-15)

	soft, err := New(Spec{ModelType: ModelLogisticRegression, Inputs: 1, Outputs: 3}, 1)
	require.NoError(t, err)
	require.True(t, soft.SetParams([]float64{0, 0, 0, 0, math.Log(2), math.Log(5)}))
	require.InDeltaSlice(t, []float64{0.125, 0.25, 0.625}, soft.PredictProba([]float64{7}, 1, nil), 1e-15)
}

// TestPredictProbaChunksAndConcurrency checks that the chunked batch path
// agrees with row-at-a-time calls, that rows sum to one, and that several
// goroutines can predict at once.
func TestPredictProbaChunksAndConcurrency(t *testing.T) {
	for _, spec := range []Spec{mlpSpec, {ModelType: ModelMLP, Inputs: 8, Hidden: []int{16}, Outputs: 4, Activation: ActivationGELU}} {
		t.Run(spec.Activation, func(t *testing.T) {
			net, err := New(spec, 5)
			require.NoError(t, err)
			const rows = 2*predictChunk + 37
			x, _ := synthetic(rows, 8, 3)
			c := spec.Classes()
			all := net.PredictProba(x, rows, nil)
			require.Len(t, all, rows*c)
			for r := 0; r < rows; r += 97 {
				one := net.PredictProba(x[r*8:(r+1)*8], 1, nil)
				require.InDeltaSlice(t, all[r*c:(r+1)*c], one, 1e-12, "row %d", r)
				var s float64
				for _, v := range one {
					require.True(t, v >= 0 && v <= 1)
					s += v
				}
				require.InDelta(t, 1, s, 1e-12)
			}
			var wg sync.WaitGroup
			results := make([][]float64, 8)
			for g := range results {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[g] = net.PredictProba(x, rows, nil)
				}()
			}
			wg.Wait()
			for _, r := range results {
				require.Equal(t, all, r)
			}
			require.Nil(t, net.PredictProba(x[:7], 1, nil))
			buf := make([]float64, 0, rows*c)
			require.Equal(t, all, net.PredictProba(x, rows, buf))
		})
	}
}

func TestWorkspaceRejects(t *testing.T) {
	net, err := New(mlpSpec, 1)
	require.NoError(t, err)
	_, err = NewWorkspace(net, 0)
	require.Error(t, err)
	ws, err := NewWorkspace(net, 4)
	require.NoError(t, err)
	x := make([]float64, 5*8)
	_, err = ws.Forward(x, 5, 0, nil)
	require.ErrorContains(t, err, "5 rows")
	_, err = ws.Forward(x[:8], 2, 0, nil)
	require.ErrorContains(t, err, "from 8 values")
	_, err = ws.Forward(x, 2, 0.5, nil)
	require.ErrorContains(t, err, "random source")
	_, err = ws.Forward(x, 2, 0, nil)
	require.NoError(t, err)
	_, err = ws.Loss(BinaryCrossEntropy, []int{0}, nil)
	require.ErrorContains(t, err, "1 labels for a batch of 2")
	_, err = ws.Loss(BinaryCrossEntropy, []int{0, 3}, nil)
	require.ErrorContains(t, err, "label 3 of row 1")
	_, err = ws.Loss(CrossEntropy, []int{0, 1}, nil)
	require.ErrorContains(t, err, "at least 2 outputs")
}
