package trees

import (
	"container/heap"
	"math/rand/v2"
	"slices"

	"github.com/orrery-ml/orrery/shared/ml/trees/internal/histo"
)

// binned is the training matrix binned column by column (bin 0 = missing).
type binned struct {
	rows     int
	bins     [][]uint8   // [feature][row]
	rowMajor []uint8     // [row*features+feature]: the same bins row by row
	edges    [][]float64 // [feature]: upper bound of value bin b+1 is edges[b]
}

// binMatrix bins x (rows × features, row-major): edges fitted on all rows
// or, beyond binSampleRows, on a fixed-seed uniform sample of them.
func binMatrix(x []float64, rows, features, workers int) *binned {
	b := &binned{rows: rows, bins: make([][]uint8, features), rowMajor: make([]uint8, rows*features), edges: make([][]float64, features)}
	var sample []int32
	if rows > binSampleRows {
		rng := rand.New(rand.NewPCG(0x5eed, uint64(rows)))
		perm := rng.Perm(rows)[:binSampleRows]
		sample = make([]int32, binSampleRows)
		for i, r := range perm {
			sample[i] = int32(r)
		}
		slices.Sort(sample)
	}
	// Edges feature by feature, then the bins by blocks of rows, every
	// feature of a row at once: the matrix is row-major, so a pass per
	// feature would read a cache line for every value.
	search := make([]*binSearch, features)
	parallel(features, workers, func(f int) {
		var col []float64
		if sample == nil {
			col = make([]float64, rows)
			for r := range rows {
				col[r] = x[r*features+f]
			}
		} else {
			col = make([]float64, len(sample))
			for i, r := range sample {
				col[i] = x[int(r)*features+f]
			}
		}
		b.edges[f] = binEdges(col)
		b.bins[f] = make([]uint8, rows)
		if len(b.edges[f]) > 0 {
			search[f] = newBinSearch(b.edges[f])
		}
	})
	const block = 8192
	parallel((rows+block-1)/block, workers, func(bi int) {
		lo, hi := bi*block, min(rows, (bi+1)*block)
		for r := lo; r < hi; r++ {
			xr := x[r*features : (r+1)*features]
			br := b.rowMajor[r*features : (r+1)*features]
			for f, v := range xr {
				if s := search[f]; s != nil {
					br[f] = s.bin(v)
					b.bins[f][r] = br[f]
				}
			}
		}
	})
	return b
}

// growParams are one tree's growth limits.
type growParams struct {
	maxLeaves int // ≥ 2; leaf-wise growth stops there
	maxDepth  int // 0: unlimited
	minLeaf   int // rows per leaf at least
	minHess   float64
	l2        float64
	// nodeFeatures > 0 draws that many candidate features at every node
	// (random forests, exactGrower; the histogram grower uses the tree's
	// features at every node).
	nodeFeatures int
	// scale multiplies every leaf value (the learning rate).
	scale float64
}

// grower grows boosting's trees on binned data from per-row gradients
// and hessians; a leaf's value is -scale·G/(H+l2) and a split's gain
// G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ).
type grower struct {
	b *binned
	// gh holds row r's gradient at 2r and its hessian at 2r+1: one cache
	// line serves both when a node's rows are gathered.
	gh      []float64
	feats   []int // features the tree may use
	workers int
	p       growParams
	idx     []int32 // rows of the tree, partitioned in place by node
	tmp     []int32 // scratch for the stable partition
	ord     []float64
	free    []*hist // released histograms (newHist)
}

// hist is one node's histogram over len(feats) features: feature
// position fi's is vals[fi] (bin b: the sum of the gradients, that of the
// hessians, the row count).
type hist struct {
	feats []int
	vals  []histo.Hist
}

// of is feature position fi's histogram.
func (h *hist) of(fi int) *histo.Hist { return &h.vals[fi] }

type split struct {
	fi          int // position in the node's hist.feats; -1 none
	bin         int // value bins 1..bin go left
	defaultLeft bool
	gain        float64
}

type node struct {
	id        int32
	lo, hi    int // rows idx[lo:hi]
	depth     int
	g, h      float64
	hist      *hist
	best      split
	candidate bool
}

// bestFirst is a max-heap of nodes by the gain of their best split, for
// container/heap: leaf-wise growth splits the best node first.
type bestFirst[N any] struct {
	nodes []N
	gain  func(N) float64
}

