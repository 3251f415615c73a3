package nn

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/orrery-ml/orrery/shared/ml/nn/internal/sgemm"
	"github.com/orrery-ml/orrery/shared/ml/nn/internal/team"
	"github.com/orrery-ml/orrery/shared/ml/nn/internal/vec"
)

// Precisions of a training workspace's arithmetic (WorkspaceOptions).
const (
	// PrecisionFloat32 computes activations, products and gradients in
	// float32 with the packed GEMM of internal/sgemm (AVX2/FMA on amd64).
	// Parameters, optimizer state, losses and returned gradients stay
	// float64: each Forward rounds the current parameters to float32 and
	// Backward widens the gradient.
	PrecisionFloat32 = "float32"
	// PrecisionFloat64 computes everything in float64 (gonum's BLAS), the
	// precision of NewWorkspace.
	PrecisionFloat64 = "float64"
)

// WorkspaceOptions tunes NewWorkspaceWith.
type WorkspaceOptions struct {
	// Precision is PrecisionFloat32 or PrecisionFloat64; empty means
	// PrecisionFloat64.
	Precision string
	// Threads is the most goroutines a float32 training step uses: a
	// persistent team (internal/team) that splits the batch by columns
	// and the weight gradients by rows once a step has at least
	// parallelMACs multiply-adds per goroutine, with results
	// bit-identical for every thread count. Never more than GOMAXPROCS,
	// 4096 or the batch's 32- (16-) column strips run at once. 0 means
	// runtime.GOMAXPROCS(0); a negative value is refused. Float64
	// workspaces are single-threaded.
	Threads int
}

// NewWorkspaceWith is NewWorkspace with a choice of precision and threads.
func NewWorkspaceWith(n *Network, maxRows int, opts WorkspaceOptions) (*Workspace, error) {
	if maxRows < 1 {
		return nil, fmt.Errorf("nn: workspace for %d rows", maxRows)
	}
	if opts.Threads < 0 {
		return nil, fmt.Errorf("nn: workspace with %d threads", opts.Threads)
	}
	switch opts.Precision {
	case "", PrecisionFloat64:
		return newWorkspace(n, maxRows, true), nil
	case PrecisionFloat32:
	default:
		return nil, fmt.Errorf("nn: precision %q is not %s or %s", opts.Precision, PrecisionFloat32, PrecisionFloat64)
	}
	threads := opts.Threads
	if threads == 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	return newWorkspace32(n, maxRows, threads), nil
}

// Float32Kernel names the matrix-product micro-kernel of float32
// workspaces on this CPU: "avx512 8x32", "avx2 6x16" or "go 6x16".
func Float32Kernel() string { return sgemm.Kernel() }

// Precision returns the workspace's arithmetic, PrecisionFloat32 or
// PrecisionFloat64.
func (w *Workspace) Precision() string {
	if w.f32 != nil {
		return PrecisionFloat32
	}
	return PrecisionFloat64
}

// engine32 holds the float32 buffers of a PrecisionFloat32 workspace, all
// feature-major (out × rows) like the float64 ones, and the team that
// splits its steps.
//
// A step runs in three phases, each one fork-join of the team (Forward's,
// then two in Backward), so that no product waits for another goroutine:
// in feature-major layout column j of every layer's z, h and delta
// depends only on column j (row j of the batch) of the layer before, so
// the forward pass and the back-propagation of delta split the batch
// into ranges of columns that each item carries through every layer; the
// weight gradients ∂W = Dᵀ·A, sums over the whole batch, then split each
// layer's output units into ranges of rows. Ranges start at multiples of
// the micro-kernel's tile, so every item computes exactly the tiles the
// whole product would, with the same sums in the same order: the results
// do not depend on the split or on which goroutine runs which item, and
// no per-goroutine gradient needs reducing. There are a few items per
// goroutine, claimed one at a time (team.Team), so that a goroutine the
// operating system leaves waiting on a loaded machine holds up no share.
type engine32 struct {
	ws      *Workspace
	gemm    []sgemm.Context // the packing buffers of each team worker
	team    *team.Team      // nil with one thread
	threads int
	// macs is the multiply-adds of one row through the network's
	// forward products, which decides how many goroutines a step pays
	// for.
	macs   int
	mr, nr int // the micro-kernel's tile
	// The gradient phase's items: one per layer when a step runs on one
	// goroutine, else ranges of each layer's rows.
	gradWhole, gradSplit []rowRange
	w, b                 [][]float32 // the parameters rounded by the last Forward
	activations[float32]
	gw [][]float32 // ∂loss/∂W, Out × In
	// packedIn[l] is layer l's input packed as the B operand of its
	// gradient product (sgemm.PackB): each column item of the forward
	// pass packs its columns, so that the gradient's row items share one
	// packing instead of each packing all of it.
	packedIn [][]float32
	// packedW[l] and packedWT[l] are W and Wᵀ packed as the A operands
	// of the forward and delta products, once per step for all items.
	packedW, packedWT [][]float32

	// The step in progress, read by RunItem.
	phase   int
	workers int // goroutines of the current step
	items   int // of the current column phase
	strips  int // column strips of the current batch
	x       []float64
	l2      float64
	grad    []rowRange
}

