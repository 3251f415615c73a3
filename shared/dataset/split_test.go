package dataset_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/dataset"
)

func TestStratifiedSplitHTRU2(t *testing.T) {
	tab, err := dataset.Read(context.Background(), htru2Path)
	require.NoError(t, err)
	d, err := tab.Select(dataset.SelectOptions{Target: "class"})
	require.NoError(t, err)

	const validation, test = 0.15, 0.2
	s, err := dataset.StratifiedSplit(d, validation, test, 42)
	require.NoError(t, err)

	counts := d.ClassCounts()
	for c, n := range counts {
		for _, part := range []struct {
			name     string
			d        *dataset.Dataset
			fraction float64
		}{
			{"validation", s.Validation, validation},
			{"test", s.Test, test},
			{"train", s.Train, 1 - validation - test},
		} {
			got := float64(part.d.ClassCounts()[c])
			assert.InDelta(t, float64(n)*part.fraction, got, 1.0, "class %s in %s", d.Classes[c], part.name)
		}
	}
	assert.Equal(t, d.Rows, s.Train.Rows+s.Validation.Rows+s.Test.Rows)

	// Disjoint and covering: every source row lands in exactly one subset.
	seen := make(map[int]string, d.Rows)
	for name, part := range map[string]*dataset.Dataset{"train": s.Train, "validation": s.Validation, "test": s.Test} {
		assert.True(t, slices.IsSorted(part.RowIDs), "%s keeps the original order", name)
		assert.Equal(t, d.FeatureNames, part.FeatureNames)
		assert.Equal(t, d.Classes, part.Classes)
		for k, id := range part.RowIDs {
			prev, dup := seen[id]
			require.False(t, dup, "row %d in both %s and %s", id, prev, name)
			seen[id] = name
			assert.Equal(t, d.Y[id-1], part.Y[k])
			assert.Equal(t, d.X[(id-1)*8:id*8], part.X[k*8:(k+1)*8])
		}
	}
	assert.Len(t, seen, d.Rows)

	again, err := dataset.StratifiedSplit(d, validation, test, 42)
	require.NoError(t, err)
	assert.Equal(t, s.Test.RowIDs, again.Test.RowIDs, "same seed, same split")
	assert.Equal(t, s.Validation.RowIDs, again.Validation.RowIDs)

	other, err := dataset.StratifiedSplit(d, validation, test, 43)
	require.NoError(t, err)
	assert.NotEqual(t, s.Test.RowIDs, other.Test.RowIDs, "another seed, another split")
	assert.Equal(t, s.Test.Rows, other.Test.Rows)
}

// labelled builds a one-feature data set with n rows of each class.
func labelled(t *testing.T, n ...int) *dataset.Dataset {
	t.Helper()
	var b strings.Builder
	b.WriteString("x,label\n")
	row := 0
	for c, k := range n {
		for range k {
			row++
			fmt.Fprintf(&b, "%d,c%d\n", row, c)
		}
	}
	d, err := table(t, "small.csv", b.String()).Select(dataset.SelectOptions{Target: "label"})
	require.NoError(t, err)
	return d
}

func TestStratifiedSplitSmallClasses(t *testing.T) {
	tests := []struct {
		name               string
		counts             []int
		validation, test   float64
		wantTrain, wantVal []int
		wantTest           []int
	}{
		// Binary: the minority c0 is positive, so Classes is [c1, c0].
		{"three rows give one of each", []int{3, 50}, 0.15, 0.2, []int{32, 1}, []int{8, 1}, []int{10, 1}},
		{"counts are rounded, not truncated", []int{9, 9}, 0.15, 0.3, []int{5, 5}, []int{1, 1}, []int{3, 3}},
		{"large fractions leave a training row", []int{4, 4, 4}, 0.45, 0.45, []int{1, 1, 1}, []int{2, 2, 2}, []int{1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := labelled(t, tt.counts...)
			s, err := dataset.StratifiedSplit(d, tt.validation, tt.test, 7)
			require.NoError(t, err)
			assert.Equal(t, tt.wantTrain, s.Train.ClassCounts())
			assert.Equal(t, tt.wantVal, s.Validation.ClassCounts())
			assert.Equal(t, tt.wantTest, s.Test.ClassCounts())
		})
	}
}

