package api

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExplicitZerosAreRefused: zero is a value, not "absent" — a body that
// says epochs 0 (or batch_size 0, learning_rate 0, hidden_layers [] for an
// mlp) is refused naming the field, in a training request and in a study's
// base_config, instead of being trained with the default.
func TestExplicitZerosAreRefused(t *testing.T) {
	const base = `"dataset_path": "htru2.csv", "target_column": "class"`
	cases := []struct{ body, field string }{
		{`{` + base + `, "epochs": 0}`, "epochs"},
		{`{` + base + `, "batch_size": 0}`, "batch_size"},
		{`{` + base + `, "learning_rate": 0}`, "learning_rate"},
		{`{` + base + `, "hidden_layers": []}`, "hidden_layers"},
	}
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			_, err := DecodeTrainingRequest([]byte(tc.body))
			var re *RequestError
			require.True(t, errors.As(err, &re), "%v", err)
			require.Len(t, re.Fields, 1)
			assert.Equal(t, tc.field, re.Fields[0].Field)
		})
	}
	_, err := DecodeOptimizationRequest([]byte(`{"base_config": {` + base + `, "epochs": 0}}`))
	var re *RequestError
	require.True(t, errors.As(err, &re), "%v", err)
	assert.Equal(t, "base_config.epochs", re.Fields[0].Field)

	// Absent fields still get their defaults; logistic regression takes [].
	cfg, err := DecodeTrainingRequest([]byte(`{` + base + `, "model_type": "logistic_regression", "hidden_layers": []}`))
	require.NoError(t, err)
	assert.Positive(t, cfg.Epochs)
}