// rowRange is rows [lo, hi) of layer l's gradient.
type rowRange struct{ l, lo, hi int }

// Phases of a float32 step (engine32).
const (
	phaseForward = iota // columns: the batch through every layer
	phaseDelta          // columns: ∂loss/∂z back through every layer
	phaseGrad           // rows of each ∂W: products over the whole batch
)

// itemsPerWorker is how many items a phase has per goroutine (when the
// batch has that many column strips).
const itemsPerWorker = 4

// maxThreads bounds WorkspaceOptions.Threads (and so a phase's items,
// within what a team.Run takes).
const maxThreads = 1 << 12

// parallelMACs is the fewest forward multiply-adds (rows × the network's
// multiply-adds per row) per goroutine for which a step is split: below
// it the hand-offs between goroutines cost more than the split saves.
// 2^18 forward multiply-adds are a step of about 25 µs of one AVX-512
// core (forward and backward), against three fork-joins of 0.3–1 µs each
// while the other goroutine spins (team.BenchmarkRun, under load) and
// tens of µs once it has parked. On the shared 2-core AMD EPYC,
// BenchmarkTrainStepFloat32 with -nn.split 1 (every step split) cost
// 50–70 % more CPU per sample than one goroutine at 8-32-1 batch 256,
// 8-64-64-1 batch 64 and 8-64-32-1 batch 128, all below the threshold;
// the wall times there were too loaded to place it more finely (README,
// "Threads of the MLP engine").
var parallelMACs = 1 << 18

// teamSpin is how long the team's goroutines spin before they park; 0
// means team.DefaultSpin. A variable for the benchmarks.
var teamSpin time.Duration

