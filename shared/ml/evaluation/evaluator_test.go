package evaluation

import (
	"context"
	"encoding/csv"
	"errors"
	"math"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/dataset"
)

// htru2 reads the bundled HTRU2 sample (events/data/htru2.csv) into a
// Dataset the way the dataset package lays one out.
func htru2(t *testing.T) *dataset.Dataset {
	t.Helper()
	f, err := os.Open("../../../events/data/htru2.csv")
	require.NoError(t, err)
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	header := records[0]
	target := slices.Index(header, "class")
	require.Equal(t, len(header)-1, target)
	d := &dataset.Dataset{
		FeatureNames: header[:target],
		Classes:      []string{"0", "1"},
		Positive:     1,
		Target:       "class",
	}
	for i, rec := range records[1:] {
		for _, cell := range rec[:target] {
			v, err := strconv.ParseFloat(cell, 64)
			require.NoError(t, err, "row %d", i+1)
			d.X = append(d.X, v)
		}
		y := slices.Index(d.Classes, rec[target])
		require.GreaterOrEqual(t, y, 0, "row %d class %q", i+1, rec[target])
		d.Y = append(d.Y, y)
		d.RowIDs = append(d.RowIDs, i+1)
		d.Rows++
	}
	return d
}

// kurtosisModel scores a pulsar candidate by the excess kurtosis of its
// integrated profile, the strongest single HTRU2 feature, through a fixed
// logistic curve.
type kurtosisModel struct {
	feature, features int
	calls             int
}

func (m *kurtosisModel) PredictProba(ctx context.Context, x []float64, rows int) ([]float64, error) {
	m.calls++
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]float64, 0, 2*rows)
	for i := range rows {
		p := 1 / (1 + math.Exp(-2*(x[i*m.features+m.feature]-1)))
		out = append(out, 1-p, p)
	}
	return out, nil
}

// brokenModel returns a fixed result.
type brokenModel struct {
	proba []float64
	err   error
}

func (m brokenModel) PredictProba(context.Context, []float64, int) ([]float64, error) {
	return m.proba, m.err
}

func TestEvaluateHTRU2(t *testing.T) {
	d := htru2(t)
	require.Equal(t, 17898, d.Rows)
	model := &kurtosisModel{feature: slices.Index(d.FeatureNames, "exk-prof"), features: len(d.FeatureNames)}
	require.GreaterOrEqual(t, model.feature, 0)

	m, proba, err := ModelEvaluator{}.Evaluate(context.Background(), model, d, 0.5)
	require.NoError(t, err)
	assert.Equal(t, 1, model.calls)
	require.Len(t, proba, 2*d.Rows)
	assert.Equal(t, d.Rows, m.Support)
	assert.Equal(t, "1", m.PositiveClass)
	assert.Equal(t, 1639, m.ConfusionMatrix[1][0]+m.ConfusionMatrix[1][1], "HTRU2 has 1,639 pulsars")
	assert.Greater(t, m.AUCROC, 0.9, "kurtosis alone separates pulsars well")
	assert.Greater(t, m.AUCPR, 0.5)

	// The evaluator only wires: the same probabilities through Calculate
	// give the same metrics.
	direct, err := MetricsCalculator{}.Calculate(Input{Y: d.Y, Proba: proba, Classes: d.Classes, Positive: 1, Threshold: 0.5})
	require.NoError(t, err)
	assert.Equal(t, direct, m)

	// A threshold chosen for F1 scores at least as well as 0.5 on F1.
	p1 := column(Input{Y: d.Y, Proba: proba, Classes: d.Classes}, 1)
	thr, f1 := BestF1Threshold(d.Y, p1)
	tuned, _, err := ModelEvaluator{}.Evaluate(context.Background(), model, d, thr)
	require.NoError(t, err)
	assert.InDelta(t, f1, tuned.F1Score, 1e-12)
	assert.GreaterOrEqual(t, tuned.F1Score, m.F1Score)
}

func TestEvaluateErrors(t *testing.T) {
	small := &dataset.Dataset{
		FeatureNames: []string{"a"}, X: []float64{1, 2, 3}, Rows: 3,
		Y: []int{0, 1, 0}, Classes: []string{"0", "1"}, Positive: 1, Target: "class",
	}
	errPredict := errors.New("model file truncated")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		p    Predictor
		d    *dataset.Dataset
		want error
	}{
		{"nil predictor", context.Background(), nil, small, ErrNilPredictor},
		{"nil data set", context.Background(), brokenModel{}, nil, ErrInvalidDataset},
		{"no rows", context.Background(), brokenModel{}, &dataset.Dataset{Classes: []string{"0", "1"}, Positive: 1}, ErrInvalidDataset},
		{"labels do not match rows", context.Background(), brokenModel{},
			&dataset.Dataset{FeatureNames: []string{"a"}, X: []float64{1, 2}, Rows: 2, Y: []int{0}, Classes: []string{"0", "1"}, Positive: 1},
			ErrInvalidDataset},
		{"features do not match rows", context.Background(), brokenModel{},
			&dataset.Dataset{FeatureNames: []string{"a", "b"}, X: []float64{1, 2}, Rows: 2, Y: []int{0, 1}, Classes: []string{"0", "1"}, Positive: 1},
			ErrInvalidDataset},
		{"cancelled context", cancelled, brokenModel{}, small, context.Canceled},
		{"predictor fails", context.Background(), brokenModel{err: errPredict}, small, errPredict},
		{"predictor returns too few values", context.Background(), brokenModel{proba: []float64{0.5, 0.5}}, small, ErrLengthMismatch},
		{"predictor returns NaN", context.Background(),
			brokenModel{proba: []float64{0.5, 0.5, math.NaN(), 0.5, 0.5, 0.5}}, small, ErrNotFinite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, proba, err := ModelEvaluator{}.Evaluate(tt.ctx, tt.p, tt.d, 0.5)
			require.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), "evaluate")
			assert.Nil(t, proba)
			assert.Zero(t, m.Support)
		})
	}
}