func (q *bestFirst[N]) Len() int           { return len(q.nodes) }
func (q *bestFirst[N]) Less(i, j int) bool { return q.gain(q.nodes[i]) > q.gain(q.nodes[j]) }
func (q *bestFirst[N]) Swap(i, j int)      { q.nodes[i], q.nodes[j] = q.nodes[j], q.nodes[i] }
func (q *bestFirst[N]) Push(x any)         { q.nodes = append(q.nodes, x.(N)) }
func (q *bestFirst[N]) Pop() any {
	x := q.nodes[len(q.nodes)-1]
	q.nodes = q.nodes[:len(q.nodes)-1]
	return x
}

const stride = maxBins + 1

var _ = [1]struct{}{}[stride-histo.Bins] // the grower's bins are histo's

// newHist returns a zeroed histogram over feats, reusing a released one
// at least as large (a tree's histograms would otherwise be garbage by the
// hundred kilobytes a node).
func (gr *grower) newHist(feats []int) *hist {
	size := len(feats)
	if l := len(gr.free); l > 0 && cap(gr.free[l-1].vals) >= size {
		h := gr.free[l-1]
		gr.free = gr.free[:l-1]
		h.vals = h.vals[:size]
		clear(h.vals)
		h.feats = feats
		return h
	}
	return &hist{feats: feats, vals: make([]histo.Hist, size)}
}

// release hands a histogram no node uses any more back to newHist.
func (gr *grower) release(h *hist) {
	if h != nil {
		gr.free = append(gr.free, h)
	}
}

// gatherChunk is the fewest rows one goroutine gathers gradients for.
const gatherChunk = 1 << 15

// build fills a histogram of rows over feats, in parallel over features.
// also (may be nil) runs beside the passes, as one more of them.
func (gr *grower) build(rows []int32, feats []int, also func()) *hist {
	hs := gr.newHist(feats)
	// Ordered gradients (LightGBM): the node's gradient pairs gathered
	// once, so every feature's pass reads them in sequence (and its bins
	// in ascending row order, the partition being stable). All rows in
	// order (the root without subsampling) are gh itself.
	inOrder := len(rows) == gr.b.rows && len(rows) > 0 && int(rows[len(rows)-1]) == gr.b.rows-1
	if !inOrder && len(feats) == len(gr.b.bins) {
		// Every feature: from the row-major copy, the features split
		// among the workers in contiguous runs.
		d := len(feats)
		parts := min(gr.workers, d)
		first := b2i(also != nil)
		parallel(first+parts, gr.workers, func(p int) {
			if p < first {
				also()
				return
			}
			p -= first
			lo, hi := p*d/parts, (p+1)*d/parts
			histo.Rows(hs.vals[lo:hi], gr.b.rowMajor[lo:], d, rows, gr.gh)
		})
		return hs
	}
	ord := gr.gh[:2*len(rows)]
	if !inOrder {
		if cap(gr.ord) < 2*len(rows) {
			gr.ord = make([]float64, len(gr.gh))
		}
		ord = gr.ord[:2*len(rows)]
		gather := func(lo, hi int) {
			for i := lo; i < hi; i++ {
				r := int(rows[i])
				ord[2*i], ord[2*i+1] = gr.gh[2*r], gr.gh[2*r+1]
			}
		}
		if chunks := len(rows) / gatherChunk; chunks >= 2 && gr.workers > 1 {
			parallel(chunks, gr.workers, func(c int) {
				hi := (c + 1) * gatherChunk
				if c == chunks-1 {
					hi = len(rows)
				}
				gather(c*gatherChunk, hi)
			})
		} else {
			gather(0, len(rows))
		}
	}
	// Two features a pass: the row number and its gradient pair are
	// loaded once for both.
	pairs := (len(feats) + 1) / 2
	first := b2i(also != nil) // also first: the longest job
	parallel(first+pairs, gr.workers, func(pi int) {
		if pi < first {
			also()
			return
		}
		pi -= first
		fa, fb := 2*pi, 2*pi+1
		ca := gr.b.bins[feats[fa]]
		if fb == len(feats) {
			if inOrder {
				histo.Ordered(hs.of(fa), ca, ord)
			} else {
				histo.Indexed(hs.of(fa), ca, rows, ord)
			}
			return
		}
		cb := gr.b.bins[feats[fb]]
		if inOrder {
			histo.Ordered2(hs.of(fa), hs.of(fb), ca, cb, ord)
		} else {
			histo.Indexed2(hs.of(fa), hs.of(fb), ca, cb, rows, ord)
		}
	})
	return hs
}

