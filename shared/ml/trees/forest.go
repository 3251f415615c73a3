package trees

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
)

// ForestOptions are the random-forest hyperparameters; every field is a
// value. DefaultForestOptions are scikit-learn's RandomForestClassifier
// defaults.
type ForestOptions struct {
	NEstimators int // trees, ≥ 1
	// MaxFeatures is the number of candidate features drawn at every node,
	// in [1, Features]; 0 means √Features rounded down (at least 1).
	MaxFeatures    int
	MaxDepth       int // 0: unlimited
	MinSamplesLeaf int // rows per leaf, ≥ 1
	// MaxLeaves bounds each tree's leaves (best-first growth); 0: unlimited.
	MaxLeaves int
	// Bootstrap draws every tree's rows with replacement (n of n); false
	// grows every tree on all rows.
	Bootstrap    bool
	ClassWeights []float64 // nil: all 1
	Seed         uint64
	Workers      int // trees grown at once; 0: GOMAXPROCS
}

// DefaultForestOptions: 100 bootstrapped trees, √d features per node,
// unlimited depth, one row per leaf.
func DefaultForestOptions() ForestOptions {
	return ForestOptions{NEstimators: 100, MinSamplesLeaf: 1, Bootstrap: true, Seed: 1}
}

// Check reports the first option out of range, naming it.
func (o ForestOptions) Check(features, classes int) error {
	switch {
	case o.NEstimators < 1:
		return fmt.Errorf("trees: n_estimators %d must be at least 1", o.NEstimators)
	case o.MaxFeatures < 0 || o.MaxFeatures > features:
		return fmt.Errorf("trees: max_features %d is not in [1, %d] (the number of features)", o.MaxFeatures, features)
	case o.MaxDepth < 0:
		return fmt.Errorf("trees: max_depth %d must not be negative", o.MaxDepth)
	case o.MinSamplesLeaf < 1:
		return fmt.Errorf("trees: min_samples_leaf %d must be at least 1", o.MinSamplesLeaf)
	case o.MaxLeaves == 1 || o.MaxLeaves < 0:
		return fmt.Errorf("trees: max_leaves %d must be 0 (unlimited) or at least 2", o.MaxLeaves)
	case o.ClassWeights != nil && len(o.ClassWeights) != classes:
		return fmt.Errorf("trees: %d class weights for %d classes", len(o.ClassWeights), classes)
	}
	return nil
}

// ForestResult is a trained forest and its out-of-bag estimate.
type ForestResult struct {
	Model *Model
	// OOBProba holds, for every training row, the mean class probabilities
	// (rows × Classes) of the trees whose bootstrap sample left it out;
	// OOBTrees counts them (0: no such tree, the row's OOBProba is zero).
	// Both are nil without bootstrap.
	OOBProba []float64
	OOBTrees []int
}

// Forest grows a random forest on train (Breiman 2001): each tree on a
// bootstrap sample (rows drawn n times with replacement, a row drawn c
// times weighing c), choosing every exact split (exact.go) among MaxFeatures features drawn
// afresh at the node by the weighted Gini impurity decrease, with the
// trees grown on Workers goroutines. Each tree draws from its own
// generator seeded by (Seed, tree), so the forest does not depend on the
// number of workers. Cancelling ctx stops before the next tree.
func Forest(ctx context.Context, train Data, o ForestOptions) (*ForestResult, error) {
	if err := train.check("training"); err != nil {
		return nil, err
	}
	if err := o.Check(train.Features, train.Classes); err != nil {
		return nil, err
	}
	n, d, C := train.Rows(), train.Features, train.Classes
	nw := workers(o.Workers)
	rk := rankMatrix(train.X, n, d, nw)
	m := &Model{Kind: KindForest, Features: d, Classes: C, Trees: make([]Tree, o.NEstimators)}
	width := m.Width()
	w := rowWeights(train, o.ClassWeights)
	maxFeat := o.MaxFeatures
	if maxFeat == 0 {
		maxFeat = max(1, int(math.Sqrt(float64(d))))
	}
	maxLeaves := o.MaxLeaves
	if maxLeaves == 0 {
		maxLeaves = math.MaxInt
	}
	feats := make([]int, d)
	for i := range feats {
		feats[i] = i
	}
	res := &ForestResult{Model: m}
	if o.Bootstrap {
		res.OOBProba, res.OOBTrees = make([]float64, n*C), make([]int, n)
	}
	var mu sync.Mutex
	var firstErr error
	parts := make([]oobPart, o.NEstimators)
	parallel(o.NEstimators, nw, func(ti int) {
		if err := ctx.Err(); err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = fmt.Errorf("trees: forest tree %d: %w", ti, err)
			}
			mu.Unlock()
			return
		}
		rng := rand.New(rand.NewPCG(o.Seed, uint64(ti)+1))
		mult := make([]float64, n)
		if o.Bootstrap {
			for range n {
				mult[rng.IntN(n)]++
			}
		} else {
			for i := range mult {
				mult[i] = 1
			}
		}
		rows := make([]int32, 0, n)
		wt := make([]float64, n)
		for r := range n {
			if mult[r] > 0 {
				rows = append(rows, int32(r))
				wt[r] = w[r] * mult[r]
			}
		}
		gr := &exactGrower{rk: rk, y: train.Y, w: wt, width: width, classes: C, feats: feats, rng: rng,
			p: growParams{maxLeaves: maxLeaves, maxDepth: o.MaxDepth, minLeaf: o.MinSamplesLeaf, nodeFeatures: maxFeat}}
		tree := gr.grow(rows)
		m.Trees[ti] = tree
		if !o.Bootstrap {
			return
		}
		// Out-of-bag rows of this tree; summed in tree order below so the
		// estimate does not depend on which tree finished first.
		var part oobPart
		for r := range n {
			if mult[r] == 0 {
				l := int(tree.leaf(train.X[r*d : (r+1)*d]))
				part.rows = append(part.rows, int32(r))
				part.vals = append(part.vals, tree.Value[l*width:(l+1)*width]...)
			}
		}
		parts[ti] = part
	})
	if firstErr != nil {
		return nil, firstErr
	}
	if !o.Bootstrap {
		return res, nil
	}
	sums := make([]float64, n*width)
	for _, part := range parts {
		for j, r := range part.rows {
			for c := range width {
				sums[int(r)*width+c] += part.vals[j*width+c]
			}
			res.OOBTrees[r]++
		}
	}
	for r := range n {
		if t := res.OOBTrees[r]; t > 0 {
			p := res.OOBProba[r*C : (r+1)*C]
			if width == 1 {
				p1 := sums[r] / float64(t)
				p[0], p[1] = 1-p1, p1
				continue
			}
			for c := range C {
				p[c] = sums[r*C+c] / float64(t)
			}
		}
	}
	return res, nil
}

type oobPart struct {
	rows []int32
	vals []float64
}
