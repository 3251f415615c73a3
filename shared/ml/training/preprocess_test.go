package training

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/nn"
)

// columns builds a data set from feature columns of equal length.
func columns(cols ...[]float64) *dataset.Dataset {
	rows := len(cols[0])
	d := &dataset.Dataset{Rows: rows, Y: make([]int, rows), Classes: []string{"0", "1"}, Positive: 1, Target: "class"}
	for j := range cols {
		d.FeatureNames = append(d.FeatureNames, string(rune('a'+j)))
	}
	for i := range rows {
		for _, c := range cols {
			d.X = append(d.X, c[i])
		}
		d.RowIDs = append(d.RowIDs, i+1)
	}
	return d
}

// columnMoments returns the mean and population std of column j of x.
func columnMoments(x []float64, features, j int) (mean, std float64) {
	n := float64(len(x) / features)
	for i := j; i < len(x); i += features {
		mean += x[i]
	}
	mean /= n
	for i := j; i < len(x); i += features {
		std += (x[i] - mean) * (x[i] - mean)
	}
	return mean, math.Sqrt(std / n)
}

func TestPreprocessorFit(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name                string
		column              []float64
		impute, mean, scale float64
	}{
		// Imputed [1 2 2 10]: mean 3.75, population variance 13.1875.
		{"NaN imputed with the median", []float64{1, 2, nan, 10}, 2, 3.75, math.Sqrt(13.1875)},
		{"even count takes the middle mean", []float64{4, 1, 3, 2}, 2.5, 2.5, math.Sqrt(1.25)},
		{"constant column gets scale 1", []float64{7, 7, 7}, 7, 7, 1},
		{"all missing imputes 0", []float64{nan, nan}, 0, 0, 1},
		{"infinities are left out", []float64{1, math.Inf(1), 3}, 2, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := DataPreprocessor{}.Fit(columns(tt.column))
			require.NoError(t, err)
			require.NoError(t, p.Check())
			assert.InDelta(t, tt.impute, p.Impute[0], 1e-12, "impute")
			assert.InDelta(t, tt.mean, p.Mean[0], 1e-12, "mean")
			assert.InDelta(t, tt.scale, p.Scale[0], 1e-12, "scale")
		})
	}
}

func TestPreprocessorFitsOnTrainOnly(t *testing.T) {
	nan := math.NaN()
	train := columns([]float64{100, 102, nan, 98, 101, 99}, []float64{-1, 1, -1, 1, nan, 0})
	test := columns([]float64{-50, -40, nan}, []float64{10, 20, nan})
	before := slices.Clone(test.X)

	var pre DataPreprocessor
	p, err := pre.Fit(train)
	require.NoError(t, err)
	assert.Equal(t, []float64{100, 0}, p.Impute, "training medians")

	xt, err := pre.Transform(p, train)
	require.NoError(t, err)
	for j := range 2 {
		m, s := columnMoments(xt, 2, j)
		assert.InDelta(t, 0, m, 1e-12, "train mean of feature %d", j)
		assert.InDelta(t, 1, s, 1e-12, "train std of feature %d", j)
	}

	xs, err := pre.Transform(p, test)
	require.NoError(t, err)
	assert.Equal(t, floatBits(before), floatBits(test.X), "Transform leaves its input alone")
	// The test split is far from the training distribution: had the transform
	// been fitted on it, its mean would be 0.
	m, _ := columnMoments(xs[:4], 2, 0)
	assert.Less(t, m, -20.0)
	// A test NaN gets the training median, not a test statistic.
	assert.InDelta(t, (100-p.Mean[0])/p.Scale[0], xs[4], 1e-12)
	assert.InDelta(t, (0-p.Mean[1])/p.Scale[1], xs[5], 1e-12)
	assert.False(t, slices.ContainsFunc(xs, math.IsNaN))
}

// floatBits returns the bit patterns of x, so that slices holding NaN compare
// equal when they hold the same values.
func floatBits(x []float64) []uint64 {
	out := make([]uint64, len(x))
	for i, v := range x {
		out[i] = math.Float64bits(v)
	}
	return out
}

func TestPreprocessorErrors(t *testing.T) {
	var pre DataPreprocessor
	_, err := pre.Fit(nil)
	assert.ErrorIs(t, err, ErrInvalidData)
	_, err = pre.Fit(&dataset.Dataset{FeatureNames: []string{"a"}})
	assert.ErrorIs(t, err, ErrInvalidData)
	assert.Contains(t, err.Error(), "no rows")

	p, err := pre.Fit(columns([]float64{1, 2, 3}))
	require.NoError(t, err)
	_, err = pre.Transform(p, columns([]float64{1}, []float64{2}))
	assert.ErrorIs(t, err, ErrFeatureMismatch)
	assert.Contains(t, err.Error(), "expects 1 features")

	_, err = pre.Transform(nn.Preprocessing{Impute: []float64{0}, Mean: []float64{0}, Scale: []float64{0}}, columns([]float64{1}))
	assert.Error(t, err, "a zero scale is refused")
}

func TestPreprocessorHTRU2(t *testing.T) {
	tab, err := dataset.Read(context.Background(), htru2Path)
	require.NoError(t, err)
	d, err := tab.Select(dataset.SelectOptions{Target: "class"})
	require.NoError(t, err)
	s, err := dataset.StratifiedSplit(d, 0.15, 0.2, 42)
	require.NoError(t, err)

	var pre DataPreprocessor
	p, err := pre.Fit(s.Train)
	require.NoError(t, err)
	x, err := pre.Transform(p, s.Train)
	require.NoError(t, err)
	for j := range d.Features() {
		m, sd := columnMoments(x, d.Features(), j)
		assert.InDelta(t, 0, m, 1e-9, d.FeatureNames[j])
		assert.InDelta(t, 1, sd, 1e-9, d.FeatureNames[j])
	}
	xt, err := pre.Transform(p, s.Test)
	require.NoError(t, err)
	m, _ := columnMoments(xt, d.Features(), 0)
	assert.InDelta(t, 0, m, 0.1, "a held-out split of the same distribution is near 0")
	assert.NotEqual(t, 0.0, m, "but not exactly: it was not fitted on")
}

// TestMedianBySelection compares the selection median with a sort's on
// sizes 0..300, ties (values on a coarse grid) and infinities.
func TestMedianBySelection(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var scratch []float64
	for n := 0; n <= 300; n++ {
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Round(rng.NormFloat64() * 4)
			if rng.IntN(20) == 0 {
				v[i] = math.Inf(1 - 2*rng.IntN(2))
			}
		}
		orig := slices.Clone(v)
		var finite []float64
		for _, x := range v {
			if !math.IsInf(x, 0) {
				finite = append(finite, x)
			}
		}
		slices.Sort(finite)
		want := 0.0
		if m := len(finite); m%2 == 1 {
			want = finite[m/2]
		} else if m > 0 {
			want = (finite[m/2-1] + finite[m/2]) / 2
		}
		var got float64
		got, scratch = medianInto(scratch, v)
		require.Equal(t, want, got, "n=%d", n)
		require.Equal(t, orig, v, "the input is not reordered")
		require.Equal(t, want, median(v))
	}
}
