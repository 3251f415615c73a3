package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEvaluateAtAThreshold: `orrery evaluate --threshold X` computes the
// metrics at X, says so in the JSON and in the text, and refuses a
// threshold outside (0, 1) as a usage error.
func TestEvaluateAtAThreshold(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	data := sampleCSV(t)
	code, out, errOut := runArgs(t, "train", "--data", data, "--target", "kind", "--positive", "real", "--json", "--home", home)
	require.Equal(t, 0, code, errOut)
	var trained map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &trained), out)
	modelID := trained["model_id"].(string)
	base := []string{"evaluate", "--model", modelID, "--data", data, "--target", "kind", "--bootstrap", "100", "--home", home}

	code, out, errOut = runArgs(t, append(base, "--threshold", "0.3", "--json")...)
	require.Equal(t, 0, code, errOut)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	assert.Equal(t, 0.3, res["decision_threshold"])
	assert.Equal(t, "request", res["threshold_source"])
	assert.Equal(t, 0.3, res["metrics"].(map[string]any)["decision_threshold"])
	assert.Equal(t, trained["decision_threshold"], res["model_threshold"])

	code, out, errOut = runArgs(t, append(base, "--threshold", "0.3")...)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, fmt.Sprintf("decision threshold 0.3000 (requested; the model's own is %.4f)", trained["decision_threshold"]))
	code, out, errOut = runArgs(t, base...)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, fmt.Sprintf("decision threshold %.4f (the model's own)", trained["decision_threshold"]))

	for _, bad := range []string{"0", "1", "1.5", "NaN", "-0.2", "x"} {
		code, _, errOut = runArgs(t, append(base, "--threshold", bad)...)
		assert.Equal(t, 2, code, "--threshold %s", bad)
		assert.Contains(t, errOut, "threshold", "--threshold %s", bad)
	}
}