// bestSplit finds n's best split over its histogram (in parallel over
// features): every bin boundary with the missing rows on either side, and
// missing rows alone on the right.
func (gr *grower) bestSplit(n *node) {
	n.best = split{fi: -1}
	n.candidate = false
	if gr.p.maxDepth > 0 && n.depth >= gr.p.maxDepth {
		return
	}
	rows := int32(n.hi - n.lo)
	minc := int32(gr.p.minLeaf)
	if rows < 2*minc {
		return
	}
	parent := n.g * n.g / (n.h + gr.p.l2)
	results := make([]split, len(n.hist.feats))
	gr.bestSplit1(n, parent, results)
	for _, s := range results {
		if s.fi >= 0 && s.gain > n.best.gain {
			n.best = s
		}
	}
	n.candidate = n.best.fi >= 0 && n.best.gain > 1e-12
}

// bestSplit1 is bestSplit's search for one gradient channel, in scalars.
func (gr *grower) bestSplit1(n *node, parent float64, results []split) {
	hs := n.hist
	rows := float64(n.hi - n.lo)
	minc, lam, minH := float64(gr.p.minLeaf), gr.p.l2, gr.p.minHess
	G, H := n.g, n.h
	parallel(len(hs.feats), gr.workers, func(fi int) {
		best := split{fi: -1}
		vals := hs.of(fi)
		nb := len(gr.b.edges[hs.feats[fi]])
		mg, mh, mc := vals[0], vals[1], vals[2]
		var gl, hl, cl float64
		try := func(b int, g, h, c float64, mleft bool) {
			if c < minc || rows-c < minc || h < minH || H-h < minH {
				return
			}
			gr2 := G - g
			gain := g*g/(h+lam) + gr2*gr2/(H-h+lam) - parent
			if gain > best.gain {
				best = split{fi: fi, bin: b, defaultLeft: mleft, gain: gain}
			}
		}
		for b := 1; b <= nb; b++ {
			v := vals[histo.Width*b : histo.Width*b+3]
			gl += v[0]
			hl += v[1]
			cl += v[2]
			if b < nb {
				try(b, gl, hl, cl, false)
			} else if mc > 0 {
				try(b, gl, hl, cl, false) // missing rows alone on the right
			}
			if mc > 0 && b < nb {
				try(b, gl+mg, hl+mh, cl+mc, true)
			}
		}
		results[fi] = best
	})
}

// grow builds one tree on rows (taken over as gr.idx and reordered). It
// returns the tree and, for every node, the rows idx[lo:hi] it holds.
func (gr *grower) grow(rows []int32) (Tree, []int32, [][2]int) {
	gr.idx = rows
	t := Tree{}
	var spans [][2]int
	add := func(lo, hi int) int32 {
		spans = append(spans, [2]int{lo, hi})
		return t.appendLeaf(1)
	}
	setLeaf := func(n *node) {
		t.Value[n.id] = -gr.p.scale * n.g / (n.h + gr.p.l2)
	}
	root := &node{id: add(0, len(rows)), lo: 0, hi: len(rows)}
	// The root's sums in row order, one serial pass: a job of its own
	// beside the histogram's.
	root.hist = gr.build(rows, gr.feats, func() {
		for _, r := range rows {
			root.g += gr.gh[2*int(r)]
			root.h += gr.gh[2*int(r)+1]
		}
	})
	gr.bestSplit(root)
	setLeaf(root)
	q := &bestFirst[*node]{gain: func(n *node) float64 { return n.best.gain }}
	if root.candidate {
		heap.Push(q, root)
	}
	leaves := 1
	for q.Len() > 0 && leaves < gr.p.maxLeaves {
		n := heap.Pop(q).(*node)
		s := n.best
		f := n.hist.feats[s.fi]
		col := gr.b.bins[f]
		// Partition idx[lo:hi] stably: left rows first, each side in
		// ascending row order.
		seg := gr.idx[n.lo:n.hi]
		if cap(gr.tmp) < len(gr.idx) {
			gr.tmp = make([]int32, len(gr.idx))
		}
		var left [stride]bool // by bin
		left[0] = s.defaultLeft
		for b := 1; b <= s.bin; b++ {
			left[b] = true
		}
		i := gr.partition(seg, col, &left)
		mid := n.lo + i
		li, ri := add(n.lo, mid), add(mid, n.hi)
		t.Feature[n.id], t.Left[n.id], t.Right[n.id] = int32(f), li, ri
		t.Threshold[n.id] = gr.b.edges[f][s.bin-1]
		t.DefaultLeft[n.id], t.Gain[n.id] = s.defaultLeft, s.gain
		lc := &node{id: li, lo: n.lo, hi: mid, depth: n.depth + 1}
		rc := &node{id: ri, lo: mid, hi: n.hi, depth: n.depth + 1}
		gr.sums(n, lc, s)
		rc.g = n.g - lc.g
		rc.h = n.h - lc.h
		// Histogram subtraction (Ke et al. 2017, §2.1): build the
		// smaller child's histogram, the larger's is parent − smaller.
		small, large := lc, rc
		if rc.hi-rc.lo < lc.hi-lc.lo {
			small, large = rc, lc
		}
		small.hist = gr.build(gr.idx[small.lo:small.hi], n.hist.feats, nil)
		large.hist = n.hist
		for fi := range small.hist.vals {
			sv, lv := &small.hist.vals[fi], &large.hist.vals[fi]
			for x, v := range sv {
				lv[x] -= v
			}
		}
		n.hist = nil
		leaves++
		for _, c := range []*node{lc, rc} {
			setLeaf(c)
			gr.bestSplit(c)
			if c.candidate {
				heap.Push(q, c)
			} else {
				gr.release(c.hist)
				c.hist = nil
			}
		}
	}
	for _, n := range q.nodes {
		gr.release(n.hist)
		n.hist = nil
	}
	if !root.candidate {
		gr.release(root.hist)
	}
	return t, gr.idx, spans
}

