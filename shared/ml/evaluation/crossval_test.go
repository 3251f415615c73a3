package evaluation

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/dataset"
)

// synthetic returns a binary data set of one feature: class 1 with
// probability 0.3, the feature its class plus noise.
func synthetic(rows int, seed uint64) *dataset.Dataset {
	rng := rand.New(rand.NewPCG(seed, 7))
	d := &dataset.Dataset{FeatureNames: []string{"snr"}, Classes: []string{"noise", "pulsar"}, Positive: 1,
		Target: "class", Rows: rows}
	for range rows {
		y := 0
		if rng.Float64() < 0.3 {
			y = 1
		}
		d.Y = append(d.Y, y)
		d.X = append(d.X, float64(y)+0.8*rng.NormFloat64())
	}
	return d
}

// logisticFitter "trains" a fixed logistic link on the mean of each class,
// counting the calls.
type logisticFitter struct{ calls atomic.Int32 }

type logisticModel struct{ mid, threshold float64 }

func (m logisticModel) PredictProba(_ context.Context, x []float64, rows int) ([]float64, error) {
	out := make([]float64, 0, 2*rows)
	for _, v := range x {
		p := 1 / (1 + math.Exp(-4*(v-m.mid)))
		out = append(out, 1-p, p)
	}
	return out, nil
}

func (m logisticModel) DecisionThreshold() float64 { return m.threshold }

func (f *logisticFitter) Fit(_ context.Context, train *dataset.Dataset) (Predictor, error) {
	f.calls.Add(1)
	var sum [2]float64
	var n [2]int
	for i, y := range train.Y {
		sum[y] += train.X[i]
		n[y]++
	}
	return logisticModel{mid: (sum[0]/float64(n[0]) + sum[1]/float64(n[1])) / 2, threshold: 0.4}, nil
}

func TestSplittersPartitionRows(t *testing.T) {
	d := synthetic(103, 1)
	groups := make([]string, d.Rows)
	for i := range groups {
		groups[i] = string(rune('a' + i%11))
	}
	tests := []struct {
		splitter Splitter
		folds    int
		covered  int // times each row is tested
	}{
		{KFold{K: 5}, 5, 1},
		{KFold{K: 4, Shuffle: true, Seed: 3}, 4, 1},
		{StratifiedKFold{K: 5, Seed: 1}, 5, 1},
		{RepeatedStratifiedKFold{K: 3, Repeats: 2, Seed: 1}, 6, 2},
		{GroupKFold{K: 3}, 3, 1},
	}
	for _, tt := range tests {
		t.Run(tt.splitter.Name(), func(t *testing.T) {
			folds, err := tt.splitter.Split(d.Y, groups)
			require.NoError(t, err)
			require.Len(t, folds, tt.folds)
			tested := make([]int, d.Rows)
			for _, f := range folds {
				assert.Equal(t, d.Rows, len(f.Train)+len(f.Test), "train and test partition the rows")
				inTest := map[int]bool{}
				for _, i := range f.Test {
					tested[i]++
					inTest[i] = true
				}
				for _, i := range f.Train {
					assert.False(t, inTest[i], "row %d in both train and test", i)
				}
				if _, ok := tt.splitter.(GroupKFold); ok {
					testGroups := map[string]bool{}
					for _, i := range f.Test {
						testGroups[groups[i]] = true
					}
					for _, i := range f.Train {
						assert.False(t, testGroups[groups[i]], "group %s straddles train and test", groups[i])
					}
				}
			}
			for i, n := range tested {
				assert.Equal(t, tt.covered, n, "row %d tested %d times", i, n)
			}
		})
	}
	t.Run("stratified folds keep the class balance", func(t *testing.T) {
		folds, err := StratifiedKFold{K: 5, Seed: 9}.Split(d.Y, nil)
		require.NoError(t, err)
		counts := d.ClassCounts()
		for _, f := range folds {
			var pos int
			for _, i := range f.Test {
				pos += d.Y[i]
			}
			assert.InDelta(t, float64(counts[1])/5, float64(pos), 1, "fold %d positives", f.Index)
		}
	})
	t.Run("time series never trains on the future", func(t *testing.T) {
		folds, err := TimeSeriesSplit{K: 4, Gap: 2}.Split(d.Y, nil)
		require.NoError(t, err)
		for _, f := range folds {
			assert.Less(t, f.Train[len(f.Train)-1]+2, f.Test[0])
		}
	})
}

func TestSplittersRefuse(t *testing.T) {
	y := []int{0, 1, 0, 1, 0, 1}
	tests := []struct {
		name   string
		s      Splitter
		groups []string
	}{
		{"k=1", KFold{K: 1}, nil},
		{"more folds than rows", KFold{K: 7}, nil},
		{"class smaller than k", StratifiedKFold{K: 4}, nil},
		{"no repeats", RepeatedStratifiedKFold{K: 2}, nil},
		{"groups missing", GroupKFold{K: 2}, nil},
		{"more folds than groups", GroupKFold{K: 3}, []string{"a", "a", "b", "b", "a", "b"}},
		{"time series too short", TimeSeriesSplit{K: 6}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.s.Split(y, tt.groups)
			require.ErrorIs(t, err, ErrSplit)
		})
	}
}

