package nn

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Layer is one fully connected layer, y = x·Wᵀ + B, in PyTorch's nn.Linear
// layout. W and B are views into the network's parameter vector: change
// their values, never the slices themselves.
type Layer struct {
	In, Out int
	// W holds the weights, Out×In row-major (W[o*In+i] connects input i to
	// output o).
	W []float64
	// B holds the Out biases.
	B []float64
}

// Network is a multilayer perceptron (or, without hidden layers, a logistic
// regression). Hidden layers apply Spec.Activation and, while training,
// inverted dropout; the last layer outputs logits. All parameters live in one
// flat vector (Params) laid out layer by layer, weights then biases, which is
// the layout of gradients and optimizer state too.
//
// A Network is safe for concurrent PredictProba calls as long as nothing
// changes its parameters meanwhile.
type Network struct {
	Spec   Spec
	Layers []Layer

	act    activation
	params []float64
}

// New returns a network for spec with parameters drawn as PyTorch's
// nn.Linear does by default: kaiming_uniform with a = √5 for the weights and
// the same bound for the biases, i.e. W, B ~ U(-1/√in, 1/√in). The same
// initialisation is used for every activation (so the pure-Go and libtorch
// backends start from the same distribution). The draw is deterministic in
// seed.
func New(spec Spec, seed uint64) (*Network, error) {
	n, err := alloc(spec)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x6e6e2d696e6974)) // "nn-init"
	for _, l := range n.Layers {
		bound := 1 / math.Sqrt(float64(l.In))
		for i := range l.W {
			l.W[i] = (2*rng.Float64() - 1) * bound
		}
		for i := range l.B {
			l.B[i] = (2*rng.Float64() - 1) * bound
		}
	}
	return n, nil
}

// alloc validates spec and returns a network with zero parameters.
func alloc(spec Spec) (*Network, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	spec.Hidden = slices.Clone(spec.Hidden)
	n := &Network{Spec: spec}
	if len(spec.Hidden) > 0 {
		n.act, _ = parseActivation(spec.Activation) // validated above
	}
	w := spec.Widths()
	total := 0
	for l := 1; l < len(w); l++ {
		total += w[l]*w[l-1] + w[l]
	}
	n.params = make([]float64, total)
	n.Layers = layerViews(w, n.params)
	return n, nil
}

// layerViews cuts buf into per-layer weight and bias views for the widths w.
func layerViews(w []int, buf []float64) []Layer {
	layers := make([]Layer, len(w)-1)
	off := 0
	for l := range layers {
		in, out := w[l], w[l+1]
		layers[l] = Layer{
			In: in, Out: out,
			W: buf[off : off+in*out : off+in*out],
			B: buf[off+in*out : off+in*out+out : off+in*out+out],
		}
		off += in*out + out
	}
	return layers
}

// Params returns the flat parameter vector (a view: writes change the
// network).
func (n *Network) Params() []float64 { return n.params }

// NumParams returns the number of parameters.
func (n *Network) NumParams() int { return len(n.params) }

// Clone returns a deep copy of n.
func (n *Network) Clone() *Network {
	c, _ := alloc(n.Spec) // n.Spec was validated when n was made
	copy(c.params, n.params)
	return c
}

// SetParams copies p into the parameter vector; it reports whether p had the
// right length (nothing is copied otherwise).
func (n *Network) SetParams(p []float64) bool {
	if len(p) != len(n.params) {
		return false
	}
	copy(n.params, p)
	return true
}

// maxWidth returns the widest layer output.
func (n *Network) maxWidth() int {
	m := 0
	for _, l := range n.Layers {
		m = max(m, l.Out, l.In)
	}
	return m
}
