package trees

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/orrery-ml/orrery/shared/fault"
)

// Model kinds.
const (
	KindBoosting = "gradient_boosting"
	KindForest   = "random_forest"
)

// ErrInvalidModel is wrapped by errors about a malformed model.
var ErrInvalidModel = fault.New(fault.Invalid, "trees: invalid model")

// Tree is one decision tree in flat arrays. Node 0 is the root; node i is a
// leaf when Left[i] < 0, and its output is Value[i*w:(i+1)*w] (w = the
// model's Width). An inner node sends a row left when its Feature value is
// ≤ Threshold, right when it is greater, and a missing (NaN) value left
// when DefaultLeft. Gain is the split's loss reduction (0 at leaves).
type Tree struct {
	Feature     []int32
	Threshold   []float64
	DefaultLeft []bool
	Left        []int32
	Right       []int32
	Value       []float64
	Gain        []float64
}

// Nodes returns the number of nodes.
func (t *Tree) Nodes() int { return len(t.Left) }

// leaf returns the leaf row x (raw feature values) falls into.
func (t *Tree) leaf(x []float64) int32 {
	i := int32(0)
	for t.Left[i] >= 0 {
		v := x[t.Feature[i]]
		switch {
		case v <= t.Threshold[i]:
			i = t.Left[i]
		case v > t.Threshold[i]:
			i = t.Right[i]
		case t.DefaultLeft[i]: // NaN
			i = t.Left[i]
		default:
			i = t.Right[i]
		}
	}
	return i
}

// appendLeaf adds a node to t, a leaf of width zero values until the
// grower splits it or sets them, and returns its index.
func (t *Tree) appendLeaf(width int) int32 {
	t.Feature = append(t.Feature, -1)
	t.Threshold = append(t.Threshold, 0)
	t.DefaultLeft = append(t.DefaultLeft, false)
	t.Left = append(t.Left, -1)
	t.Right = append(t.Right, -1)
	t.Gain = append(t.Gain, 0)
	for range width {
		t.Value = append(t.Value, 0)
	}
	return int32(len(t.Left) - 1)
}

// Model is a trained tree ensemble.
//
// For KindBoosting, Trees[it*G+k] is iteration it's tree for raw score k
// (G = 1 for two classes, Classes otherwise), Base the initial raw scores
// (G values), and the probabilities the sigmoid (two classes) or softmax of
// Base plus the sum of the leaf values. For KindForest, Base is empty and
// the probabilities are the mean over trees of the leaf values: P(class 1)
// for two classes (Width 1), the class distribution otherwise.
type Model struct {
	Kind     string
	Features int
	Classes  int
	Base     []float64
	Trees    []Tree
}

// groups is the number of raw scores of a boosted model.
func (m *Model) groups() int {
	if m.Classes <= 2 {
		return 1
	}
	return m.Classes
}

// Width returns the number of values per leaf.
func (m *Model) Width() int {
	if m.Kind == KindForest {
		return m.groups()
	}
	return 1
}

// Iterations returns the number of boosting iterations (trees per raw
// score), or the number of trees of a forest.
func (m *Model) Iterations() int {
	if m.Kind == KindForest {
		return len(m.Trees)
	}
	return len(m.Trees) / m.groups()
}

// Truncate keeps the first iters boosting iterations (or trees).
func (m *Model) Truncate(iters int) {
	n := iters
	if m.Kind == KindBoosting {
		n *= m.groups()
	}
	if n >= 0 && n < len(m.Trees) {
		m.Trees = m.Trees[:n]
	}
}

// NumParams returns the number of stored values (node thresholds and leaf
// values), the size figure reported beside a network's parameter count.
func (m *Model) NumParams() int {
	n := len(m.Base)
	for i := range m.Trees {
		n += len(m.Trees[i].Threshold) + len(m.Trees[i].Value)
	}
	return n
}

// predictRow writes row x's class probabilities to p (Classes values);
// raw is scratch of groups() values.
func (m *Model) predictRow(x, raw, p []float64) {
	w := m.Width()
	if m.Kind == KindForest {
		clear(raw)
		for i := range m.Trees {
			t := &m.Trees[i]
			l := int(t.leaf(x)) * w
			for k := range w {
				raw[k] += t.Value[l+k]
			}
		}
		n := float64(len(m.Trees))
		if w == 1 {
			p1 := raw[0] / n
			p[0], p[1] = 1-p1, p1
			return
		}
		for k := range w {
			p[k] = raw[k] / n
		}
		return
	}
	g := m.groups()
	copy(raw, m.Base)
	for i := range m.Trees {
		t := &m.Trees[i]
		raw[i%g] += t.Value[t.leaf(x)]
	}
	toProba(raw, p)
}