// newWorkspace32 allocates a float32 training workspace. The last layer's
// pre-activations and delta are float64 (the loss reads and writes them
// there, as for the float64 engine).
func newWorkspace32(n *Network, maxRows, threads int) *Workspace {
	L := len(n.Layers)
	w := &Workspace{net: n, maxRows: maxRows, train: true,
		activations: activations[float64]{z: make([][]float64, L), delta: make([][]float64, L)}}
	last := n.Layers[L-1]
	w.z[L-1] = make([]float64, maxRows*last.Out)
	w.delta[L-1] = make([]float64, maxRows*last.Out)
	if out := n.Spec.Outputs; out > 1 {
		w.logits = make([]float64, maxRows*out)
		w.dlogits = make([]float64, maxRows*out)
	}
	w.grad = make([]float64, len(n.params))
	w.gLayers = layerViews(n.Spec.Widths(), w.grad)
	// ReLU layers write h directly from the product: only the last layer
	// and other activations keep z.
	e := &engine32{ws: w, w: make([][]float32, L), b: make([][]float32, L), gw: make([][]float32, L),
		activations: newActivations[float32](n, maxRows, true, func(l int) bool { return l == L-1 || n.act != actReLU })}
	e.mr, e.nr = sgemm.Tile()
	for l, layer := range n.Layers {
		e.w[l] = make([]float32, len(layer.W))
		e.b[l] = make([]float32, len(layer.B))
		e.gw[l] = make([]float32, len(layer.W))
		e.packedIn = append(e.packedIn, make([]float32, sgemm.PackedBLen(maxRows, layer.In)))
		e.packedW = append(e.packedW, make([]float32, sgemm.PackedALen(layer.Out, layer.In)))
		e.packedWT = append(e.packedWT, make([]float32, sgemm.PackedALen(layer.In, layer.Out)))
		e.macs += layer.In * layer.Out
		e.gradWhole = append(e.gradWhole, rowRange{l, 0, layer.Out})
	}
	// No more goroutines than column strips of the largest batch, nor
	// than maxThreads.
	e.threads = max(1, min(threads, (maxRows+e.nr-1)/e.nr, maxThreads))
	e.gemm = make([]sgemm.Context, e.threads)
	for i := range e.gemm {
		e.gemm[i].Threads = 1
	}
	if e.threads > 1 {
		e.gradSplit = splitRows(n.Layers, e.mr, itemsPerWorker*e.threads)
		e.team, _ = team.New(e.threads) // within 2..maxThreads
		e.team.Spin = teamSpin
		// The workers hold the team, not the workspace: they end once the
		// workspace is unreachable.
		runtime.AddCleanup(w, func(t *team.Team) { t.Stop() }, e.team)
	}
	w.f32 = e
	return w
}

// splitRows splits the layers' gradient rows into about items ranges of
// whole tiles, each layer's share of them in proportion to its
// multiply-adds.
func splitRows(layers []Layer, mr, items int) []rowRange {
	var total int
	for _, l := range layers {
		total += l.In * l.Out
	}
	var r []rowRange
	for l, layer := range layers {
		tiles := (layer.Out + mr - 1) / mr
		parts := min(tiles, max(1, (items*layer.In*layer.Out+total/2)/total))
		for p := range parts {
			lo, hi := span(layer.Out, mr, p, parts)
			r = append(r, rowRange{l, lo, hi})
		}
	}
	return r
}

// plan sets the goroutines and items of a step of rows rows.
func (e *engine32) plan(rows int) {
	e.strips = (rows + e.nr - 1) / e.nr
	e.workers = max(1, min(e.threads, e.strips, rows*e.macs/parallelMACs, runtime.GOMAXPROCS(0)))
	e.items, e.grad = 1, e.gradWhole
	if e.workers > 1 {
		e.items, e.grad = min(e.strips, itemsPerWorker*e.workers), e.gradSplit
	}
}

// pack returns packed[l] when the step is split, else nil: a step on one
// goroutine packs each operand inside its product (sgemm.GemmEpilogue),
// a K block at a time while it is in cache, and a split one packs the
// shared operands once (W before the forward pass, Wᵀ in items of its
// own beside the forward pass's, each layer's input as the forward items
// produce it).
func (e *engine32) pack(packed [][]float32, l int) []float32 {
	if e.workers > 1 {
		return packed[l]
	}
	return nil
}

// run executes phase: its items on the step's goroutines.
func (e *engine32) run(phase int) {
	e.phase = phase
	items := e.items
	switch phase {
	case phaseForward:
		if e.workers > 1 {
			items += len(e.packedWT) - 1 // and pack Wᵀ of layers 1..L-1
		}
	case phaseGrad:
		items = len(e.grad)
	}
	if e.workers <= 1 {
		for i := range items {
			e.RunItem(i, 0)
		}
		return
	}
	e.team.Run(e, items, e.workers)
}

// RunItem executes item item of the current phase on team worker worker
// (team.Task).
func (e *engine32) RunItem(item, worker int) {
	w, g := e.ws, &e.gemm[worker]
	switch e.phase {
	case phaseForward, phaseDelta:
		if item >= e.items { // forward: pack Wᵀ of layer l for the delta phase
			l := item - e.items + 1
			layer := w.net.Layers[l]
			sgemm.PackA(true, e.w[l], layer.In, layer.In, layer.Out, e.packedWT[l])
			return
		}
		s0, s1 := e.strips*item/e.items, e.strips*(item+1)/e.items
		lo, hi := s0*e.nr, min(s1*e.nr, w.rows)
		if lo >= hi {
			return
		}
		if e.phase == phaseForward {
			w.forwardColumns(g, lo, hi)
		} else {
			w.deltaColumns(g, lo, hi)
		}
	case phaseGrad:
		w.gradientRows(g, e.grad[item])
	}
}