func TestStratifiedSplitErrors(t *testing.T) {
	d := labelled(t, 2, 30)
	_, err := dataset.StratifiedSplit(d, 0.1, 0.2, 1)
	assert.ErrorIs(t, err, dataset.ErrTooFewRows)
	assert.Contains(t, err.Error(), `class "c0" of target "label" has 2 rows`)

	ok := labelled(t, 30, 30)
	for _, f := range []struct{ validation, test float64 }{
		{0, 0.2}, {0.2, 0}, {1, 0.1}, {0.5, 0.5}, {-0.1, 0.2}, {math.NaN(), 0.2}, {0.2, math.Inf(1)},
	} {
		t.Run(fmt.Sprintf("fractions %v %v", f.validation, f.test), func(t *testing.T) {
			_, err := dataset.StratifiedSplit(ok, f.validation, f.test, 1)
			assert.ErrorIs(t, err, dataset.ErrInvalidFraction)
		})
	}
}

func TestStratifiedSplitInPlaceEqualsCopies(t *testing.T) {
	tab, err := dataset.Read(context.Background(), htru2Path)
	require.NoError(t, err)
	d, err := tab.Select(dataset.SelectOptions{Target: "class"})
	require.NoError(t, err)
	d.Weights = make([]float64, d.Rows)
	for i := range d.Weights {
		d.Weights[i] = float64(i%7) + 0.5
	}
	want, err := dataset.StratifiedSplit(d, 0.15, 0.2, 42)
	require.NoError(t, err)
	rows := d.Rows

	got, err := dataset.StratifiedSplitInPlace(d, 0.15, 0.2, 42)
	require.NoError(t, err)
	for _, part := range []struct {
		name      string
		got, want *dataset.Dataset
	}{{"train", got.Train, want.Train}, {"validation", got.Validation, want.Validation}, {"test", got.Test, want.Test}} {
		assert.Equal(t, part.want.Rows, part.got.Rows, part.name)
		assert.Equal(t, part.want.X, part.got.X, part.name)
		assert.Equal(t, part.want.Y, part.got.Y, part.name)
		assert.Equal(t, part.want.RowIDs, part.got.RowIDs, part.name)
		assert.Equal(t, part.want.Weights, part.got.Weights, part.name)
		assert.Equal(t, part.want.Classes, part.got.Classes, part.name)
	}
	// d holds the same rows, reordered: train, validation, test.
	assert.Equal(t, rows, d.Rows)
	assert.Equal(t, slices.Concat(want.Train.RowIDs, want.Validation.RowIDs, want.Test.RowIDs), d.RowIDs)
	// The subsets are views: appending to one never overwrites the next.
	tr := got.Train
	tr.X = append(tr.X, 123)
	assert.Equal(t, want.Validation.X[0], got.Validation.X[0])

	_, err = dataset.StratifiedSplitInPlace(d, 0.6, 0.5, 1)
	require.ErrorIs(t, err, dataset.ErrInvalidFraction)
}

// TestStratifiedSplitInPlaceRandom compares the in-place split with the
// copying one on random data sets: sizes from the smallest a split takes,
// one to three features, two or three classes, several fractions and
// seeds, with and without weights.
func TestStratifiedSplitInPlaceRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for trial := range 300 {
		rows, nf, classes := 30+rng.IntN(400), 1+rng.IntN(3), 2+rng.IntN(2)
		d := &dataset.Dataset{Rows: rows, X: make([]float64, rows*nf), Y: make([]int, rows), RowIDs: make([]int, rows), Positive: -1}
		for c := range classes {
			d.Classes = append(d.Classes, fmt.Sprint(c))
		}
		for j := range nf {
			d.FeatureNames = append(d.FeatureNames, fmt.Sprint("f", j))
		}
		for i := range rows {
			d.Y[i], d.RowIDs[i] = i%classes, i+1
			for j := range nf {
				d.X[i*nf+j] = float64(i*10 + j)
			}
		}
		if trial%2 == 0 {
			d.Weights = make([]float64, rows)
			for i := range d.Weights {
				d.Weights[i] = float64(i) + 0.25
			}
		}
		val, test := 0.05+0.3*rng.Float64(), 0.05+0.3*rng.Float64()
		seed := int64(trial)
		want, err := dataset.StratifiedSplit(d, val, test, seed)
		require.NoError(t, err)
		got, err := dataset.StratifiedSplitInPlace(d, val, test, seed)
		require.NoError(t, err)
		for _, part := range [][2]*dataset.Dataset{{want.Train, got.Train}, {want.Validation, got.Validation}, {want.Test, got.Test}} {
			require.Equal(t, part[0].RowIDs, part[1].RowIDs, "trial %d", trial)
			require.Equal(t, part[0].X, part[1].X, "trial %d", trial)
			require.Equal(t, part[0].Y, part[1].Y, "trial %d", trial)
			require.Equal(t, part[0].Weights, part[1].Weights, "trial %d", trial)
		}
	}
}