// toProba turns raw scores into probabilities: the sigmoid of one score
// (P(class 1) in p[1]), or the softmax of several.
func toProba(raw, p []float64) {
	if len(raw) == 1 {
		p1 := 1 / (1 + math.Exp(-raw[0]))
		p[0], p[1] = 1-p1, p1
		return
	}
	mx := raw[0]
	for _, v := range raw[1:] {
		mx = math.Max(mx, v)
	}
	s := 0.0
	for k, v := range raw {
		p[k] = math.Exp(v - mx)
		s += p[k]
	}
	for k := range p {
		p[k] /= s
	}
}

// predictBlock is the number of rows one goroutine of PredictProba takes.
const predictBlock = 2048

// PredictProba writes the class probabilities of rows rows of x (row-major,
// rows × Features, raw values with NaN for missing) to out (rows × Classes,
// reused when it has the capacity) and returns it; nil when len(x) is not
// rows × Features. Rows are spread over GOMAXPROCS goroutines; the result
// does not depend on how. It is safe for concurrent use.
func (m *Model) PredictProba(x []float64, rows int, out []float64) []float64 {
	d, c := m.Features, m.Classes
	if rows < 0 || d <= 0 || len(x) != rows*d {
		return nil
	}
	if cap(out) >= rows*c {
		out = out[:rows*c]
	} else {
		out = make([]float64, rows*c)
	}
	if rows < flatMinRows {
		raw := make([]float64, max(m.groups(), m.Width()))
		for r := range rows {
			m.predictRow(x[r*d:(r+1)*d], raw, out[r*c:(r+1)*c])
		}
		return out
	}
	f := m.flatten()
	blocks := (rows + predictBlock - 1) / predictBlock
	parallel(blocks, runtime.GOMAXPROCS(0), func(b int) {
		lo, hi := b*predictBlock, min(rows, (b+1)*predictBlock)
		f.predict(m, x[lo*d:hi*d], hi-lo, out[lo*c:hi*c])
	})
	return out
}

// flatMinRows is the fewest rows PredictProba flattens the trees for; below
// it rows walk the trees' own arrays.
const flatMinRows = 64

// flatNode is a node of a flattened tree, 16 bytes: the next node is kid
// when the row's value of feature fd/2 is ≤ thr, kid+1 when it is
// greater, and kid+1-fd%2 when it is missing (fd odd: missing values go
// left). A leaf is its own next node (thr +Inf, fd 1, kid itself), so
// every row can take the same number of steps, the tree's depth.
type flatNode struct {
	thr float64
	fd  int32
	kid int32
}

// flatTrees is a model's trees renumbered breadth first into one node
// array (children adjacent), for PredictProba's blocks. A block of rows
// walks one tree at a time for the tree's depth in steps, every step
// taking all the block's rows one node further: there is no branch to
// mispredict (the child is selected, the leaves loop on themselves) and
// the rows' walks are independent, so they overlap in the pipeline — the
// layout of branch-free tree traversal in the manner of Asadi et al.,
// "Runtime Optimizations for Tree-Based Machine Learning Models" (IEEE
// TKDE 2014).
type flatTrees struct {
	nodes  []flatNode
	roots  []int32
	depths []int32
	values []float64 // [node*width:(node+1)*width] at leaves
}

// flatten returns m's trees as flatTrees; the leaf values, and so the
// predictions, are the same numbers in the same order of addition.
func (m *Model) flatten() *flatTrees {
	w := m.Width()
	f := &flatTrees{roots: make([]int32, len(m.Trees)), depths: make([]int32, len(m.Trees))}
	total := 0
	for i := range m.Trees {
		total += m.Trees[i].Nodes()
	}
	f.nodes = make([]flatNode, 0, total)
	f.values = make([]float64, 0, total*w)
	type item struct{ src, depth int32 }
	queue := make([]item, 0, 64)
	for ti := range m.Trees {
		t := &m.Trees[ti]
		base := int32(len(f.nodes))
		f.roots[ti] = base
		// Breadth first: a node's children are appended together, so the
		// right child is the left one's successor.
		queue = append(queue[:0], item{0, 0})
		for qi := 0; qi < len(queue); qi++ {
			src, depth := queue[qi].src, queue[qi].depth
			at := base + int32(qi)
			if t.Left[src] < 0 {
				f.nodes = append(f.nodes, flatNode{thr: math.Inf(1), fd: 1, kid: at})
				f.values = append(f.values, t.Value[int(src)*w:int(src+1)*w]...)
				f.depths[ti] = max(f.depths[ti], depth)
				continue
			}
			fd := 2 * t.Feature[src]
			if t.DefaultLeft[src] {
				fd++
			}
			f.nodes = append(f.nodes, flatNode{thr: t.Threshold[src], fd: fd, kid: base + int32(len(queue))})
			f.values = append(f.values, make([]float64, w)...)
			queue = append(queue, item{t.Left[src], depth + 1}, item{t.Right[src], depth + 1})
		}
	}
	return f
}

