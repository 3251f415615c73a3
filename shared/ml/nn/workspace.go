package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// Workspace holds every buffer one training step of a network needs for
// batches of up to a fixed number of rows, so that Forward, Loss and
// Backward allocate nothing. A training step is
//
//	logits, err := ws.Forward(x, rows, dropout, rng)
//	loss, err := ws.Loss(BinaryCrossEntropy, y, classWeights)
//	grad := ws.Backward(l2)
//	err = opt.Step(net.Params(), grad, lr)
//
// A Workspace reads the network's current parameters on every call; it is
// not safe for concurrent use.
type Workspace struct {
	net     *Network
	maxRows int
	train   bool

	rows    int
	dropout float64 // of the last Forward
	input   [][]float64
	z       [][]float64 // pre-activations (logits for the last layer)
	h       [][]float64 // hidden activations before dropout
	a       [][]float64 // hidden activations after dropout
	mask    [][]float64 // dropout multipliers: 0 or 1/(1-p)
	delta   [][]float64 // ∂loss/∂z per layer
	grad    []float64
	gLayers []Layer // views of grad in the layout of the parameters
}

// NewWorkspace returns a training workspace for n and batches of at most
// maxRows rows.
func NewWorkspace(n *Network, maxRows int) (*Workspace, error) {
	if maxRows < 1 {
		return nil, fmt.Errorf("nn: workspace for %d rows", maxRows)
	}
	return newWorkspace(n, maxRows, true), nil
}

// newWorkspace allocates the buffers; an inference workspace (train false)
// has no dropout, gradient or delta buffers.
func newWorkspace(n *Network, maxRows int, train bool) *Workspace {
	L := len(n.Layers)
	w := &Workspace{net: n, maxRows: maxRows, train: train,
		input: make([][]float64, L), z: make([][]float64, L),
		h: make([][]float64, L), a: make([][]float64, L)}
	for l, layer := range n.Layers {
		w.z[l] = make([]float64, maxRows*layer.Out)
		if l < L-1 {
			if n.act == actReLU && !train {
				w.h[l] = w.z[l] // ReLU in place is fine when no derivative is needed
			} else {
				w.h[l] = make([]float64, maxRows*layer.Out)
			}
		}
	}
	if train {
		w.mask = make([][]float64, L)
		w.delta = make([][]float64, L)
		for l, layer := range n.Layers {
			w.delta[l] = make([]float64, maxRows*layer.Out)
			if l < L-1 {
				w.mask[l] = make([]float64, maxRows*layer.Out)
				w.a[l] = make([]float64, maxRows*layer.Out)
			}
		}
		w.grad = make([]float64, len(n.params))
		w.gLayers = layerViews(n.Spec.Widths(), w.grad)
	}
	return w
}

// MaxRows returns the largest batch the workspace takes.
func (w *Workspace) MaxRows() int { return w.maxRows }

// Forward runs the network on rows rows of x (row-major, rows × Inputs) and
// returns the logits (rows × Outputs, a view into the workspace valid until
// the next call). With dropout p > 0 each hidden activation is zeroed with
// probability p and the rest scaled by 1/(1-p) (inverted dropout), the masks
// drawn from rng; p = 0 is evaluation mode and rng may be nil.
func (w *Workspace) Forward(x []float64, rows int, dropout float64, rng *rand.Rand) ([]float64, error) {
	n := w.net
	if rows < 1 || rows > w.maxRows {
		return nil, fmt.Errorf("nn: forward %d rows through a workspace for 1..%d", rows, w.maxRows)
	}
	if len(x) < rows*n.Spec.Inputs {
		return nil, fmt.Errorf("nn: forward %d rows of %d inputs from %d values", rows, n.Spec.Inputs, len(x))
	}
	if dropout != 0 {
		if !w.train || rng == nil || !(dropout > 0 && dropout < 1) {
			return nil, fmt.Errorf("nn: dropout %v needs a training workspace, a rate in [0, 1) and a random source", dropout)
		}
	}
	w.rows, w.dropout = rows, dropout
	in := x[:rows*n.Spec.Inputs]
	last := len(n.Layers) - 1
	for l, layer := range n.Layers {
		w.input[l] = in
		z := w.z[l][:rows*layer.Out]
		linear(layer, in, rows, z)
		if l == last {
			break
		}
		h := w.h[l][:rows*layer.Out]
		activate(n.act, z, h)
		in = h
		if dropout > 0 {
			a := w.a[l][:rows*layer.Out]
			drop(rng, dropout, w.mask[l][:rows*layer.Out], h, a)
			in = a
		}
	}
	return w.z[last][:rows*n.Layers[last].Out], nil
}

