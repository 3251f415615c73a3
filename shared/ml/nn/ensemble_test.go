package nn

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/orrery-ml/orrery/shared/ml/trees"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// treeModel trains a small tree ensemble of kind on 8 HTRU2-shaped
// features and wraps it in testModel's manifest.
func treeModel(t *testing.T, kind string, classes int) *Model {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	d := trees.Data{Features: len(htruFeatures), Classes: classes}
	for i := range 600 {
		row := make([]float64, d.Features)
		for j := range row {
			row[j] = rng.NormFloat64()
		}
		y := i % classes
		row[0] += 2 * float64(y)
		if i%5 == 0 {
			row[1] = math.NaN()
		}
		d.X = append(d.X, row...)
		d.Y = append(d.Y, y)
	}
	var tm *trees.Model
	if kind == trees.KindBoosting {
		o := trees.DefaultBoostOptions()
		o.MaxIter = 15
		var err error
		tm, err = trees.Boost(context.Background(), d, trees.Data{}, o)
		require.NoError(t, err)
	} else {
		o := trees.DefaultForestOptions()
		o.NEstimators = 10
		res, err := trees.Forest(context.Background(), d, o)
		require.NoError(t, err)
		tm = res.Model
	}
	m := testModel(t)
	m.Net, m.Trees = nil, tm
	m.Manifest.Classes = m.Manifest.Classes[:0]
	for k := range classes {
		m.Manifest.Classes = append(m.Manifest.Classes, string(rune('a'+k)))
	}
	return m
}

func TestTreeModelSaveLoadPredictsExactly(t *testing.T) {
	for _, tc := range []struct {
		kind    string
		classes int
	}{{ModelGradientBoosting, 2}, {ModelGradientBoosting, 3}, {ModelRandomForest, 2}, {ModelRandomForest, 3}} {
		m := treeModel(t, tc.kind, tc.classes)
		dir := filepath.Join(t.TempDir(), "model")
		require.NoError(t, SaveDir(dir, m))
		assert.Equal(t, tc.kind, m.Manifest.ModelType)
		back, err := LoadDir(dir)
		require.NoError(t, err)
		require.NotNil(t, back.Trees)
		require.Nil(t, back.Net)
		assert.Equal(t, tc.classes, back.Classes())
		x := rawRows(50)
		for i := 0; i < len(x); i += 8 * 3 {
			x[i+1] = math.NaN() // missing values stay missing for trees
		}
		want, err := m.PredictProba(context.Background(), x, 50)
		require.NoError(t, err)
		got, err := back.PredictProba(context.Background(), x, 50)
		require.NoError(t, err)
		for i := range want {
			require.Equal(t, math.Float64bits(want[i]), math.Float64bits(got[i]), "%s: probability %d", tc.kind, i)
		}
		pred, err := back.Predict(context.Background(), x, 50)
		require.NoError(t, err)
		assert.Len(t, pred, 50)
	}
}

func TestTreeModelRefusesDisagreement(t *testing.T) {
	m := treeModel(t, ModelGradientBoosting, 2)
	m.Manifest.Features = m.Manifest.Features[:3]
	_, err := EncodeDir(m)
	require.ErrorIs(t, err, ErrInvalidModel)

	both := treeModel(t, ModelRandomForest, 2)
	both.Net, err = New(mlpSpec, 1)
	require.NoError(t, err)
	_, err = EncodeDir(both)
	require.ErrorIs(t, err, ErrInvalidModel)
}