// partitionChunk is the fewest rows one goroutine of partition takes.
const partitionChunk = 1 << 13

// partition reorders seg stably so that the rows whose bin in col goes
// left come first, and returns how many do. Segments of several chunks
// are partitioned chunk by chunk in parallel, then each chunk's left and
// right runs are moved to their places in order, in parallel too: the
// same order as one pass.
func (gr *grower) partition(seg []int32, col []uint8, left *[stride]bool) int {
	// Without branches: every row is written to both sides and only its
	// side's position moves on. A split sends rows left and right in no
	// order a branch predictor could learn.
	var goesLeft [stride]int
	for b, l := range left {
		if l {
			goesLeft[b] = 1
		}
	}
	one := func(seg, scratch []int32) int {
		scratch = scratch[:len(seg)]
		i, j := 0, 0
		for _, r := range seg {
			l := goesLeft[col[r]]
			seg[i] = r
			scratch[j] = r
			i += l
			j += 1 - l
		}
		copy(seg[i:], scratch[:j])
		return i
	}
	chunks := min(len(seg)/partitionChunk, 4*gr.workers)
	if chunks < 2 || gr.workers <= 1 {
		return one(seg, gr.tmp)
	}
	size := (len(seg) + chunks - 1) / chunks
	span := func(c int) (int, int) { return c * size, min(len(seg), (c+1)*size) }
	nl := make([]int, chunks)
	parallel(chunks, gr.workers, func(c int) {
		lo, hi := span(c)
		nl[c] = one(seg[lo:hi], gr.tmp[lo:hi])
	})
	// Where each chunk's runs go: lefts in chunk order from 0, rights in
	// chunk order after all the lefts.
	atL, atR := make([]int, chunks), make([]int, chunks)
	total := 0
	for c := range chunks {
		atL[c] = total
		total += nl[c]
	}
	r := total
	for c := range chunks {
		lo, hi := span(c)
		atR[c] = r
		r += hi - lo - nl[c]
	}
	out := gr.tmp[:len(seg)]
	parallel(chunks, gr.workers, func(c int) {
		lo, hi := span(c)
		copy(out[atL[c]:], seg[lo:lo+nl[c]])
		copy(out[atR[c]:], seg[lo+nl[c]:hi])
	})
	parallel(chunks, gr.workers, func(c int) {
		lo, hi := span(c)
		copy(seg[lo:hi], out[lo:hi])
	})
	return total
}

// sums sets the left child's gradient and hessian sums from the parent's
// histogram of the split feature (exact: the same additions the
// histogram made), so no pass over the rows is needed.
func (gr *grower) sums(parent, left *node, s split) {
	vals := parent.hist.of(s.fi)
	add := func(b int) {
		left.g += vals[histo.Width*b]
		left.h += vals[histo.Width*b+1]
	}
	for b := 1; b <= s.bin; b++ {
		add(b)
	}
	if s.defaultLeft {
		add(0)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