// span returns part part of parts of [0, n) split at multiples of unit.
func span(n, unit, part, parts int) (lo, hi int) {
	units := (n + unit - 1) / unit
	return min(units*part/parts*unit, n), min(units*(part+1)/parts*unit, n)
}

// forward32 is Forward for a float32 workspace; its arguments are checked.
func (w *Workspace) forward32(x []float64, rows int, dropout float64, rng *rand.Rand) []float64 {
	n, e := w.net, w.f32
	e.plan(rows)
	for l, layer := range n.Layers {
		vec.Narrow(e.w[l], layer.W)
		vec.Narrow(e.b[l], layer.B)
		if e.workers > 1 { // Wᵀ is packed by items of the forward phase
			sgemm.PackA(false, e.w[l], layer.In, layer.Out, layer.In, e.packedW[l])
		}
	}
	last := len(n.Layers) - 1
	if dropout > 0 {
		// The masks, layer after layer, before the parts start: the same
		// draws in the same order whatever the split.
		for l, layer := range n.Layers[:last] {
			drawMask(rng, dropout, e.mask[l][:rows*layer.Out])
		}
	}
	e.x = x
	e.run(phaseForward)
	e.x = nil
	out := n.Spec.Outputs
	if out == 1 {
		return w.z[last][:rows]
	}
	transpose(w.z[last][:rows*out], out, rows, w.logits)
	return w.logits[:rows*out]
}

// forwardColumns runs columns [lo, hi) of the batch (its rows lo..hi-1)
// through every layer.
func (w *Workspace) forwardColumns(g *sgemm.Context, lo, hi int) {
	n, e := w.net, w.f32
	rows, in, cols := w.rows, n.Spec.Inputs, hi-lo
	xT := e.xT[:rows*in]
	for i := lo; i < hi; i++ {
		for j, v := range e.x[i*in : (i+1)*in] {
			xT[j*rows+i] = float32(v)
		}
	}
	act := xT
	last := len(n.Layers) - 1
	for l, layer := range n.Layers {
		if e.workers > 1 {
			sgemm.PackB(true, act, rows, rows, layer.In, lo, hi, e.packedIn[l])
		}
		// z = W·act + b, the bias (and for ReLU the activation) applied
		// by the product's epilogue while each tile is in registers.
		size := rows * layer.Out
		ep := sgemm.Epilogue{Overwrite: true, Bias: e.b[l]}
		if l == last {
			z, zl := e.z[l][:size], w.z[l][:size]
			g.GemmPacked(false, false, layer.Out, cols, layer.In, e.w[l], layer.In, e.pack(e.packedW, l), act[lo:], rows, nil, z[lo:], rows, ep)
			for o := range layer.Out {
				for i, v := range z[o*rows+lo : o*rows+hi] {
					zl[o*rows+lo+i] = float64(v)
				}
			}
			break
		}
		h := e.h[l][:size]
		if n.act == actReLU {
			ep.ReLU = true
			g.GemmPacked(false, false, layer.Out, cols, layer.In, e.w[l], layer.In, e.pack(e.packedW, l), act[lo:], rows, nil, h[lo:], rows, ep)
		} else {
			z := e.z[l][:size]
			g.GemmPacked(false, false, layer.Out, cols, layer.In, e.w[l], layer.In, e.pack(e.packedW, l), act[lo:], rows, nil, z[lo:], rows, ep)
			for o := range layer.Out {
				activate(n.act, z[o*rows+lo:o*rows+hi], h[o*rows+lo:o*rows+hi])
			}
		}
		act = h
		if w.dropout > 0 {
			a, m := e.a[l][:size], e.mask[l][:size]
			for o := range layer.Out {
				applyMask(m[o*rows+lo:o*rows+hi], h[o*rows+lo:o*rows+hi], a[o*rows+lo:o*rows+hi])
			}
			act = a
		}
	}
}