// predictBlockRows is the number of rows flatTrees.predict walks through
// one tree together.
const predictBlockRows = 128

// predict writes the probabilities of rows rows of x to out, like
// predictRow.
func (f *flatTrees) predict(m *Model, x []float64, rows int, out []float64) {
	d, c, w, g := m.Features, m.Classes, m.Width(), m.groups()
	forest := m.Kind == KindForest
	nr := g
	if forest {
		nr = w
	}
	raw := make([]float64, predictBlockRows*nr)
	var at [predictBlockRows]int32
	nodes := f.nodes
	for lo := 0; lo < rows; lo += predictBlockRows {
		n := min(predictBlockRows, rows-lo)
		raw := raw[:n*nr]
		if forest {
			clear(raw)
		} else {
			for r := range n {
				copy(raw[r*nr:(r+1)*nr], m.Base)
			}
		}
		xb := x[lo*d : (lo+n)*d]
		idx := at[:n]
		for ti, root := range f.roots {
			for r := range idx {
				idx[r] = root
			}
			for range f.depths[ti] {
				for r, i := range idx {
					nd := &nodes[i]
					v := xb[r*d+int(nd.fd>>1)]
					next := nd.kid + 1
					if v <= nd.thr {
						next = nd.kid
					}
					if v != v { // NaN
						next = nd.kid + 1 - nd.fd&1
					}
					idx[r] = next
				}
			}
			if forest {
				for r, i := range idx {
					vals := f.values[int(i)*w : int(i+1)*w]
					acc := raw[r*nr : (r+1)*nr]
					for j, v := range vals {
						acc[j] += v
					}
				}
				continue
			}
			k := ti % g
			for r, i := range idx {
				raw[r*nr+k] += f.values[i]
			}
		}
		for r := range n {
			p := out[(lo+r)*c : (lo+r+1)*c]
			acc := raw[r*nr : (r+1)*nr]
			if !forest {
				toProba(acc, p)
				continue
			}
			t := float64(len(f.roots))
			if w == 1 {
				p1 := acc[0] / t
				p[0], p[1] = 1-p1, p1
				continue
			}
			for j := range w {
				p[j] = acc[j] / t
			}
		}
	}
}

// GainImportance returns each feature's total split gain over the
// ensemble, normalised to sum to 1 (all zeros when no tree splits).
func (m *Model) GainImportance() []float64 {
	imp := make([]float64, m.Features)
	total := 0.0
	for _, t := range m.Trees {
		for i, l := range t.Left {
			if l >= 0 {
				imp[t.Feature[i]] += t.Gain[i]
				total += t.Gain[i]
			}
		}
	}
	if total > 0 {
		for i := range imp {
			imp[i] /= total
		}
	}
	return imp
}

