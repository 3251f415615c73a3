package boosting

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"sync"
)

// Options are the boosting hyperparameters; zero values are values (a zero
// L2 is no regularisation), so callers fill every field (Defaults helps).
type Options struct {
	MaxIter        int       // boosting iterations (trees per class)
	LearningRate   float64   // shrinkage applied to every leaf value
	MaxLeaves      int       // leaves per tree (leaf-wise growth stops there)
	MaxDepth       int       // 0 = unlimited depth
	MinSamplesLeaf int       // rows per leaf at least
	L2             float64   // L2 penalty on leaf values
	Subsample      float64   // fraction of rows per tree, (0,1]
	Colsample      float64   // fraction of features per tree, (0,1]
	ClassWeights   []float64 // per-class row weights; nil = all 1
	Patience       int       // early stopping: iterations without validation improvement; 0 = off
	Seed           int64
	Workers        int // goroutines for histograms; 0 = GOMAXPROCS
}

// Defaults are LightGBM-like defaults.
func Defaults() Options {
	return Options{MaxIter: 100, LearningRate: 0.1, MaxLeaves: 31, MinSamplesLeaf: 20, L2: 0,
		Subsample: 1, Colsample: 1, Patience: 10, Seed: 1}
}

// Data is a row-major feature matrix with integer labels in [0, Classes).
type Data struct {
	X        []float64
	Y        []int
	Features int
	Classes  int
}

func (d Data) rows() int { return len(d.Y) }

func (d Data) check(name string) error {
	if d.Features <= 0 || d.Classes < 2 || len(d.X) != len(d.Y)*d.Features {
		return fmt.Errorf("boosting: %s data: %d values, %d labels, %d features, %d classes do not fit", name, len(d.X), len(d.Y), d.Features, d.Classes)
	}
	for i, y := range d.Y {
		if y < 0 || y >= d.Classes {
			return fmt.Errorf("boosting: %s data: row %d label %d outside [0,%d)", name, i, y, d.Classes)
		}
	}
	return nil
}

func (o Options) check(classes int) error {
	switch {
	case o.MaxIter < 1:
		return fmt.Errorf("boosting: max_iter %d must be ≥ 1", o.MaxIter)
	case !(o.LearningRate > 0):
		return fmt.Errorf("boosting: learning_rate %v must be > 0", o.LearningRate)
	case o.MaxLeaves < 2:
		return fmt.Errorf("boosting: max_leaves %d must be ≥ 2", o.MaxLeaves)
	case o.MaxDepth < 0:
		return fmt.Errorf("boosting: max_depth %d must be ≥ 0", o.MaxDepth)
	case o.MinSamplesLeaf < 1:
		return fmt.Errorf("boosting: min_samples_leaf %d must be ≥ 1", o.MinSamplesLeaf)
	case o.L2 < 0:
		return fmt.Errorf("boosting: l2_regularization %v must be ≥ 0", o.L2)
	case !(o.Subsample > 0 && o.Subsample <= 1):
		return fmt.Errorf("boosting: subsample %v must be in (0,1]", o.Subsample)
	case !(o.Colsample > 0 && o.Colsample <= 1):
		return fmt.Errorf("boosting: colsample %v must be in (0,1]", o.Colsample)
	case o.ClassWeights != nil && len(o.ClassWeights) != classes:
		return fmt.Errorf("boosting: %d class weights for %d classes", len(o.ClassWeights), classes)
	case o.Patience < 0:
		return fmt.Errorf("boosting: patience %d must be ≥ 0", o.Patience)
	}
	return nil
}

type bin struct {
	g, h float64
	c    int32
}

type hist [][maxBins + 1]bin // per feature

type split struct {
	feature     int
	bin         uint8 // bins 1..bin go left
	defaultLeft bool
	gain        float64
	gl, hl      float64
	cl          int32
}

type leaf struct {
	node  int32
	rows  []int32
	depth int
	h     hist
	g, hs float64
	best  split
}

type leafQueue []*leaf

func (q leafQueue) Len() int           { return len(q) }
func (q leafQueue) Less(i, j int) bool { return q[i].best.gain > q[j].best.gain }
func (q leafQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *leafQueue) Push(x any)        { *q = append(*q, x.(*leaf)) }
func (q *leafQueue) Pop() any          { old := *q; x := old[len(old)-1]; *q = old[:len(old)-1]; return x }

type grower struct {
	o       Options
	bins    [][]uint8 // column-major binned features
	edges   [][]float64
	g, h    []float64
	feats   []int // features usable by the current tree
	workers int
}

