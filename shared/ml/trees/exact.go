package trees

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// ranked is the training matrix of a forest with every value replaced by
// its rank among the feature's distinct values (0 = missing), so that the
// exact splitter sorts integers and its thresholds fall halfway between
// two training values, as scikit-learn's BestSplitter places them
// (sklearn/tree/_splitter.pyx). Random forests grow deep trees on nodes of
// a few rows, where 255 quantile bins would merge the values that tell
// them apart.
type ranked struct {
	rank   [][]int32   // [feature][row]
	values [][]float64 // [feature]: distinct values ascending, rank r is values[r-1]
}

func rankMatrix(x []float64, rows, features, workers int) *ranked {
	rk := &ranked{rank: make([][]int32, features), values: make([][]float64, features)}
	parallel(features, workers, func(f int) {
		order := make([]int32, 0, rows)
		for r := range rows {
			if !math.IsNaN(x[r*features+f]) {
				order = append(order, int32(r))
			}
		}
		slices.SortFunc(order, func(a, b int32) int {
			va, vb := x[int(a)*features+f], x[int(b)*features+f]
			switch {
			case va < vb:
				return -1
			case va > vb:
				return 1
			}
			return int(a - b)
		})
		col := make([]int32, rows) // 0 for NaN
		var vals []float64
		for _, r := range order {
			v := x[int(r)*features+f]
			if len(vals) == 0 || v != vals[len(vals)-1] {
				vals = append(vals, v)
			}
			col[r] = int32(len(vals))
		}
		rk.rank[f], rk.values[f] = col, vals
	})
	return rk
}

// exactGrower grows one classification tree of a forest by exhaustive
// search: at every node the candidate features are drawn as nodeFeats
// draws them, the node's rows sorted by each one's rank and every boundary
// between two distinct values tried, with the missing rows on either side
// (and alone on the right). The gain is the grower's Σ_c G_c²/H with
// g = −w·onehot(y) and h = w: the weighted Gini decrease. Leaf values are
// the weighted class frequencies (width 1: of class 1).
type exactGrower struct {
	rk      *ranked
	y       []int
	w       []float64 // per row, 0 outside the bootstrap sample
	width   int
	feats   []int
	rng     *rand.Rand
	p       growParams
	keys    []uint64 // scratch: rank<<32 | position
	perm    []int
	lsum    []float64 // scratch of search: the left side's class sums
	miss    []float64 // the missing rows' class sums
	tmp     []float64
	classes int
}

type exactNode struct {
	id       int32
	rows     []int32
	depth    int
	sum      []float64 // weighted class counts (classes)
	wsum     float64
	feature  int
	thr      float64
	defLeft  bool
	gain     float64
	leftRows []int32 // set by search: the rows going left, in order
	splits   bool
}

// channels is Σ_c G_c² for class sums s: the binary tree has one channel
// (class 1), a multi-class one a channel per class.
func (gr *exactGrower) channels(s []float64) float64 {
	if gr.width == 1 {
		return s[1] * s[1]
	}
	t := 0.0
	for _, v := range s {
		t += v * v
	}
	return t
}

func (gr *exactGrower) score(s []float64, w float64) float64 {
	if w <= 0 {
		return 0
	}
	return gr.channels(s) / w
}

