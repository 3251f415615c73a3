package training

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeConfigStartsFromDefaults(t *testing.T) {
	c, err := DecodeConfig(strings.NewReader(`{"epochs": 5, "dropout_rate": 0, "hidden_layers": [16], "lr_schedule": {"kind": "step"}}`))
	require.NoError(t, err)
	d := Defaults()
	assert.Equal(t, 5, c.Epochs)
	assert.Zero(t, c.DropoutRate, "an explicit zero stays zero")
	assert.Equal(t, d.Regularization, c.Regularization, "an absent field keeps its default")
	assert.Equal(t, []int{16}, c.HiddenLayers)
	assert.Equal(t, "step", c.Schedule.Kind)
	assert.Equal(t, d.Schedule.WarmupEpochs, c.Schedule.WarmupEpochs)
	n, err := c.Normalize()
	require.NoError(t, err)
	assert.Equal(t, c.Epochs, n.Epochs)
}

func TestDecodeLogisticRegressionNeedsNoEmptyHiddenLayers(t *testing.T) {
	c, err := DecodeConfig(strings.NewReader(`{"model_type": "logistic_regression"}`))
	require.NoError(t, err)
	n, err := c.Normalize()
	require.NoError(t, err)
	assert.Empty(t, n.HiddenLayers)
	m, err := Defaults().Normalize()
	require.NoError(t, err)
	assert.Equal(t, DefaultHiddenLayers, m.HiddenLayers, "an mlp gets the default layers")
}

func TestDecodeConfigRejects(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"unknown field", `{"learning_rat": 0.1}`, `unknown field "learning_rat"`},
		{"wrong type", `{"epochs": "ten"}`, "epochs"},
		{"trailing data", `{"epochs": 3} {}`, "trailing data"},
		{"bad class weights", `{"class_weights": 3}`, "class_weights"},
		// Zero is a value, not "absent" (issue 14): refused, not defaulted.
		{"zero epochs", `{"epochs": 0}`, "epochs: must be at least 1, got 0"},
		{"zero batch size", `{"batch_size": 0}`, "batch_size: must be at least 1, got 0"},
		{"zero learning rate", `{"learning_rate": 0}`, "learning_rate"},
		{"no hidden layers", `{"hidden_layers": []}`, "hidden_layers: an MLP needs at least one hidden layer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeConfig(strings.NewReader(tc.body))
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestNormalizeNamesTheBadField(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*TrainingConfig)
		field string
	}{
		{"model type", func(c *TrainingConfig) { c.ModelType = "forest" }, "model_type"},
		{"split", func(c *TrainingConfig) { c.TestSplit = 1.5 }, "test_split"},
		{"splits too large", func(c *TrainingConfig) { c.ValidationSplit, c.TestSplit = 0.5, 0.45 }, "validation_split"},
		{"optimizer", func(c *TrainingConfig) { c.Optimizer = "lbfgs" }, "optimizer"},
		{"activation", func(c *TrainingConfig) { c.Activation = "swish" }, "activation"},
		{"hidden layer", func(c *TrainingConfig) { c.HiddenLayers = []int{8, 0} }, "hidden_layers[1]"},
		{"logistic with hidden", func(c *TrainingConfig) { c.ModelType = ModelLogisticRegression; c.HiddenLayers = []int{4} }, "hidden_layers"},
		{"dropout", func(c *TrainingConfig) { c.DropoutRate = 1 }, "dropout_rate"},
		{"threshold", func(c *TrainingConfig) { c.DecisionThreshold = "high" }, "decision_threshold"},
		{"early stopping metric", func(c *TrainingConfig) { c.EarlyStop.Metric = "val_f1" }, "early_stopping.metric"},
		{"class weight", func(c *TrainingConfig) {
			c.ClassWeights = ClassWeights{Mode: "explicit", Weights: map[string]float64{"1": -2}}
		}, "class_weights"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			tc.edit(&c)
			_, err := c.Normalize()
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.field)
		})
	}
}

func TestThresholdSetting(t *testing.T) {
	c := Defaults()
	v, err := c.Threshold()
	require.NoError(t, err)
	assert.Zero(t, v, "f1 is chosen on the validation split")
	c.DecisionThreshold = "0.3"
	v, err = c.Threshold()
	require.NoError(t, err)
	assert.Equal(t, 0.3, v)
	c.DecisionThreshold = "0.3x"
	_, err = c.Threshold()
	require.Error(t, err)
}
