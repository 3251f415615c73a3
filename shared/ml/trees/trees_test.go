package trees

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// synth makes a binary task whose label depends on features 0 and 1
// (feature 1 missing in every 7th row, and then the label follows the
// missingness), feature 2 being noise.
func synth(n int, seed uint64, classes int) Data {
	rng := rand.New(rand.NewPCG(seed, 7))
	d := Data{Features: 3, Classes: classes}
	for i := range n {
		a, b, c := rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()
		y := 0
		if classes == 2 {
			if a+0.5*b*b > 0.5 {
				y = 1
			}
			if i%7 == 0 {
				b, y = math.NaN(), 1
			}
		} else {
			y = int(math.Min(float64(classes-1), math.Max(0, math.Floor((a+b+2)/4*float64(classes)))))
		}
		d.X = append(d.X, a, b, c)
		d.Y = append(d.Y, y)
	}
	return d
}

func accuracy(t *testing.T, m *Model, d Data) float64 {
	p := m.PredictProba(d.X, d.Rows(), nil)
	require.Len(t, p, d.Rows()*d.Classes)
	ok := 0
	for r, y := range d.Y {
		best := 0
		for k := range d.Classes {
			if p[r*d.Classes+k] > p[r*d.Classes+best] {
				best = k
			}
		}
		if best == y {
			ok++
		}
	}
	return float64(ok) / float64(d.Rows())
}

func roundTrip(t *testing.T, m *Model, d Data) {
	t.Helper()
	back, err := FromArrays(m.Kind, m.Features, m.Classes, m.Arrays())
	require.NoError(t, err)
	want := m.PredictProba(d.X, d.Rows(), nil)
	got := back.PredictProba(d.X, d.Rows(), nil)
	for i := range want {
		require.Equal(t, math.Float64bits(want[i]), math.Float64bits(got[i]), "probability %d", i)
	}
}

func TestBoostLearnsMissingAndRoundTrips(t *testing.T) {
	for _, classes := range []int{2, 4} {
		tr, va := synth(3000, 1, classes), synth(1000, 2, classes)
		o := DefaultBoostOptions()
		m, err := Boost(context.Background(), tr, va, o)
		require.NoError(t, err)
		assert.Greater(t, accuracy(t, m, va), 0.9, "classes %d", classes)
		roundTrip(t, m, va)
		imp := m.GainImportance()
		assert.Less(t, imp[2], imp[0], "noise feature outranks signal")
		assert.InDelta(t, 1, imp[0]+imp[1]+imp[2], 1e-9)
	}
	// The missing rows are all class 1: a tree must route NaN by a learned side.
	va := synth(700, 3, 2)
	m, err := Boost(context.Background(), synth(3000, 1, 2), Data{}, DefaultBoostOptions())
	require.NoError(t, err)
	p := m.PredictProba(va.X, va.Rows(), nil)
	for r := 0; r < va.Rows(); r += 7 {
		assert.Greater(t, p[2*r+1], 0.8, "row %d with a missing value", r)
	}
}

func TestBoostDeterministicAcrossWorkers(t *testing.T) {
	tr := synth(2000, 4, 3)
	o := DefaultBoostOptions()
	o.MaxIter, o.Subsample, o.Colsample = 20, 0.7, 0.7
	o.Workers = 1
	a, err := Boost(context.Background(), tr, Data{}, o)
	require.NoError(t, err)
	o.Workers = 4
	b, err := Boost(context.Background(), tr, Data{}, o)
	require.NoError(t, err)
	assert.Equal(t, a.Arrays(), b.Arrays())
}

func TestBoostMonitorStopsAndTruncates(t *testing.T) {
	tr, va := synth(1000, 5, 2), synth(300, 6, 2)
	calls := 0
	o := DefaultBoostOptions()
	o.Monitor = func(it int, proba []float64) (bool, error) {
		calls++
		require.Len(t, proba, 2*va.Rows())
		return it == 7, nil
	}
	m, err := Boost(context.Background(), tr, va, o)
	require.NoError(t, err)
	assert.Equal(t, 7, calls)
	assert.Equal(t, 7, m.Iterations())
	m.Truncate(3)
	assert.Equal(t, 3, m.Iterations())
}

func TestBoostHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Boost(ctx, synth(100, 1, 2), Data{}, DefaultBoostOptions())
	require.ErrorIs(t, err, context.Canceled)
	_, err = Forest(ctx, synth(100, 1, 2), DefaultForestOptions())
	require.ErrorIs(t, err, context.Canceled)
}

func TestForestLearnsWithOOBAndRoundTrips(t *testing.T) {
	for _, classes := range []int{2, 3} {
		tr, va := synth(2000, 7, classes), synth(800, 8, classes)
		o := DefaultForestOptions()
		o.NEstimators = 60
		res, err := Forest(context.Background(), tr, o)
		require.NoError(t, err)
		acc := accuracy(t, res.Model, va)
		assert.Greater(t, acc, 0.85, "classes %d", classes)
		roundTrip(t, res.Model, va)
		// The out-of-bag accuracy estimates the held-out one.
		ok, seen := 0, 0
		for r, y := range tr.Y {
			if res.OOBTrees[r] == 0 {
				continue
			}
			seen++
			best := 0
			for k := range classes {
				if res.OOBProba[r*classes+k] > res.OOBProba[r*classes+best] {
					best = k
				}
			}
			if best == y {
				ok++
			}
		}
		assert.Greater(t, seen, tr.Rows()*9/10)
		assert.InDelta(t, acc, float64(ok)/float64(seen), 0.05)
		o.Workers = 1
		one, err := Forest(context.Background(), tr, o)
		require.NoError(t, err)
		assert.Equal(t, res.Model.Arrays(), one.Model.Arrays(), "forest depends on the worker count")
		assert.Equal(t, res.OOBProba, one.OOBProba)
	}
}

// A forest node whose drawn candidate features are all constant on its
// rows draws more (as scikit-learn's splitter does) instead of becoming a
// leaf: with one informative feature among nine and one candidate per
// node, every tree still splits on it and the forest separates the
// classes; without the redraw 8 trees in 9 would be a single leaf.
func TestForestRedrawsConstantCandidates(t *testing.T) {
	const features = 9
	d := Data{Features: features, Classes: 2}
	for i := range 400 {
		row := make([]float64, features)
		row[5] = float64(i % 40)
		d.X = append(d.X, row...)
		d.Y = append(d.Y, int(b2f(i%40 >= 20)))
	}
	o := DefaultForestOptions()
	o.NEstimators, o.MaxFeatures = 30, 1
	res, err := Forest(context.Background(), d, o)
	require.NoError(t, err)
	for ti, tree := range res.Model.Trees {
		require.Greater(t, tree.Nodes(), 1, "tree %d is a single leaf", ti)
		assert.Equal(t, int32(5), tree.Feature[0], "tree %d root feature", ti)
	}
	assert.Equal(t, 1.0, accuracy(t, res.Model, d))
}

// A softmax leaf takes Friedman's multi-class step: with the hessians
// scaled by K/(K-1), the leaf holding exactly the rows of class 0 (prior
// π0) after the first iteration is lr·(K-1)/(K·π0), not lr/π0.
func TestBoostSoftmaxStepIsFriedmans(t *testing.T) {
	const classes = 3
	d := Data{Features: 1, Classes: classes}
	for i := range 120 {
		y := []int{0, 1, 1, 2, 2, 2}[i%6] // π0 = 1/6
		d.X = append(d.X, b2f(y != 0))
		d.Y = append(d.Y, y)
	}
	o := DefaultBoostOptions()
	o.MaxIter, o.MaxLeaves, o.MinSamplesLeaf = 1, 2, 1
	m, err := Boost(context.Background(), d, Data{}, o)
	require.NoError(t, err)
	require.Len(t, m.Trees, classes)
	tree := m.Trees[0]
	require.Greater(t, tree.Nodes(), 1)
	left := tree.Left[0]
	want := o.LearningRate * (classes - 1) / (classes * (1.0 / 6))
	assert.InDelta(t, want, tree.Value[left], 1e-12)
}