// Train fits a boosted ensemble on train, early-stopping on valid's log-loss
// when valid has rows and o.Patience > 0. It honours ctx between trees.
func Train(ctx context.Context, train, valid Data, o Options) (*Model, error) {
	if err := train.check("training"); err != nil {
		return nil, err
	}
	if valid.rows() > 0 {
		if err := valid.check("validation"); err != nil {
			return nil, err
		}
		if valid.Features != train.Features || valid.Classes != train.Classes {
			return nil, fmt.Errorf("boosting: validation shape %dx%d differs from training %dx%d", valid.Features, valid.Classes, train.Features, train.Classes)
		}
	}
	if err := o.check(train.Classes); err != nil {
		return nil, err
	}
	n, d := train.rows(), train.Features
	gr := &grower{o: o, workers: o.Workers}
	if gr.workers <= 0 {
		gr.workers = runtime.GOMAXPROCS(0)
	}
	gr.bins = make([][]uint8, d)
	gr.edges = make([][]float64, d)
	parallel(d, gr.workers, func(f int) {
		col := make([]float64, n)
		for r := 0; r < n; r++ {
			col[r] = train.X[r*d+f]
		}
		e := binEdges(col)
		b := make([]uint8, n)
		for r, v := range col {
			b[r] = binOf(e, v)
		}
		gr.edges[f], gr.bins[f] = e, b
	})
	m := &Model{Features: d, Classes: train.Classes}
	groups := m.groups()
	w := make([]float64, n)
	counts := make([]float64, train.Classes)
	for r, y := range train.Y {
		w[r] = 1
		if o.ClassWeights != nil {
			w[r] = o.ClassWeights[y]
		}
		counts[y] += w[r]
	}
	total := 0.0
	for _, c := range counts {
		total += c
	}
	m.Base = make([]float64, groups)
	if groups == 1 {
		p := math.Min(math.Max(counts[1]/total, 1e-12), 1-1e-12)
		m.Base[0] = math.Log(p / (1 - p))
	} else {
		for k := range m.Base {
			m.Base[k] = math.Log(math.Max(counts[k]/total, 1e-12))
		}
	}
	score := make([]float64, n*groups)
	for r := 0; r < n; r++ {
		copy(score[r*groups:], m.Base)
	}
	nv := valid.rows()
	vscore := make([]float64, nv*groups)
	for r := 0; r < nv; r++ {
		copy(vscore[r*groups:], m.Base)
	}
	gr.g, gr.h = make([]float64, n), make([]float64, n)
	rng := rand.New(rand.NewSource(o.Seed))
	prob := make([]float64, train.Classes)
	best, bestIter, since := math.Inf(1), 0, 0
	all := make([]int32, n)
	for i := range all {
		all[i] = int32(i)
	}
	for it := 0; it < o.MaxIter; it++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("boosting: train iteration %d: %w", it, err)
		}
		rows := all
		if o.Subsample < 1 {
			rows = make([]int32, 0, int(float64(n)*o.Subsample)+1)
			for i := 0; i < n; i++ {
				if rng.Float64() < o.Subsample {
					rows = append(rows, int32(i))
				}
			}
		}
		gr.feats = gr.feats[:0]
		for f := 0; f < d; f++ {
			if o.Colsample >= 1 || rng.Float64() < o.Colsample {
				gr.feats = append(gr.feats, f)
			}
		}
		if len(gr.feats) == 0 {
			gr.feats = append(gr.feats, rng.Intn(d))
		}
		for k := 0; k < groups; k++ {
			for r := 0; r < n; r++ {
				toProba(score[r*groups:(r+1)*groups], prob)
				y := train.Y[r]
				var p, t float64
				if groups == 1 {
					p, t = prob[1], b2f(y == 1)
				} else {
					p, t = prob[k], b2f(y == k)
				}
				gr.g[r] = w[r] * (p - t)
				gr.h[r] = w[r] * math.Max(p*(1-p), 1e-16)
			}
			tree, leafOf := gr.grow(rows)
			m.Trees = append(m.Trees, tree)
			for r := 0; r < n; r++ {
				score[r*groups+k] += tree.Value[gr.route(&tree, leafOf, r)]
			}
			for r := 0; r < nv; r++ {
				vscore[r*groups+k] += tree.predict(valid.X[r*d : (r+1)*d])
			}
		}
		if nv > 0 && o.Patience > 0 {
			loss := logLoss(vscore, valid.Y, groups, prob)
			if loss < best-1e-12 {
				best, bestIter, since = loss, it+1, 0
			} else if since++; since >= o.Patience {
				m.Trees = m.Trees[:bestIter*groups]
				break
			}
		}
	}
	return m, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func logLoss(score []float64, y []int, groups int, prob []float64) float64 {
	s := 0.0
	for r, c := range y {
		toProba(score[r*groups:(r+1)*groups], prob)
		s -= math.Log(math.Max(prob[c], 1e-15))
	}
	return s / float64(len(y))
}

// route follows a tree on the binned training row r.
func (gr *grower) route(t *Tree, binThr []uint8, r int) int32 {
	i := int32(0)
	for t.Left[i] >= 0 {
		b := gr.bins[t.Feature[i]][r]
		switch {
		case b == 0:
			if t.DefaultLeft[i] {
				i = t.Left[i]
			} else {
				i = t.Right[i]
			}
		case b <= binThr[i]:
			i = t.Left[i]
		default:
			i = t.Right[i]
		}
	}
	return i
}

