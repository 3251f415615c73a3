package evaluation

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAUCBoundsHoldTheAUC draws score columns of every awkward shape — many
// ties, a few distinct values, a heavy tail, infinities, a constant — and
// checks that the exact AUC lies in the interval every time, and that the
// interval is tight where the scores spread.
func TestAUCBoundsHoldTheAUC(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	shapes := map[string]func(i int, y bool) float64{
		"spread": func(_ int, y bool) float64 {
			if y {
				return rng.NormFloat64() + 1
			}
			return rng.NormFloat64()
		},
		"ties": func(_ int, y bool) float64 {
			if y {
				return float64(rng.IntN(5) + 1)
			}
			return float64(rng.IntN(5))
		},
		"heavy tail": func(i int, y bool) float64 {
			v := rng.ExpFloat64()
			if i%97 == 0 {
				v *= 1e9
			}
			if y {
				v *= 1.5
			}
			return v
		},
		"infinities": func(i int, y bool) float64 {
			switch i % 50 {
			case 0:
				return math.Inf(1)
			case 1:
				return math.Inf(-1)
			}
			if y {
				return rng.Float64() + 0.3
			}
			return rng.Float64()
		},
		"constant": func(int, bool) float64 { return 3 },
		"separated": func(_ int, y bool) float64 {
			if y {
				return 10 + rng.Float64()
			}
			return rng.Float64()
		},
	}
	for name, draw := range shapes {
		for _, n := range []int{2, 17, 1000, 20000} {
			y := make([]bool, n)
			s := make([]float64, n)
			lo, hi := math.Inf(1), math.Inf(-1)
			for i := range n {
				y[i] = rng.IntN(3) == 0
				s[i] = draw(i, y[i])
				lo, hi = min(lo, s[i]), max(hi, s[i])
			}
			y[0], y[1] = true, false
			auc := BinaryAUCROCOf(n, func(i int) bool { return y[i] }, func(i int) float64 { return s[i] })
			bLo, bHi := BinaryAUCROCBounds(n, func(i int) bool { return y[i] }, func(i int) float64 { return s[i] }, lo, hi)
			require.False(t, math.IsNaN(auc), "%s n=%d", name, n)
			assert.LessOrEqual(t, bLo, auc, "%s n=%d", name, n)
			assert.GreaterOrEqual(t, bHi, auc, "%s n=%d", name, n)
			if n == 20000 && (name == "spread" || name == "separated") {
				assert.Less(t, bHi-bLo, 1e-3, "%s: the interval should be tight", name)
			}
		}
	}
}

// TestAUCBoundsOfOneClass: no pairs, no interval.
func TestAUCBoundsOfOneClass(t *testing.T) {
	s := []float64{1, 2, 3}
	lo, hi := BinaryAUCROCBounds(3, func(int) bool { return true }, func(i int) float64 { return s[i] }, 1, 3)
	assert.True(t, math.IsNaN(lo) && math.IsNaN(hi))
	lo, hi = BinaryAUCROCBounds(0, nil, nil, 0, 0)
	assert.True(t, math.IsNaN(lo) && math.IsNaN(hi))
}

// TestAUCBoundsOfAPerfectFeature: a feature that separates the classes
// has the interval [1, 1] and its reverse [0, 0], up to the slack.
func TestAUCBoundsOfAPerfectFeature(t *testing.T) {
	s := []float64{0, 1, 2, 3, 10, 11, 12}
	y := []bool{false, false, false, false, true, true, true}
	lo, hi := BinaryAUCROCBounds(len(s), func(i int) bool { return y[i] }, func(i int) float64 { return s[i] }, 0, 12)
	assert.InDelta(t, 1, lo, 1e-11)
	assert.Equal(t, 1.0, hi)
	r := slices.Clone(s)
	slices.Reverse(r)
	lo, hi = BinaryAUCROCBounds(len(s), func(i int) bool { return y[i] }, func(i int) float64 { return r[i] }, 0, 12)
	assert.Equal(t, 0.0, lo)
	assert.InDelta(t, 0, hi, 1e-11)
}

// BinaryAUCROCBounds is the interval of AUCROCBoundsOfBins for n rows
// given by functions (whether row i is a positive, its score) whose
// scores lie in [minScore, maxScore]: the reference the tests hold the
// bins and the bounds to, counting as the leakage check counts.
func BinaryAUCROCBounds(n int, positive func(int) bool, score func(int) float64, minScore, maxScore float64) (lo, hi float64) {
	if n <= 0 {
		return math.NaN(), math.NaN()
	}
	bins := NewAUCBins(minScore, maxScore)
	pos := make([]uint64, AUCBinCount)
	all := make([]uint64, AUCBinCount)
	for i := range n {
		b := bins.Of(score(i))
		all[b]++
		if positive(i) {
			pos[b]++
		}
	}
	return AUCROCBoundsOfBins(pos, all)
}
