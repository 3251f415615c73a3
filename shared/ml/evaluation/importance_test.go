package evaluation

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/dataset"
)

// firstFeature scores rows by their first feature only.
type firstFeature struct{ features int }

func (f firstFeature) PredictProba(ctx context.Context, x []float64, rows int) ([]float64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]float64, 2*rows)
	for i := range rows {
		p := 1 / (1 + x[i*f.features]*x[i*f.features])
		if x[i*f.features] > 0 {
			p = 1 - p/2
		} else {
			p /= 2
		}
		out[2*i], out[2*i+1] = 1-p, p
	}
	return out, nil
}

func TestPermutationImportanceFindsTheUsedFeature(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	d := &dataset.Dataset{FeatureNames: []string{"signal", "noise"}, Classes: []string{"0", "1"}, Positive: 1, Target: "y"}
	for range 400 {
		a, b := rng.NormFloat64(), rng.NormFloat64()
		y := 0
		if a+0.3*rng.NormFloat64() > 0 {
			y = 1
		}
		d.X = append(d.X, a, b)
		d.Y = append(d.Y, y)
	}
	d.Rows = len(d.Y)
	gain := []float64{0.9, 0.1}
	fi, err := PermutationImportance(context.Background(), firstFeature{2}, d, 4, 300, 7, gain)
	require.NoError(t, err)
	assert.Equal(t, "auc_roc", fi.Metric)
	assert.Equal(t, 300, fi.Rows)
	require.Len(t, fi.Features, 2)
	assert.Equal(t, "signal", fi.Features[0].Feature)
	assert.Greater(t, fi.Features[0].PermutationMean, 0.2)
	assert.Zero(t, fi.Features[1].PermutationMean, "a feature the model ignores changes nothing")
	require.NotNil(t, fi.Features[0].Gain)
	assert.Equal(t, 0.9, *fi.Features[0].Gain)

	again, err := PermutationImportance(context.Background(), firstFeature{2}, d, 4, 300, 7, gain)
	require.NoError(t, err)
	assert.Equal(t, fi, again, "seeded shuffles repeat")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = PermutationImportance(ctx, firstFeature{2}, d, 4, 0, 7, nil)
	require.ErrorIs(t, err, context.Canceled)
	_, err = PermutationImportance(context.Background(), firstFeature{2}, d, 0, 0, 7, nil)
	require.ErrorIs(t, err, ErrInvalidRequest)
}
