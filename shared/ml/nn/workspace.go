package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/orrery-ml/orrery/shared/ml/nn/internal/affine"
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
// Internally activations are stored feature-major (one contiguous run of
// rows values per unit), so every BLAS call works on vectors as long as the
// batch: Zᵀ = W·Aᵀ forward, ∂W = Dᵀ·A and ∂Aᵀ = Wᵀ·Dᵀ backward.
//
// A Workspace reads the network's current parameters on every call; it is
// not safe for concurrent use.
type Workspace struct {
	net     *Network
	maxRows int
	train   bool

	rows    int
	dropout float64 // of the last Forward
	// The float64 activations; a float32 workspace keeps only the last
	// layer's z and delta here (the loss reads and writes them).
	activations[float64]
	logits  []float64 // rows × Outputs, row-major (multi-output networks)
	dlogits []float64 // ∂loss/∂logits, rows × Outputs (multi-output networks)
	grad    []float64
	gLayers []Layer // views of grad in the layout of the parameters

	f32 *engine32 // the float32 buffers of a PrecisionFloat32 workspace, else nil
}

// NewWorkspace returns a training workspace for n and batches of at most
// maxRows rows.
func NewWorkspace(n *Network, maxRows int) (*Workspace, error) {
	if maxRows < 1 {
		return nil, fmt.Errorf("nn: workspace for %d rows", maxRows)
	}
	return newWorkspace(n, maxRows, true), nil
}

// activations are the per-layer buffers of one precision, all
// feature-major (out × rows): the float64 workspace and the float32 engine
// share their layout, allocation and reading.
type activations[T float] struct {
	xT    []T   // the input, transposed: Inputs × rows
	z     [][]T // pre-activations (logits for the last layer)
	h     [][]T // hidden activations before dropout
	a     [][]T // hidden activations after dropout
	mask  [][]T // dropout multipliers, 0 or 1/(1-p)
	delta [][]T // ∂loss/∂z
}

// newActivations allocates the buffers of n for maxRows rows; a training
// set (train) has dropout and delta buffers too. keepZ says which layers
// store their pre-activations; an inference set with ReLU computes h in
// place in z.
func newActivations[T float](n *Network, maxRows int, train bool, keepZ func(l int) bool) activations[T] {
	L := len(n.Layers)
	b := activations[T]{xT: make([]T, maxRows*n.Spec.Inputs), z: make([][]T, L), h: make([][]T, L)}
	if train {
		b.a, b.mask, b.delta = make([][]T, L), make([][]T, L), make([][]T, L)
	}
	for l, layer := range n.Layers {
		size := maxRows * layer.Out
		if keepZ(l) {
			b.z[l] = make([]T, size)
		}
		if train {
			b.delta[l] = make([]T, size)
		}
		if l == L-1 {
			continue
		}
		if b.z[l] != nil && n.act == actReLU && !train {
			b.h[l] = b.z[l] // ReLU in place is fine when no derivative is needed
		} else {
			b.h[l] = make([]T, size)
		}
		if train {
			b.mask[l], b.a[l] = make([]T, size), make([]T, size)
		}
	}
	return b
}

// input returns the input of layer l in the last Forward of rows rows:
// the transposed batch, or the previous layer's activation (after
// dropout when there was dropout).
func (b *activations[T]) input(n *Network, l, rows int, dropped bool) []T {
	if l == 0 {
		return b.xT[:rows*n.Spec.Inputs]
	}
	size := rows * n.Layers[l].In
	if dropped {
		return b.a[l-1][:size]
	}
	return b.h[l-1][:size]
}

// newWorkspace allocates the buffers; an inference workspace (train false)
// has no dropout, gradient or delta buffers.
func newWorkspace(n *Network, maxRows int, train bool) *Workspace {
	w := &Workspace{net: n, maxRows: maxRows, train: train,
		activations: newActivations[float64](n, maxRows, train, func(int) bool { return true })}
	if out := n.Spec.Outputs; out > 1 {
		w.logits = make([]float64, maxRows*out)
		if train {
			w.dlogits = make([]float64, maxRows*out)
		}
	}
	if train {
		w.grad = make([]float64, len(n.params))
		w.gLayers = layerViews(n.Spec.Widths(), w.grad)
	}
	return w
}

// MaxRows returns the largest batch the workspace takes.
func (w *Workspace) MaxRows() int { return w.maxRows }