// search finds n's best split; n.splits says whether it has one.
func (gr *exactGrower) search(n *exactNode) {
	n.splits = false
	if gr.p.maxDepth > 0 && n.depth >= gr.p.maxDepth {
		return
	}
	m := len(n.rows)
	minc := gr.p.minLeaf
	if m < 2*minc {
		return
	}
	parent := gr.score(n.sum, n.wsum)
	C := gr.classes
	if cap(gr.perm) < len(gr.feats) {
		gr.perm = make([]int, len(gr.feats))
	}
	f := gr.perm[:len(gr.feats)]
	copy(f, gr.feats)
	found := 0
	var bestGain float64
	bestF, bestPos, bestMiss, bestLeft := -1, 0, 0, false
	for i := range f {
		if i >= gr.p.nodeFeatures && found > 0 {
			break
		}
		j := i + gr.rng.IntN(len(f)-i)
		f[i], f[j] = f[j], f[i]
		col := gr.rk.rank[f[i]]
		lo, hi := col[n.rows[0]], col[n.rows[0]]
		for _, r := range n.rows[1:] {
			lo, hi = min(lo, col[r]), max(hi, col[r])
		}
		if lo == hi {
			continue // constant: visited, cannot split
		}
		found++
		keys := gr.keys[:0]
		for p, r := range n.rows {
			keys = append(keys, uint64(col[r])<<32|uint64(p))
		}
		slices.Sort(keys)
		gr.keys = keys
		// Missing rows (rank 0) sort first.
		miss := sort.Search(m, func(k int) bool { return keys[k]>>32 != 0 })
		msum := gr.miss[:C]
		clear(msum)
		mw := 0.0
		for _, k := range keys[:miss] {
			r := n.rows[uint32(k)]
			msum[gr.y[r]] += gr.w[r]
			mw += gr.w[r]
		}
		ls := gr.lsum[:C]
		clear(ls)
		lw := 0.0
		tmp := gr.tmp[:C]
		try := func(pos int, withMiss bool) {
			// Left: value rows keys[miss:pos] (+ the missing ones).
			cnt := pos - miss
			w := lw
			copy(tmp, ls)
			if withMiss {
				cnt += miss
				w += mw
				for c := range C {
					tmp[c] += msum[c]
				}
			}
			if cnt < minc || m-cnt < minc || w <= 0 || n.wsum-w <= 0 {
				return
			}
			left := gr.score(tmp, w)
			for c := range C {
				tmp[c] = n.sum[c] - tmp[c]
			}
			gain := left + gr.score(tmp, n.wsum-w) - parent
			if gain > bestGain {
				bestGain, bestF, bestPos, bestMiss, bestLeft = gain, f[i], pos, miss, withMiss
			}
		}
		for p := miss; p < m; p++ {
			r := n.rows[uint32(keys[p])]
			ls[gr.y[r]] += gr.w[r]
			lw += gr.w[r]
			if p+1 < m && keys[p+1]>>32 == keys[p]>>32 {
				continue // not a boundary between distinct values
			}
			if p+1 < m {
				try(p+1, false)
				if miss > 0 {
					try(p+1, true)
				}
			} else if miss > 0 {
				try(p+1, false) // missing rows alone on the right
			}
		}
	}
	if bestF < 0 || bestGain <= 1e-12 {
		return
	}
	// The best feature's order again (another feature's sort may have
	// overwritten it).
	col := gr.rk.rank[bestF]
	bestKeys := gr.keys[:0]
	for p, r := range n.rows {
		bestKeys = append(bestKeys, uint64(col[r])<<32|uint64(p))
	}
	slices.Sort(bestKeys)
	gr.keys = bestKeys
	vals := gr.rk.values[bestF]
	rl := int(bestKeys[bestPos-1] >> 32)
	thr := math.Inf(1)
	if bestPos < m {
		rr := int(bestKeys[bestPos] >> 32)
		thr = vals[rl-1] + (vals[rr-1]-vals[rl-1])/2
		if thr >= vals[rr-1] { // halfway rounded up onto the right value
			thr = vals[rl-1]
		}
	}
	n.feature, n.thr, n.defLeft, n.gain, n.splits = bestF, thr, bestLeft, bestGain, true
	// The rows going left, in their order in n.rows (stable partition).
	goesLeft := make([]bool, m)
	for _, k := range bestKeys[bestMiss:bestPos] {
		goesLeft[uint32(k)] = true
	}
	if bestLeft {
		for _, k := range bestKeys[:bestMiss] {
			goesLeft[uint32(k)] = true
		}
	}
	n.leftRows = n.leftRows[:0]
	for p, r := range n.rows {
		if goesLeft[p] {
			n.leftRows = append(n.leftRows, r)
		}
	}
}

// grow builds the tree on rows (the rows of positive weight).
func (gr *exactGrower) grow(rows []int32) Tree {
	C := gr.classes
	gr.lsum, gr.miss, gr.tmp = make([]float64, C), make([]float64, C), make([]float64, C)
	t := Tree{}
	newNode := func(rows []int32, depth int) *exactNode {
		n := &exactNode{id: t.appendLeaf(gr.width), rows: rows, depth: depth, sum: make([]float64, C)}
		for _, r := range rows {
			n.sum[gr.y[r]] += gr.w[r]
			n.wsum += gr.w[r]
		}
		if gr.width == 1 {
			t.Value[n.id] = n.sum[1] / n.wsum
		} else {
			for c := range C {
				t.Value[int(n.id)*C+c] = n.sum[c] / n.wsum
			}
		}
		gr.search(n)
		return n
	}
	root := newNode(rows, 0)
	q := &bestFirst[*exactNode]{gain: func(n *exactNode) float64 { return n.gain }}
	if root.splits {
		heap.Push(q, root)
	}
	leaves := 1
	for q.Len() > 0 && leaves < gr.p.maxLeaves {
		n := heap.Pop(q).(*exactNode)
		left := n.leftRows
		right := make([]int32, 0, len(n.rows)-len(left))
		in := 0
		for _, r := range n.rows {
			if in < len(left) && left[in] == r {
				in++
				continue
			}
			right = append(right, r)
		}
		// The children own disjoint copies; the parent's rows are done.
		lrows := slices.Clone(left)
		lc, rc := newNode(lrows, n.depth+1), newNode(right, n.depth+1)
		t.Feature[n.id], t.Threshold[n.id], t.DefaultLeft[n.id], t.Gain[n.id] = int32(n.feature), n.thr, n.defLeft, n.gain
		t.Left[n.id], t.Right[n.id] = lc.id, rc.id
		n.rows, n.leftRows = nil, nil
		leaves++
		for _, c := range []*exactNode{lc, rc} {
			if c.splits {
				heap.Push(q, c)
			}
		}
	}
	return t
}
