package evaluation

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRankBinaryMatchesSklearn checks that the shared ranking gives
// scikit-learn's roc_auc_score and average_precision_score on every binary
// vector to 1e-12, and the confusion matrix at the case's threshold.
func TestRankBinaryMatchesSklearn(t *testing.T) {
	v := loadSklearnVectors(t)
	binary := 0
	for _, c := range v.Cases {
		if c.P1 == nil || c.Expected.ROCAUC == nil && c.Expected.AveragePrecision == nil {
			continue
		}
		binary++
		t.Run(c.Name, func(t *testing.T) {
			r, err := RankBinary(c.Y, c.P1)
			require.NoError(t, err)
			if c.Expected.ROCAUC != nil {
				assert.InDelta(t, *c.Expected.ROCAUC, r.AUCROC(), 1e-12, "roc_auc")
			}
			if c.Expected.AveragePrecision != nil {
				assert.InDelta(t, *c.Expected.AveragePrecision, r.AveragePrecision(), 1e-12, "average_precision")
			}
			thr := c.Threshold
			if thr == 0 {
				thr = DefaultThreshold
			}
			cm := r.ConfusionMatrix(thr)
			want := [2][2]int{{c.Expected.ConfusionMatrix[0][0], c.Expected.ConfusionMatrix[0][1]},
				{c.Expected.ConfusionMatrix[1][0], c.Expected.ConfusionMatrix[1][1]}}
			assert.Equal(t, want, cm, "confusion matrix at %v", thr)
			assert.Equal(t, want, BinaryConfusionMatrix(c.Y, c.P1, thr), "one-pass confusion matrix")
		})
	}
	require.Positive(t, binary)
}

// TestRadixSortOrdersLikeCompare checks the key transforms and the radix
// sort against a comparison sort on scores with ties, signed zeros,
// infinities, subnormals and negative values, in float64 and float32.
func TestRadixSortOrdersLikeCompare(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	special := []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), 5e-324, -5e-324, 1, -1, math.MaxFloat64}
	scores := make([]float64, 5000)
	for i := range scores {
		switch i % 3 {
		case 0:
			scores[i] = special[rng.IntN(len(special))]
		case 1:
			scores[i] = math.Round(rng.NormFloat64()*100) / 100
		default:
			scores[i] = rng.NormFloat64() * 1e6
		}
	}
	keys := make([]uint64, len(scores))
	for i, s := range scores {
		keys[i] = descendingKey64(s)
		require.Equal(t, s == 0, fromDescendingKey64(keys[i]) == 0)
		if s != 0 {
			require.Equal(t, math.Float64bits(s), math.Float64bits(fromDescendingKey64(keys[i])))
		}
	}
	radixSort(keys, make([]uint64, len(keys)), 8)
	want := slices.Clone(scores)
	slices.SortFunc(want, func(a, b float64) int { return cmp.Compare(b, a) })
	for i, k := range keys {
		require.Equal(t, want[i], fromDescendingKey64(k), "position %d", i)
	}

	keys32 := make([]uint32, len(scores))
	want32 := make([]float32, len(scores))
	for i, s := range scores {
		want32[i] = float32(s)
		keys32[i] = descendingKey32(float32(s))
	}
	radixSort(keys32, make([]uint32, len(keys32)), 4)
	slices.SortFunc(want32, func(a, b float32) int { return cmp.Compare(b, a) })
	for i, k := range keys32 {
		require.Equal(t, want32[i], fromDescendingKey32(k), "float32 position %d", i)
	}
}

// TestRankingNarrowAndWideAgree checks that scores exactly representable as
// float32 (sorted on 32-bit keys) rank as they would on 64-bit keys, and
// that the ranking agrees with a direct count at every threshold.
func TestRankingNarrowAndWideAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	n := 20000
	y := make([]int, n)
	narrow, wide := make([]float64, n), make([]float64, n)
	for i := range n {
		if rng.Float64() < 0.2 {
			y[i] = 1
		}
		s := float32(math.Round(rng.Float64()*500) / 500)
		narrow[i] = float64(s)
		wide[i] = float64(s) + 1e-12*float64(i%2) // not float32-exact: 64-bit keys
	}
	rn, err := RankBinary(y, narrow)
	require.NoError(t, err)
	// The reference: the comparison-sorted curve of the original code.
	type row struct {
		s float64
		p bool
	}
	rows := make([]row, n)
	for i := range rows {
		rows[i] = row{narrow[i], y[i] == 1}
	}
	slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(b.s, a.s) })
	var thr []float64
	for i, r := range rows {
		if i == 0 || r.s != rows[i-1].s {
			thr = append(thr, r.s)
		}
	}
	require.Equal(t, thr, rn.Thresholds())
	for _, th := range append(thr, -1, 2, 0.5, 0.3337) {
		require.Equal(t, BinaryConfusionMatrix(y, narrow, th), rn.ConfusionMatrix(th), "threshold %v", th)
	}
	rw, err := RankBinary(y, wide)
	require.NoError(t, err)
	assert.Greater(t, len(rw.Thresholds()), len(rn.Thresholds()))
	assert.InDelta(t, rn.AUCROC(), rw.AUCROC(), 1e-2)
}

func TestRankBinaryRejects(t *testing.T) {
	_, err := RankBinary(nil, nil)
	require.ErrorIs(t, err, ErrEmptyInput)
	_, err = RankBinary([]int{0, 1}, []float64{0.5})
	require.ErrorIs(t, err, ErrLengthMismatch)
	_, err = RankBinary([]int{0, 1}, []float64{0.5, math.NaN()})
	require.ErrorIs(t, err, ErrNotFinite)
	require.ErrorContains(t, err, "row 1")
}

// TestBinaryAUCROCIsTheCurvesArea checks that BinaryAUCROC, which sums the
// area while it merges, gives the bits of the curve's trapezoid sum on
// float64 and float32-exact scores, with and without ties, and NaN where
// the curve has one class.
func TestBinaryAUCROCIsTheCurvesArea(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for trial := range 200 {
		n := 1 + rng.IntN(3000)
		y, score := make([]int, n), make([]float64, n)
		for i := range n {
			if rng.IntN(3) == 0 {
				y[i] = 1
			}
			switch trial % 4 {
			case 0:
				score[i] = rng.NormFloat64()
			case 1:
				score[i] = float64(float32(rng.NormFloat64()))
			case 2:
				score[i] = float64(rng.IntN(20)) // many ties
			default:
				score[i] = float64(rng.IntN(5)) - 2 + math.Copysign(0, -1) // ties, and -0 with +0
			}
		}
		c, ok := binaryCurveOf(y, score)
		require.True(t, ok)
		want, got := c.aucROC(), BinaryAUCROC(y, score)
		if math.IsNaN(want) {
			require.True(t, math.IsNaN(got), "trial %d", trial)
			continue
		}
		require.Equal(t, math.Float64bits(want), math.Float64bits(got), "trial %d: %v against %v", trial, got, want)
	}
	assert.True(t, math.IsNaN(BinaryAUCROC([]int{1, 1}, []float64{0.2, 0.4})))
	assert.True(t, math.IsNaN(BinaryAUCROC([]int{1, 0}, []float64{0.2, math.NaN()})))
	assert.True(t, math.IsNaN(BinaryAUCROC(nil, nil)))
}