// Forward runs the network on rows rows of x (row-major, rows × Inputs) and
// returns the logits (rows × Outputs, row-major, a view into the workspace
// valid until the next call). With dropout p > 0 each hidden activation is
// zeroed with probability p and the rest scaled by 1/(1-p) (inverted
// dropout), the masks drawn from rng; p = 0 is evaluation mode and rng may be
// nil.
func (w *Workspace) Forward(x []float64, rows int, dropout float64, rng *rand.Rand) ([]float64, error) {
	n := w.net
	in := n.Spec.Inputs
	if rows < 1 || rows > w.maxRows {
		return nil, fmt.Errorf("nn: forward %d rows through a workspace for 1..%d", rows, w.maxRows)
	}
	if len(x) < rows*in {
		return nil, fmt.Errorf("nn: forward %d rows of %d inputs from %d values", rows, in, len(x))
	}
	if dropout != 0 {
		if !w.train || rng == nil || !(dropout > 0 && dropout < 1) {
			return nil, fmt.Errorf("nn: dropout %v needs a training workspace, a rate in [0, 1) and a random source", dropout)
		}
	}
	w.rows, w.dropout = rows, dropout
	if w.f32 != nil {
		return w.forward32(x, rows, dropout, rng), nil
	}
	transpose(x[:rows*in], rows, in, w.xT)
	act := w.xT[:rows*in]
	last := len(n.Layers) - 1
	for l, layer := range n.Layers {
		z := w.z[l][:rows*layer.Out]
		linear(layer, act, rows, z)
		if l == last {
			break
		}
		h := w.h[l][:rows*layer.Out]
		activate(n.act, z, h)
		act = h
		if dropout > 0 {
			a := w.a[l][:rows*layer.Out]
			drop(rng, dropout, w.mask[l][:rows*layer.Out], h, a)
			act = a
		}
	}
	out := n.Spec.Outputs
	if out == 1 {
		return w.z[last][:rows], nil
	}
	transpose(w.z[last][:rows*out], out, rows, w.logits)
	return w.logits[:rows*out], nil
}

// input returns the (transposed) input of layer l in the last Forward.
func (w *Workspace) input(l int) []float64 {
	return w.activations.input(w.net, l, w.rows, w.dropout > 0)
}

// transpose writes the transpose of the r×c row-major matrix src to dst
// (c×r, row-major), converting each element to dst's type.
func transpose[S, D float](src []S, r, c int, dst []D) {
	if c == 1 || r == 1 {
		for i, v := range src[:r*c] {
			dst[i] = D(v)
		}
		return
	}
	for i := range r {
		row := src[i*c : (i+1)*c]
		for j, v := range row {
			dst[j*r+i] = D(v)
		}
	}
}

// linear writes zᵀ = W·aᵀ + B for rows rows (aᵀ is In × rows, zᵀ Out × rows),
// with the bits of gonum's Dgemm on zᵀ set to B (affine.Layer).
func linear(layer Layer, aT []float64, rows int, zT []float64) {
	affine.Layer(layer.W, layer.Out, layer.In, layer.B, aT[:layer.In*rows], rows, zT[:layer.Out*rows])
}

// drop draws inverted-dropout multipliers into mask and writes a = h·mask.
func drop[T float](rng *rand.Rand, p float64, mask, h, a []T) {
	drawMask(rng, p, mask)
	applyMask(mask, h, a)
}

// drawMask draws inverted-dropout multipliers, 0 or 1/(1-p), into mask.
// Each 64-bit draw gives two 32-bit uniforms; an element is dropped when its
// uniform is below p·2³², i.e. with probability p to within 2⁻³². The
// selection is branch-free (the borrow of u - threshold indexes the
// multiplier), since a mispredicted branch per element would cost more than
// the draw. Both precisions draw the same masks from the same rng.
func drawMask[T float](rng *rand.Rand, p float64, mask []T) {
	thr := uint64(min(p*(1<<32), math.MaxUint32))
	mult := [2]T{T(1 / (1 - p)), 0} // kept, dropped
	n := len(mask)
	i := 0
	for ; i+1 < n; i += 2 {
		u := rng.Uint64()
		// (u mod 2³²) - thr borrows (bit 63 set) exactly when the uniform is
		// below thr: the element is dropped.
		mask[i], mask[i+1] = mult[(u&math.MaxUint32-thr)>>63], mult[(u>>32-thr)>>63]
	}
	if i < n {
		mask[i] = mult[(rng.Uint64()&math.MaxUint32-thr)>>63]
	}
}