func TestOptionsAndArraysRefused(t *testing.T) {
	tr := synth(50, 1, 2)
	for name, mod := range map[string]func(*BoostOptions){
		"subsample":         func(o *BoostOptions) { o.Subsample = 0 },
		"max_iter":          func(o *BoostOptions) { o.MaxIter = 0 },
		"max_leaves":        func(o *BoostOptions) { o.MaxLeaves = 1 },
		"learning_rate":     func(o *BoostOptions) { o.LearningRate = 0 },
		"min_samples_leaf":  func(o *BoostOptions) { o.MinSamplesLeaf = 0 },
		"l2_regularization": func(o *BoostOptions) { o.L2 = -1 },
	} {
		o := DefaultBoostOptions()
		mod(&o)
		_, err := Boost(context.Background(), tr, Data{}, o)
		require.ErrorContains(t, err, name)
	}
	fo := DefaultForestOptions()
	fo.MaxFeatures = 4
	_, err := Forest(context.Background(), tr, fo)
	require.ErrorContains(t, err, "max_features")

	m, err := Boost(context.Background(), tr, Data{}, DefaultBoostOptions())
	require.NoError(t, err)
	arrays := m.Arrays()
	for i := range arrays {
		if arrays[i].Name == ArrayLeft && len(arrays[i].Data) > 1 {
			arrays[i].Data[0] = 0 // a root that is its own child
		}
	}
	_, err = FromArrays(m.Kind, m.Features, m.Classes, arrays)
	require.ErrorIs(t, err, ErrInvalidModel)
	_, err = FromArrays(m.Kind, m.Features, m.Classes, arrays[1:])
	require.ErrorContains(t, err, ArrayNodeOffset)
}

// TestPredictPathsAgree checks that the flattened block predictor of
// PredictProba (64 rows or more) gives the probabilities of walking each
// tree's own arrays row by row (fewer rows), bit for bit, missing values
// included.
func TestPredictPathsAgree(t *testing.T) {
	va := synth(500, 9, 2)
	for _, classes := range []int{2, 4} {
		tr := synth(2000, 10, classes)
		o := DefaultBoostOptions()
		o.MaxIter = 30
		bm, err := Boost(context.Background(), tr, Data{}, o)
		require.NoError(t, err)
		fo := DefaultForestOptions()
		fo.NEstimators = 20
		fr, err := Forest(context.Background(), tr, fo)
		require.NoError(t, err)
		for _, m := range []*Model{bm, fr.Model} {
			all := m.PredictProba(va.X, va.Rows(), nil)
			for r := range va.Rows() {
				one := m.PredictProba(va.X[r*3:(r+1)*3], 1, nil)
				for k := range classes {
					require.Equal(t, math.Float64bits(one[k]), math.Float64bits(all[r*classes+k]), "%s %d classes row %d", m.Kind, classes, r)
				}
			}
		}
	}
}

// TestPartitionInChunksIsOnePass checks the parallel partition of a large
// node (several chunks) against the one-pass stable partition.
func TestPartitionInChunksIsOnePass(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 5*partitionChunk + 123
	col := make([]uint8, n)
	for i := range col {
		col[i] = uint8(rng.IntN(stride))
	}
	var left [stride]bool
	left[0] = true
	for b := 1; b <= 100; b++ {
		left[b] = true
	}
	var seg []int32
	for r := range n {
		if rng.IntN(4) > 0 {
			seg = append(seg, int32(r))
		}
	}
	want := slices.Clone(seg)
	one := &grower{workers: 1, tmp: make([]int32, n)}
	nw := one.partition(want, col, &left)
	got := slices.Clone(seg)
	par := &grower{workers: 3, tmp: make([]int32, n)}
	ng := par.partition(got, col, &left)
	require.Equal(t, nw, ng)
	require.Equal(t, want, got)
	for i, r := range want {
		assert.Equal(t, i < nw, left[col[r]], "row %d at %d", r, i)
		if i > 0 && i != nw {
			require.Less(t, want[i-1], r, "each side keeps row order")
		}
	}
}

