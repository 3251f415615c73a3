package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTrainTreesThenPredict: `orrery train --model gradient_boosting` and
// `--model random_forest` register tree models that `orrery predict` loads
// and applies, and predictions through a deployed endpoint are the same.
func TestTrainTreesThenPredict(t *testing.T) {
	for _, tc := range []struct{ model, config string }{
		{"gradient_boosting", `{"max_iter": 20, "min_samples_leaf": 5}`},
		{"random_forest", `{"n_estimators": 15}`},
	} {
		t.Run(tc.model, func(t *testing.T) {
			home := filepath.Join(t.TempDir(), "home")
			data := sampleCSV(t)
			cfg := filepath.Join(t.TempDir(), "cfg.json")
			require.NoError(t, os.WriteFile(cfg, []byte(tc.config), 0o644))
			code, out, errOut := runArgs(t, "train", "--model", tc.model, "--data", data, "--target", "kind", "--positive", "real",
				"--config", cfg, "--json", "--home", home)
			require.Equal(t, 0, code, errOut)
			var res struct {
				ModelID  string `json:"model_id"`
				Training struct {
					ModelType         string             `json:"model_type"`
					FeatureImportance map[string]float64 `json:"feature_importance"`
				} `json:"training"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &res), out)
			assert.Equal(t, tc.model, res.Training.ModelType)
			require.Len(t, res.Training.FeatureImportance, 2)
			assert.InDelta(t, 1, res.Training.FeatureImportance["width"]+res.Training.FeatureImportance["flux"], 1e-9)

			pred := filepath.Join(t.TempDir(), "pred.csv")
			code, _, errOut = runArgs(t, "predict", "--model", res.ModelID, "--data", data, "--out", pred, "--home", home)
			require.Equal(t, 0, code, errOut)
			f, err := os.Open(pred)
			require.NoError(t, err)
			defer f.Close()
			rows, err := csv.NewReader(f).ReadAll()
			require.NoError(t, err)
			require.Len(t, rows, 301)
			assert.Equal(t, []string{"row", "predicted", "p_bogus", "p_real"}, rows[0])
			for _, r := range rows[1:] {
				p0, err0 := strconv.ParseFloat(r[2], 64)
				p1, err1 := strconv.ParseFloat(r[3], 64)
				require.NoError(t, err0)
				require.NoError(t, err1)
				assert.InDelta(t, 1, p0+p1, 1e-9)
			}

			// Evaluation: the permutation and gain importance of both features.
			code, out, errOut = runArgs(t, "evaluate", "--model", res.ModelID, "--data", data, "--target", "kind", "--bootstrap", "50", "--json", "--home", home)
			require.Equal(t, 0, code, errOut)
			var ev struct {
				FeatureImportance struct {
					Metric   string `json:"metric"`
					Features []struct {
						Feature string   `json:"feature"`
						Gain    *float64 `json:"gain"`
					} `json:"features"`
				} `json:"feature_importance"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &ev), out)
			assert.Equal(t, "auc_roc", ev.FeatureImportance.Metric)
			require.Len(t, ev.FeatureImportance.Features, 2)
			for _, f := range ev.FeatureImportance.Features {
				require.NotNil(t, f.Gain, f.Feature)
				assert.InDelta(t, res.Training.FeatureImportance[f.Feature], *f.Gain, 1e-12)
			}

			code, out, errOut = runArgs(t, "deploy", "--model", res.ModelID, "--endpoint", "trees-ep", "--bake-seconds", "0", "--json", "--home", home)
			require.Equal(t, 0, code, "%s\n%s", out, errOut)
			viaEndpoint := filepath.Join(t.TempDir(), "pred-endpoint.csv")
			code, _, errOut = runArgs(t, "predict", "--endpoint", "trees-ep", "--data", data, "--out", viaEndpoint, "--home", home)
			require.Equal(t, 0, code, errOut)
			direct, err := os.ReadFile(pred)
			require.NoError(t, err)
			routed, err := os.ReadFile(viaEndpoint)
			require.NoError(t, err)
			assert.Equal(t, string(direct), string(routed))
		})
	}
	code, _, errOut := runArgs(t, "train", "--model", "xgboost", "--data", sampleCSV(t), "--target", "kind")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "xgboost")
}