// Check reports the first malformed part of m: its shape, a tree whose
// arrays differ in length, a child that does not come after its parent or
// lies outside the tree, a feature out of range, or a non-finite value.
func (m *Model) Check() error {
	switch {
	case m.Kind != KindBoosting && m.Kind != KindForest:
		return fmt.Errorf("%w: kind %q is not %s or %s", ErrInvalidModel, m.Kind, KindBoosting, KindForest)
	case m.Features < 1 || m.Classes < 2:
		return fmt.Errorf("%w: %d features and %d classes", ErrInvalidModel, m.Features, m.Classes)
	case m.Kind == KindBoosting && len(m.Base) != m.groups():
		return fmt.Errorf("%w: %d base scores for %d classes", ErrInvalidModel, len(m.Base), m.Classes)
	case m.Kind == KindForest && len(m.Base) != 0:
		return fmt.Errorf("%w: a forest has no base scores, got %d", ErrInvalidModel, len(m.Base))
	case m.Kind == KindForest && len(m.Trees) == 0:
		return fmt.Errorf("%w: a forest without trees", ErrInvalidModel)
	case m.Kind == KindBoosting && len(m.Trees)%m.groups() != 0:
		return fmt.Errorf("%w: %d trees are not whole iterations of %d", ErrInvalidModel, len(m.Trees), m.groups())
	}
	for _, b := range m.Base {
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return fmt.Errorf("%w: base score %v", ErrInvalidModel, b)
		}
	}
	w := m.Width()
	for ti := range m.Trees {
		t := &m.Trees[ti]
		n := len(t.Left)
		if n == 0 || len(t.Right) != n || len(t.Feature) != n || len(t.Threshold) != n || len(t.DefaultLeft) != n ||
			len(t.Gain) != n || len(t.Value) != n*w {
			return fmt.Errorf("%w: tree %d arrays differ in length", ErrInvalidModel, ti)
		}
		for i := range n {
			l, r := t.Left[i], t.Right[i]
			if l < 0 {
				if r >= 0 {
					return fmt.Errorf("%w: tree %d node %d has a right child only", ErrInvalidModel, ti, i)
				}
				for _, v := range t.Value[i*w : (i+1)*w] {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						return fmt.Errorf("%w: tree %d leaf %d value %v", ErrInvalidModel, ti, i, v)
					}
				}
				continue
			}
			if l <= int32(i) || r <= int32(i) || l >= int32(n) || r >= int32(n) || l == r {
				return fmt.Errorf("%w: tree %d node %d has children %d and %d", ErrInvalidModel, ti, i, l, r)
			}
			if t.Feature[i] < 0 || int(t.Feature[i]) >= m.Features || math.IsNaN(t.Threshold[i]) {
				return fmt.Errorf("%w: tree %d node %d splits feature %d at %v", ErrInvalidModel, ti, i, t.Feature[i], t.Threshold[i])
			}
		}
	}
	return nil
}

// Array is a named array of a model's flat encoding.
type Array struct {
	Name  string
	Shape []int
	Data  []float64
}

// Names of the arrays of Arrays.
const (
	ArrayBase        = "trees.base"
	ArrayNodeOffset  = "trees.node_offset"
	ArrayFeature     = "trees.feature"
	ArrayThreshold   = "trees.threshold"
	ArrayDefaultLeft = "trees.default_left"
	ArrayLeft        = "trees.left"
	ArrayRight       = "trees.right"
	ArrayValue       = "trees.value"
	ArrayGain        = "trees.gain"
)

// Arrays returns the model's trees concatenated into float64 arrays (node
// indices and features are exact integers, default_left 0 or 1):
// node_offset [T+1] marks where each tree's nodes start; feature,
// threshold, default_left, left, right and gain have one value per node,
// value [nodes, Width] the leaf outputs, and base the initial raw scores
// (boosting only). FromArrays reverses it exactly.
func (m *Model) Arrays() []Array {
	nodes := 0
	for i := range m.Trees {
		nodes += m.Trees[i].Nodes()
	}
	w := m.Width()
	off := make([]float64, 0, len(m.Trees)+1)
	feat, thr, dl := make([]float64, 0, nodes), make([]float64, 0, nodes), make([]float64, 0, nodes)
	left, right, gain := make([]float64, 0, nodes), make([]float64, 0, nodes), make([]float64, 0, nodes)
	val := make([]float64, 0, nodes*w)
	off = append(off, 0)
	for i := range m.Trees {
		t := &m.Trees[i]
		for j := range t.Left {
			feat = append(feat, float64(t.Feature[j]))
			thr = append(thr, t.Threshold[j])
			if t.DefaultLeft[j] {
				dl = append(dl, 1)
			} else {
				dl = append(dl, 0)
			}
			left = append(left, float64(t.Left[j]))
			right = append(right, float64(t.Right[j]))
			gain = append(gain, t.Gain[j])
		}
		val = append(val, t.Value...)
		off = append(off, float64(len(feat)))
	}
	out := []Array{
		{ArrayNodeOffset, []int{len(off)}, off},
		{ArrayFeature, []int{nodes}, feat},
		{ArrayThreshold, []int{nodes}, thr},
		{ArrayDefaultLeft, []int{nodes}, dl},
		{ArrayLeft, []int{nodes}, left},
		{ArrayRight, []int{nodes}, right},
		{ArrayValue, []int{nodes, w}, val},
		{ArrayGain, []int{nodes}, gain},
	}
	if m.Kind == KindBoosting {
		out = append(out, Array{ArrayBase, []int{len(m.Base)}, slices.Clone(m.Base)})
	}
	return out
}