func parallel(n, workers int, fn func(i int)) {
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

func (gr *grower) build(rows []int32) hist {
	h := make(hist, len(gr.bins))
	parallel(len(gr.feats), gr.workers, func(fi int) {
		f := gr.feats[fi]
		col, hf := gr.bins[f], &h[f]
		for _, r := range rows {
			b := &hf[col[r]]
			b.g += gr.g[r]
			b.h += gr.h[r]
			b.c++
		}
	})
	return h
}

func (gr *grower) bestSplit(l *leaf) {
	l.best = split{gain: 0, feature: -1}
	if gr.o.MaxDepth > 0 && l.depth >= gr.o.MaxDepth {
		return
	}
	lam, minc := gr.o.L2, int32(gr.o.MinSamplesLeaf)
	n := int32(len(l.rows))
	parent := l.g * l.g / (l.hs + lam)
	results := make([]split, len(gr.feats))
	parallel(len(gr.feats), gr.workers, func(fi int) {
		f := gr.feats[fi]
		hf := &l.h[f]
		miss := hf[0]
		best := split{feature: -1}
		var g, h float64
		var c int32
		nb := len(gr.edges[f])
		for b := 1; b < nb; b++ {
			g += hf[b].g
			h += hf[b].h
			c += hf[b].c
			for _, mleft := range [2]bool{false, true} {
				gl, hl, cl := g, h, c
				if mleft {
					if miss.c == 0 {
						continue
					}
					gl, hl, cl = g+miss.g, h+miss.h, c+miss.c
				}
				cr := n - cl
				if cl < minc || cr < minc {
					continue
				}
				gr2, hr := l.g-gl, l.hs-hl
				gain := gl*gl/(hl+lam) + gr2*gr2/(hr+lam) - parent
				if gain > best.gain {
					best = split{feature: f, bin: uint8(b), defaultLeft: mleft, gain: gain, gl: gl, hl: hl, cl: cl}
				}
			}
		}
		results[fi] = best
	})
	for _, s := range results {
		if s.feature >= 0 && s.gain > l.best.gain {
			l.best = s
		}
	}
}

// grow builds one tree leaf-wise on rows; it returns the tree and each
// node's bin threshold for routing binned training rows.
func (gr *grower) grow(rows []int32) (Tree, []uint8) {
	t := Tree{}
	var binThr []uint8
	add := func() int32 {
		t.Feature = append(t.Feature, -1)
		t.Threshold = append(t.Threshold, 0)
		t.DefaultLeft = append(t.DefaultLeft, false)
		t.Left = append(t.Left, -1)
		t.Right = append(t.Right, -1)
		t.Value = append(t.Value, 0)
		t.Gain = append(t.Gain, 0)
		binThr = append(binThr, 0)
		return int32(len(t.Left) - 1)
	}
	lam, lr := gr.o.L2, gr.o.LearningRate
	setLeaf := func(l *leaf) { t.Value[l.node] = -lr * l.g / (l.hs + lam) }
	root := &leaf{node: add(), rows: rows}
	for _, r := range rows {
		root.g += gr.g[r]
		root.hs += gr.h[r]
	}
	root.h = gr.build(rows)
	gr.bestSplit(root)
	setLeaf(root)
	q := &leafQueue{}
	if root.best.feature >= 0 {
		heap.Push(q, root)
	}
	leaves := 1
	for q.Len() > 0 && leaves < gr.o.MaxLeaves {
		l := heap.Pop(q).(*leaf)
		s := l.best
		col := gr.bins[s.feature]
		left := make([]int32, 0, s.cl)
		right := make([]int32, 0, int32(len(l.rows))-s.cl)
		for _, r := range l.rows {
			b := col[r]
			if (b == 0 && s.defaultLeft) || (b != 0 && b <= s.bin) {
				left = append(left, r)
			} else {
				right = append(right, r)
			}
		}
		li, ri := add(), add()
		t.Feature[l.node], t.Left[l.node], t.Right[l.node] = int32(s.feature), li, ri
		t.Threshold[l.node] = gr.edges[s.feature][s.bin-1]
		t.DefaultLeft[l.node], t.Gain[l.node], binThr[l.node] = s.defaultLeft, s.gain, s.bin
		lc := &leaf{node: li, rows: left, depth: l.depth + 1, g: s.gl, hs: s.hl}
		rc := &leaf{node: ri, rows: right, depth: l.depth + 1, g: l.g - s.gl, hs: l.hs - s.hl}
		// Histogram subtraction (Ke et al. 2017, §2): build the smaller
		// child's histogram and take the larger's as parent minus it.
		small, large := lc, rc
		if len(right) < len(left) {
			small, large = rc, lc
		}
		small.h = gr.build(small.rows)
		large.h = l.h
		for _, f := range gr.feats {
			for b := range large.h[f] {
				large.h[f][b].g -= small.h[f][b].g
				large.h[f][b].h -= small.h[f][b].h
				large.h[f][b].c -= small.h[f][b].c
			}
		}
		l.h = nil
		leaves++
		for _, c := range []*leaf{lc, rc} {
			setLeaf(c)
			gr.bestSplit(c)
			if c.best.feature >= 0 {
				heap.Push(q, c)
			} else {
				c.h = nil
			}
		}
	}
	return t, binThr
}
