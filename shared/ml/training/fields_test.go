package training

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigFieldsAreTheDecodersFields(t *testing.T) {
	fields := ConfigFields()
	seen := map[string]bool{}
	for _, f := range fields {
		seen[f.Path] = true
		assert.NotEmpty(t, f.Doc, "field %s has no line in fieldDocs", f.Path)
		// Every path is one the strict decoder knows.
		parts := strings.Split(f.Path, ".")
		body := `"x"`
		switch f.Kind {
		case FieldInt, FieldFloat:
			body = "1"
		case FieldBool:
			body = "true"
		case FieldInts:
			body = "[8]"
		case FieldStrings:
			body = `["a"]`
		case FieldJSON:
			body = "{}"
			if f.Path == "class_weights" {
				body = `"none"`
			}
		}
		for i := len(parts) - 1; i >= 0; i-- {
			body = `{"` + parts[i] + `": ` + body + `}`
		}
		_, err := DecodeConfig(strings.NewReader(body))
		if err != nil {
			assert.NotContains(t, err.Error(), "unknown field", "field %s", f.Path)
		}
	}
	for path := range fieldDocs {
		assert.True(t, seen[path], "fieldDocs names %s, which is no field", path)
	}
	for _, want := range []string{"epochs", "learning_rate", "hidden_layers", "lr_schedule.kind", "early_stopping.enabled",
		"split_values.test", "missing_values", "class_weights", "error_columns", "max_iter", "bootstrap", "max_features"} {
		assert.True(t, seen[want], want)
	}
}

func TestConfigFieldDefaults(t *testing.T) {
	def := map[string]string{}
	for _, f := range ConfigFields() {
		def[f.Path] = f.Default
	}
	assert.Equal(t, "60", def["epochs"])
	assert.Equal(t, "0.003", def["learning_rate"])
	assert.Equal(t, "true", def["early_stopping.enabled"])
	assert.Equal(t, "balanced", def["class_weights"])
	assert.Equal(t, "cosine", def["lr_schedule.kind"])
	assert.Equal(t, "", def["dataset_path"])
}

func TestFieldValuesApply(t *testing.T) {
	base, err := DecodeConfig(strings.NewReader(`{"dropout_rate": 0, "epochs": 7, "error_columns": {"a": "a_sig"}}`))
	require.NoError(t, err)
	c, err := FieldValues{
		"learning_rate": "0.01", "hidden_layers": "16, 8", "lr_schedule.kind": "step", "early_stopping.enabled": "false",
		"class_weights": `{"1": 3, "0": 1}`, "metrics": "auc_pr", "regularization": "0",
	}.Apply(base)
	require.NoError(t, err)
	assert.Equal(t, 0.01, c.LearningRate)
	assert.Equal(t, []int{16, 8}, c.HiddenLayers)
	assert.Equal(t, "step", c.Schedule.Kind)
	assert.Equal(t, base.Schedule.Gamma, c.Schedule.Gamma, "a sibling not named keeps its value")
	assert.False(t, c.EarlyStop.On())
	assert.True(t, base.EarlyStop.On(), "the base config is left as it was")
	assert.Equal(t, ClassWeights{Mode: "explicit", Weights: map[string]float64{"1": 3, "0": 1}}, c.ClassWeights)
	assert.Equal(t, []string{"auc_pr"}, c.Metrics)
	assert.Zero(t, c.Regularization, "zero is a value")
	assert.Zero(t, c.DropoutRate, "the config file's zero survives")
	assert.Equal(t, 7, c.Epochs, "a field no flag names keeps the file's value")
	assert.Equal(t, map[string]string{"a": "a_sig"}, c.ErrorColumns)
}

func TestFieldValuesApplyRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    FieldValues
		want string
	}{
		{"zero epochs", FieldValues{"epochs": "0"}, "epochs: must be at least 1, got 0"},
		{"not a number", FieldValues{"learning_rate": "fast"}, `learning_rate: "fast" is not a finite number`},
		{"NaN", FieldValues{"dropout_rate": "NaN"}, "dropout_rate"},
		{"bad list", FieldValues{"hidden_layers": "64,x"}, "hidden_layers"},
		{"empty mlp layers", FieldValues{"hidden_layers": ""}, "hidden_layers: an MLP needs at least one hidden layer"},
		{"unknown", FieldValues{"learning_rat": "1"}, "learning_rat: no such field"},
		{"bad bool", FieldValues{"early_stopping.enabled": "maybe"}, "early_stopping.enabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.v.Apply(Defaults())
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrInvalidConfig))
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