// TestBinColumnIsBinOf checks the branch-free column binning against
// binOf's binary search, for few and many distinct values, NaN included.
func TestBinColumnIsBinOf(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for _, distinct := range []int{1, 2, 7, 254, 255, 256, 100000} {
		col := make([]float64, 5000)
		for i := range col {
			col[i] = float64(rng.IntN(distinct))
			if i%17 == 0 {
				col[i] = math.NaN()
			}
		}
		e := binEdges(col)
		out := make([]uint8, len(col))
		binColumn(e, col, 1, out)
		for i, v := range col {
			require.Equal(t, binOf(e, v), out[i], "%d distinct: value %v", distinct, v)
		}
	}
}

// A forest splits exactly, between two training values: on 4,000 rows
// whose class flips every 4 values, far finer than 255 quantile bins, one
// unbootstrapped tree fits every training row, and every threshold lies
// halfway between the two values it separates. Missing values (every 11th
// row, class 1) are learned as a side of their own.
func TestForestSplitsExactlyBetweenValues(t *testing.T) {
	const n = 4000
	d := Data{Features: 1, Classes: 2}
	for i := range n {
		v, y := float64(i), (i/4)%2
		if i%11 == 0 {
			v, y = math.NaN(), 1
		}
		d.X = append(d.X, v)
		d.Y = append(d.Y, y)
	}
	o := DefaultForestOptions()
	o.NEstimators, o.Bootstrap = 1, false
	res, err := Forest(context.Background(), d, o)
	require.NoError(t, err)
	p := res.Model.PredictProba(d.X, n, nil)
	for i := range n {
		assert.InDelta(t, float64(d.Y[i]), p[2*i+1], 1e-12, "row %d", i)
	}
	tree := res.Model.Trees[0]
	for i, f := range tree.Feature {
		if tree.Left[i] < 0 || math.IsInf(tree.Threshold[i], 1) {
			continue
		}
		require.Equal(t, int32(0), f)
		thr := tree.Threshold[i]
		lo, hi := math.Floor(thr-0.5), math.Ceil(thr+0.5) // the present values around it
		for math.Mod(lo, 11) == 0 {
			lo--
		}
		for math.Mod(hi, 11) == 0 {
			hi++
		}
		assert.Equal(t, lo+(hi-lo)/2, thr, "node %d threshold %v is not halfway between %v and %v", i, thr, lo, hi)
	}
}

// Quantile edges are numpy's percentiles by the averaged inverted CDF, as
// scikit-learn's _BinMapper fits them: edge i is sorted value ⌊n·i/255⌋,
// or the mean of the two values around it when n·i/255 is a whole number.
// The four values checked last were printed by numpy 2.4's
// np.percentile(v, np.linspace(0, 100, 256)[1:-1],
// method="averaged_inverted_cdf").
func TestBinEdgesAreAveragedInvertedCDF(t *testing.T) {
	col := make([]float64, 1000)
	for i := range col {
		col[len(col)-1-i] = float64(i * i) // unsorted on purpose
	}
	edges := binEdges(col)
	require.Len(t, edges, maxBins)
	require.True(t, math.IsInf(edges[len(edges)-1], 1))
	for i, e := range edges[:len(edges)-1] {
		j := 1000 * (i + 1) / 255
		want := float64(j * j)
		if 1000*(i+1)%255 == 0 {
			want = float64((j-1)*(j-1)+j*j) / 2
		}
		assert.Equal(t, want, e, "edge %d", i)
	}
	assert.Equal(t, []float64{9, 39800.5, 153664, 992016}, []float64{edges[0], edges[50], edges[99], edges[253]})
}
