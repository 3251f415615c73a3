package optimization_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/optimization"
)

func TestSpaceValidate(t *testing.T) {
	good := optimization.Dimension{Name: "lr", Kind: optimization.Float, Low: 1e-4, High: 1e-1, Log: true}
	cases := []struct {
		name string
		dims []optimization.Dimension
		want string
	}{
		{"empty", nil, "no dimensions"},
		{"no name", []optimization.Dimension{{Kind: optimization.Float, Low: 0, High: 1}}, "has no name"},
		{"duplicate", []optimization.Dimension{good, good}, "named twice"},
		{"reversed float", []optimization.Dimension{{Name: "a", Kind: optimization.Float, Low: 1, High: 0}}, "low < high"},
		{"fractional int", []optimization.Dimension{{Name: "a", Kind: optimization.Int, Low: 0.5, High: 3}}, "integer low"},
		{"log at zero", []optimization.Dimension{{Name: "a", Kind: optimization.Float, Low: 0, High: 1, Log: true}}, "low > 0"},
		{"no choices", []optimization.Dimension{{Name: "a", Kind: optimization.Categorical}}, "at least one choice"},
		{"duplicate choice", []optimization.Dimension{{Name: "a", Kind: optimization.Categorical, Choices: []any{1.0, 1}}}, "listed twice"},
		{"bad kind", []optimization.Dimension{{Name: "a", Kind: "complex"}}, "not float, int or categorical"},
		{"unknown parent", []optimization.Dimension{{Name: "a", Kind: optimization.Int, Low: 1, High: 2,
			Condition: &optimization.Condition{Parent: "b", Values: []any{1}}}}, "not an earlier dimension"},
		{"impossible condition", []optimization.Dimension{{Name: "n", Kind: optimization.Int, Low: 1, High: 2},
			{Name: "a", Kind: optimization.Int, Low: 1, High: 2, Condition: &optimization.Condition{Parent: "n", Values: []any{7}}}}, "not a value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := optimization.Space{Dimensions: c.dims}.Validate()
			require.ErrorIs(t, err, optimization.ErrInvalidSpace)
			assert.Contains(t, err.Error(), c.want)
		})
	}
	require.NoError(t, optimization.Space{Dimensions: []optimization.Dimension{good}}.Validate())
}

func TestHyperparameterSpaceGridAndConditions(t *testing.T) {
	h := optimization.HyperparameterSpace{
		LearningRate: [2]float64{1e-3, 1e-1},
		BatchSize:    []int{64, 128},
		HiddenLayers: [2]int{1, 2},
		HiddenUnits:  [2]int{8, 32},
		Activation:   []string{"relu", "tanh"},
	}
	sp, err := h.Space()
	require.NoError(t, err)
	names := []string{}
	for _, d := range sp.Dimensions {
		names = append(names, d.Name)
	}
	assert.Equal(t, []string{"learning_rate", "batch_size", "n_layers", "units_1", "units_2", "activation"}, names)
	grid := sp.Grid()
	// lr 5 × batch 2 × (n=1: units_1 3 | n=2: units_1 3 × units_2 3) × act 2.
	assert.Len(t, grid, 5*2*(3+9)*2)
	keys := map[string]bool{}
	for _, p := range grid {
		assert.False(t, keys[p.Key()], "grid point %v twice", p)
		keys[p.Key()] = true
		n, _ := p.Int("n_layers")
		_, has2 := p["units_2"]
		assert.Equal(t, n == 2, has2, "units_2 is active exactly when n_layers is 2: %v", p)
		_, err := sp.Normalize(p)
		require.NoError(t, err)
	}

	// Params survive a JSON round trip with canonical types.
	b, err := json.Marshal(grid[7])
	require.NoError(t, err)
	var back optimization.Params
	require.NoError(t, json.Unmarshal(b, &back))
	norm, err := sp.Normalize(back)
	require.NoError(t, err)
	assert.Equal(t, grid[7].Key(), norm.Key())
	assert.IsType(t, 0, norm["n_layers"])

	_, err = sp.Normalize(optimization.Params{"learning_rate": 5.0})
	require.ErrorIs(t, err, optimization.ErrInvalidSpace)
	bad := grid[0]
	bad["units_2"] = 8
	if n, _ := bad.Int("n_layers"); n == 1 {
		_, err = sp.Normalize(bad)
		require.ErrorContains(t, err, "inactive")
	}

	_, err = optimization.HyperparameterSpace{HiddenLayers: [2]int{3, 1}}.Space()
	require.ErrorIs(t, err, optimization.ErrInvalidSpace)
}

func TestDimensionJSONRefusesUnknownFields(t *testing.T) {
	var sp optimization.Space
	err := json.Unmarshal([]byte(`{"dimensions":[{"name":"lr","kind":"float","low":0.1,"high":1,"lg":true}]}`), &sp)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "lg")
}