// linear writes z = x·Wᵀ + B for rows rows.
func linear(layer Layer, x []float64, rows int, z []float64) {
	for r := range rows {
		copy(z[r*layer.Out:(r+1)*layer.Out], layer.B)
	}
	blas64.Gemm(blas.NoTrans, blas.Trans, 1,
		blas64.General{Rows: rows, Cols: layer.In, Stride: layer.In, Data: x},
		blas64.General{Rows: layer.Out, Cols: layer.In, Stride: layer.In, Data: layer.W},
		1, blas64.General{Rows: rows, Cols: layer.Out, Stride: layer.Out, Data: z})
}

// drop draws inverted-dropout multipliers into mask and writes a = h·mask.
// Each 64-bit draw gives two 32-bit uniforms; an element is dropped when its
// uniform is below p·2³², i.e. with probability p to within 2⁻³².
func drop(rng *rand.Rand, p float64, mask, h, a []float64) {
	thr := uint32(min(p*(1<<32), math.MaxUint32))
	scale := 1 / (1 - p)
	i := 0
	for ; i+1 < len(mask); i += 2 {
		u := rng.Uint64()
		mask[i], mask[i+1] = scale, scale
		if uint32(u) < thr {
			mask[i] = 0
		}
		if uint32(u>>32) < thr {
			mask[i+1] = 0
		}
	}
	if i < len(mask) {
		mask[i] = scale
		if uint32(rng.Uint64()) < thr {
			mask[i] = 0
		}
	}
	for i, m := range mask {
		a[i] = h[i] * m
	}
}

// Loss evaluates loss on the logits of the last Forward against labels y
// (one per row) and class weights (nil = all 1), returns the mean loss, and
// stores its gradient with respect to the logits for Backward.
func (w *Workspace) Loss(loss Loss, y []int, classWeights []float64) (float64, error) {
	if !w.train {
		return 0, fmt.Errorf("nn: loss gradient needs a training workspace")
	}
	n := w.net
	out := n.Spec.Outputs
	if len(y) != w.rows {
		return 0, fmt.Errorf("nn: %d labels for a batch of %d rows", len(y), w.rows)
	}
	if err := loss.Check(out, classWeights); err != nil {
		return 0, err
	}
	if err := checkLabels(y, loss.classes(out)); err != nil {
		return 0, err
	}
	last := len(n.Layers) - 1
	delta := w.delta[last][:w.rows*out]
	total, norm, err := loss.forward(w.z[last][:w.rows*out], out, y, classWeights, delta)
	if err != nil {
		return 0, err
	}
	inv := 1 / norm
	for i := range delta {
		delta[i] *= inv
	}
	return total * inv, nil
}

// Backward back-propagates the gradient stored by Loss and returns the
// gradient of the mean loss plus (l2/2)·ΣW² (an L2 penalty on the weights,
// not the biases; l2 = 0 for none) with respect to every parameter, in the
// layout of Network.Params. The slice is the workspace's and is overwritten
// by the next call.
func (w *Workspace) Backward(l2 float64) []float64 {
	n := w.net
	rows := w.rows
	for l := len(n.Layers) - 1; l >= 0; l-- {
		layer := n.Layers[l]
		g := w.gLayers[l]
		d := w.delta[l][:rows*layer.Out]
		D := blas64.General{Rows: rows, Cols: layer.Out, Stride: layer.Out, Data: d}
		// ∂W = Dᵀ·X, ∂B = column sums of D.
		blas64.Gemm(blas.Trans, blas.NoTrans, 1, D,
			blas64.General{Rows: rows, Cols: layer.In, Stride: layer.In, Data: w.input[l]},
			0, blas64.General{Rows: layer.Out, Cols: layer.In, Stride: layer.In, Data: g.W})
		clear(g.B)
		for r := range rows {
			row := d[r*layer.Out : (r+1)*layer.Out]
			for k, v := range row {
				g.B[k] += v
			}
		}
		if l2 != 0 {
			blas64.Implementation().Daxpy(len(g.W), l2, layer.W, 1, g.W, 1)
		}
		if l == 0 {
			break
		}
		// ∂X = D·W, then through dropout and the activation of layer l-1.
		prev := w.delta[l-1][:rows*layer.In]
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, D,
			blas64.General{Rows: layer.Out, Cols: layer.In, Stride: layer.In, Data: layer.W},
			0, blas64.General{Rows: rows, Cols: layer.In, Stride: layer.In, Data: prev})
		if w.dropout > 0 {
			for i, m := range w.mask[l-1][:len(prev)] {
				prev[i] *= m
			}
		}
		scaleByDerivative(n.act, w.z[l-1][:len(prev)], w.h[l-1][:len(prev)], prev)
	}
	return w.grad
}