// applyMask writes a = h·mask element-wise.
func applyMask[T float](mask, h, a []T) {
	h, a = h[:len(mask)], a[:len(mask)]
	for i, m := range mask {
		a[i] = h[i] * m
	}
}

// Loss evaluates loss on the logits of the last Forward against labels y
// (one per row) and class weights (nil = all 1), returns the mean loss, and
// stores its gradient with respect to the logits for Backward.
func (w *Workspace) Loss(loss Loss, y []int, classWeights []float64) (float64, error) {
	return w.WeightedLoss(loss, y, classWeights, nil)
}

// WeightedLoss is Loss with a sample weight per row of the batch
// (sampleWeights, nil for none): row i weighs classWeights[y_i] ×
// sampleWeights[i], normalised as Loss describes for class weights.
func (w *Workspace) WeightedLoss(loss Loss, y []int, classWeights, sampleWeights []float64) (float64, error) {
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
	if sampleWeights != nil && len(sampleWeights) != len(y) {
		return 0, fmt.Errorf("nn: %d sample weights for a batch of %d rows", len(sampleWeights), len(y))
	}
	last := len(n.Layers) - 1
	size := w.rows * out
	logits, delta := w.z[last][:size], w.delta[last][:size]
	if out > 1 {
		logits, delta = w.logits[:size], w.dlogits[:size]
	}
	total, norm, err := loss.forward(logits, out, y, classWeights, sampleWeights, delta)
	if err != nil {
		return 0, err
	}
	inv := 1 / norm
	for i := range delta {
		delta[i] *= inv
	}
	if out > 1 {
		transpose(delta, w.rows, out, w.delta[last])
	}
	return total * inv, nil
}

// Backward back-propagates the gradient stored by Loss and returns the
// gradient of the mean loss plus (l2/2)·ΣW² (an L2 penalty on the weights,
// not the biases; l2 = 0 for none) with respect to every parameter, in the
// layout of Network.Params. The slice is the workspace's and is overwritten
// by the next call.
func (w *Workspace) Backward(l2 float64) []float64 {
	if w.f32 != nil {
		return w.backward32(l2)
	}
	n := w.net
	rows := w.rows
	for l := len(n.Layers) - 1; l >= 0; l-- {
		layer := n.Layers[l]
		g := w.gLayers[l]
		dT := w.delta[l][:rows*layer.Out]
		D := blas64.General{Rows: layer.Out, Cols: rows, Stride: rows, Data: dT}
		// ∂W = Dᵀ·A (dots of batch length), ∂B = row sums of Dᵀ.
		blas64.Gemm(blas.NoTrans, blas.Trans, 1, D,
			blas64.General{Rows: layer.In, Cols: rows, Stride: rows, Data: w.input(l)},
			0, blas64.General{Rows: layer.Out, Cols: layer.In, Stride: layer.In, Data: g.W})
		for o := range g.B {
			g.B[o] = sum(dT[o*rows : (o+1)*rows])
		}
		if l2 != 0 {
			blas64.Implementation().Daxpy(len(g.W), l2, layer.W, 1, g.W, 1)
		}
		if l == 0 {
			break
		}
		// ∂Aᵀ = Wᵀ·Dᵀ, then back through dropout and the activation of
		// layer l-1.
		prev := w.delta[l-1][:rows*layer.In]
		blas64.Gemm(blas.Trans, blas.NoTrans, 1,
			blas64.General{Rows: layer.Out, Cols: layer.In, Stride: layer.In, Data: layer.W},
			D, 0, blas64.General{Rows: layer.In, Cols: rows, Stride: rows, Data: prev})
		if w.dropout > 0 {
			m := w.mask[l-1][:len(prev)]
			for i := range prev {
				prev[i] *= m[i]
			}
		}
		scaleByDerivative(n.act, w.z[l-1][:len(prev)], w.h[l-1][:len(prev)], prev)
	}
	return w.grad
}

// sum adds v with four accumulators.
func sum(v []float64) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(v); i += 4 {
		s0 += v[i]
		s1 += v[i+1]
		s2 += v[i+2]
		s3 += v[i+3]
	}
	for ; i < len(v); i++ {
		s0 += v[i]
	}
	return (s0 + s1) + (s2 + s3)
}