// input32 returns the float32 input of layer l in the last Forward.
func (w *Workspace) input32(l int) []float32 {
	return w.f32.activations.input(w.net, l, w.rows, w.dropout > 0)
}

// backward32 is Backward for a float32 workspace: delta back through the
// layers by columns, then the gradients by rows.
func (w *Workspace) backward32(l2 float64) []float64 {
	e := w.f32
	e.l2 = l2
	e.run(phaseDelta)
	e.run(phaseGrad)
	return w.grad
}

// deltaColumns back-propagates columns [lo, hi) of the loss's delta
// through every layer: ∂Aᵀ = Wᵀ·Dᵀ, then back through dropout and the
// activation.
func (w *Workspace) deltaColumns(g *sgemm.Context, lo, hi int) {
	n, e := w.net, w.f32
	rows, cols := w.rows, hi-lo
	last := len(n.Layers) - 1
	d64, d32 := w.delta[last], e.delta[last]
	for o := range n.Layers[last].Out {
		for i, v := range d64[o*rows+lo : o*rows+hi] {
			d32[o*rows+lo+i] = float32(v)
		}
	}
	for l := last; l > 0; l-- {
		layer := n.Layers[l]
		dT := e.delta[l][:rows*layer.Out]
		prev := e.delta[l-1][:rows*layer.In]
		if n.act == actReLU {
			// ReLU and dropout in the product's epilogue: the gradient
			// passes where the layer's (dropped) input is not 0, scaled
			// by dropout's 1/(1-p), the value of the mask there.
			ep := sgemm.Epilogue{Overwrite: true, Gate: w.input32(l)[lo:], LDGate: rows, GateScale: 1}
			if w.dropout > 0 {
				ep.GateScale = float32(1 / (1 - w.dropout))
			}
			g.GemmPacked(true, false, layer.In, cols, layer.Out, e.w[l], layer.In, e.pack(e.packedWT, l), dT[lo:], rows, nil, prev[lo:], rows, ep)
			continue
		}
		g.GemmPacked(true, false, layer.In, cols, layer.Out, e.w[l], layer.In, e.pack(e.packedWT, l), dT[lo:], rows, nil, prev[lo:], rows,
			sgemm.Epilogue{Overwrite: true})
		for i := range layer.In {
			seg := prev[i*rows+lo : i*rows+hi]
			if w.dropout > 0 {
				for j, m := range e.mask[l-1][i*rows+lo : i*rows+hi] {
					seg[j] *= m
				}
			}
			scaleByDerivative(n.act, e.z[l-1][i*rows+lo:i*rows+hi], e.h[l-1][i*rows+lo:i*rows+hi], seg)
		}
	}
}

// gradientRows computes rows [r.lo, r.hi) (output units) of layer r.l's
// gradient: ∂W = Dᵀ·A and ∂B, widened to float64, plus the L2 term.
func (w *Workspace) gradientRows(g *sgemm.Context, r rowRange) {
	e := w.f32
	rows, layer, lo, hi := w.rows, w.net.Layers[r.l], r.lo, r.hi
	in := layer.In
	dT := e.delta[r.l][:rows*layer.Out]
	gl, gw := w.gLayers[r.l], e.gw[r.l]
	g.GemmPacked(false, true, hi-lo, in, rows, dT[lo*rows:], rows, nil, w.input32(r.l), rows, e.pack(e.packedIn, r.l), gw[lo*in:], in,
		sgemm.Epilogue{Overwrite: true})
	vec.Widen(gl.W[lo*in:hi*in], gw[lo*in:hi*in])
	for o := lo; o < hi; o++ {
		gl.B[o] = vec.Sum(dT[o*rows : (o+1)*rows])
	}
	if l2 := e.l2; l2 != 0 {
		for i, v := range layer.W[lo*in : hi*in] {
			gl.W[lo*in+i] += l2 * v
		}
	}
}