func TestCrossValidatorRunsEveryFold(t *testing.T) {
	d := synthetic(400, 2)
	f := &logisticFitter{}
	cv := CrossValidator{Splitter: StratifiedKFold{K: 5, Seed: 1}, Fitter: f, Workers: 3}
	res, err := cv.Validate(context.Background(), d, nil)
	require.NoError(t, err)
	assert.Equal(t, int32(5), f.calls.Load())
	require.Len(t, res.Folds, 5)
	assert.Equal(t, 3, res.Workers)
	for i, fr := range res.Folds {
		assert.Equal(t, i, fr.Index)
		assert.Equal(t, 0.4, fr.Threshold, "the predictor's own threshold")
		assert.Equal(t, fr.TestRows, fr.Metrics.Support)
	}
	auc := res.Summary["auc_roc"]
	assert.Equal(t, 5, auc.Folds)
	assert.Greater(t, auc.Mean, 0.7)
	assert.Greater(t, auc.Std, 0.0)
	assert.LessOrEqual(t, auc.Min, auc.Mean)
	assert.GreaterOrEqual(t, auc.Max, auc.Mean)

	// Out-of-fold predictions cover every row once.
	require.Len(t, res.OutOfFold, 2*d.Rows)
	for _, p := range res.OutOfFold {
		assert.False(t, math.IsNaN(p))
	}
	assert.Equal(t, d.Rows, res.OutOfFoldMetrics.Support)

	// Parallel and serial runs agree exactly.
	serial, err := CrossValidator{Splitter: StratifiedKFold{K: 5, Seed: 1}, Fitter: &logisticFitter{}, Workers: 1}.
		Validate(context.Background(), d, nil)
	require.NoError(t, err)
	assert.Equal(t, res.OutOfFold, serial.OutOfFold)

	data, err := json.Marshal(res)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"summary"`)
}

func TestCrossValidatorTimeSeriesLeavesUntestedRowsNaN(t *testing.T) {
	d := synthetic(100, 3)
	res, err := CrossValidator{Splitter: TimeSeriesSplit{K: 3}, Fitter: &logisticFitter{}}.Validate(context.Background(), d, nil)
	require.NoError(t, err)
	assert.True(t, math.IsNaN(res.OutOfFold[0]), "the first block is never tested")
	assert.Equal(t, 75, res.OutOfFoldMetrics.Support)
}

func TestCrossValidatorStopsOnError(t *testing.T) {
	boom := errors.New("out of memory")
	failing := FitterFunc(func(context.Context, *dataset.Dataset) (Predictor, error) { return nil, boom })
	_, err := CrossValidator{Splitter: KFold{K: 3}, Fitter: failing}.Validate(context.Background(), synthetic(30, 1), nil)
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "fold")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = CrossValidator{Splitter: KFold{K: 3}, Fitter: &logisticFitter{}}.Validate(ctx, synthetic(30, 1), nil)
	require.ErrorIs(t, err, context.Canceled)

	_, err = CrossValidator{Splitter: KFold{K: 3}}.Validate(context.Background(), synthetic(30, 1), nil)
	require.ErrorIs(t, err, ErrSplit)
}

// TestFoldsRunSeparatelyCombineAsValidate runs every fold on its own, its
// outcome through JSON (as a fold run elsewhere hands it back), and
// combines them: the figures are Validate's.
func TestFoldsRunSeparatelyCombineAsValidate(t *testing.T) {
	d := synthetic(240, 9)
	cv := CrossValidator{Splitter: RepeatedStratifiedKFold{K: 4, Repeats: 2, Seed: 5}, Fitter: &logisticFitter{}}
	want, err := cv.Validate(t.Context(), d, nil)
	require.NoError(t, err)

	folds, err := cv.Folds(d, nil)
	require.NoError(t, err)
	require.Len(t, folds, 8)
	outcomes := make([]FoldOutcome, len(folds))
	for i := len(folds) - 1; i >= 0; i-- { // any order
		o, err := cv.RunFold(t.Context(), d, folds[i])
		require.NoError(t, err)
		b, err := json.Marshal(o)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &outcomes[i]))
		assert.Nil(t, outcomes[i].Result.Test, "row indices are not in the outcome's JSON")
	}
	got, err := cv.Combine(d, folds, outcomes)
	require.NoError(t, err)
	assert.Equal(t, want.Summary, got.Summary)
	assert.Equal(t, want.OutOfFoldMetrics, got.OutOfFoldMetrics)
	assert.Equal(t, want.OutOfFold, got.OutOfFold)
	require.Len(t, got.Folds, len(want.Folds))
	for i := range want.Folds {
		w, g := want.Folds[i], got.Folds[i]
		w.Seconds, g.Seconds = 0, 0
		assert.Equal(t, w, g, "fold %d", i)
	}

	t.Run("an outcome of another fold is refused", func(t *testing.T) {
		swapped := append([]FoldOutcome(nil), outcomes...)
		swapped[0], swapped[1] = swapped[1], swapped[0]
		_, err := cv.Combine(d, folds, swapped)
		require.ErrorIs(t, err, ErrSplit)
		_, err = cv.Combine(d, folds, outcomes[:3])
		require.ErrorIs(t, err, ErrSplit)
	})
}