// FromArrays rebuilds a model of kind with features inputs and classes
// classes from the arrays of Arrays (any order) and checks it (Check). An
// array missing, repeated, unknown or of the wrong shape is an error naming
// it.
func FromArrays(kind string, features, classes int, arrays []Array) (*Model, error) {
	m := &Model{Kind: kind, Features: features, Classes: classes}
	by := map[string]Array{}
	for _, a := range arrays {
		if _, dup := by[a.Name]; dup {
			return nil, fmt.Errorf("%w: array %s appears twice", ErrInvalidModel, a.Name)
		}
		by[a.Name] = a
	}
	if m.Kind != KindBoosting && m.Kind != KindForest {
		return nil, fmt.Errorf("%w: kind %q is not %s or %s", ErrInvalidModel, kind, KindBoosting, KindForest)
	}
	if features < 1 || classes < 2 {
		return nil, fmt.Errorf("%w: %d features and %d classes", ErrInvalidModel, features, classes)
	}
	take := func(name string) ([]float64, error) {
		a, ok := by[name]
		if !ok {
			return nil, fmt.Errorf("%w: array %s is missing", ErrInvalidModel, name)
		}
		delete(by, name)
		return a.Data, nil
	}
	off, err := take(ArrayNodeOffset)
	if err != nil {
		return nil, err
	}
	if len(off) < 1 || off[0] != 0 {
		return nil, fmt.Errorf("%w: %s must start at 0", ErrInvalidModel, ArrayNodeOffset)
	}
	nodes := int(off[len(off)-1])
	w := m.Width()
	cols := map[string][]float64{}
	for _, name := range []string{ArrayFeature, ArrayThreshold, ArrayDefaultLeft, ArrayLeft, ArrayRight, ArrayValue, ArrayGain} {
		d, err := take(name)
		if err != nil {
			return nil, err
		}
		want := nodes
		if name == ArrayValue {
			want *= w
		}
		if len(d) != want {
			return nil, fmt.Errorf("%w: array %s has %d values, %d nodes need %d", ErrInvalidModel, name, len(d), nodes, want)
		}
		cols[name] = d
	}
	if kind == KindBoosting {
		if m.Base, err = take(ArrayBase); err != nil {
			return nil, err
		}
		m.Base = slices.Clone(m.Base)
	}
	for name := range by {
		return nil, fmt.Errorf("%w: unexpected array %s", ErrInvalidModel, name)
	}
	asInt := func(v float64) (int32, bool) {
		i := int32(v)
		return i, float64(i) == v
	}
	m.Trees = make([]Tree, len(off)-1)
	for ti := range m.Trees {
		lo, hi := int(off[ti]), int(off[ti+1])
		if float64(lo) != off[ti] || float64(hi) != off[ti+1] || hi <= lo || hi > nodes {
			return nil, fmt.Errorf("%w: %s of tree %d is %v..%v", ErrInvalidModel, ArrayNodeOffset, ti, off[ti], off[ti+1])
		}
		n := hi - lo
		t := Tree{Feature: make([]int32, n), Threshold: slices.Clone(cols[ArrayThreshold][lo:hi]), DefaultLeft: make([]bool, n),
			Left: make([]int32, n), Right: make([]int32, n), Value: slices.Clone(cols[ArrayValue][lo*w : hi*w]),
			Gain: slices.Clone(cols[ArrayGain][lo:hi])}
		for j := range n {
			var ok1, ok2, ok3 bool
			t.Feature[j], ok1 = asInt(cols[ArrayFeature][lo+j])
			t.Left[j], ok2 = asInt(cols[ArrayLeft][lo+j])
			t.Right[j], ok3 = asInt(cols[ArrayRight][lo+j])
			b := cols[ArrayDefaultLeft][lo+j]
			if !ok1 || !ok2 || !ok3 || (b != 0 && b != 1) {
				return nil, fmt.Errorf("%w: tree %d node %d holds a non-integer index", ErrInvalidModel, ti, j)
			}
			t.DefaultLeft[j] = b == 1
		}
		m.Trees[ti] = t
	}
	if err := m.Check(); err != nil {
		return nil, err
	}
	return m, nil
}

// parallel calls fn(0..n-1) on up to workers goroutines.
func parallel(n, workers int, fn func(i int)) {
	workers = min(workers, n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}
