package main

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/dataset"
)

// astroFixturesEnv names the directory of FITS and VOTable files written by
// astropy (scripts/gen_astro_fixtures.py, run by scripts/test.d/25-astro.sh).
const astroFixturesEnv = "ORRERY_TEST_ASTRO_FIXTURES"

// trainEvaluatePredict trains on data, evaluates the model on the same
// file and predicts it, returning the training result, the evaluation and
// the prediction rows.
func trainEvaluatePredict(t *testing.T, home, data, cfg string) (trained, evaluated map[string]any, predicted [][]string) {
	t.Helper()
	code, out, errOut := runArgs(t, "train", "--data", data, "--config", cfg, "--json", "--home", home)
	require.Equal(t, 0, code, errOut)
	require.NoError(t, json.Unmarshal([]byte(out), &trained), out)
	model := trained["model_id"].(string)
	code, out, errOut = runArgs(t, "evaluate", "--model", model, "--data", data, "--target", "class", "--bootstrap", "50", "--json", "--home", home)
	require.Equal(t, 0, code, errOut)
	require.NoError(t, json.Unmarshal([]byte(out), &evaluated), out)
	pred := filepath.Join(t.TempDir(), "pred.csv")
	code, _, errOut = runArgs(t, "predict", "--model", model, "--data", data, "--out", pred, "--home", home)
	require.Equal(t, 0, code, errOut)
	f, err := os.Open(pred)
	require.NoError(t, err)
	defer f.Close()
	predicted, err = csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	return trained, evaluated, predicted
}

// assertClose compares decoded JSON values, numbers to within tol.
func assertClose(t *testing.T, want, got any, tol float64, path string) {
	t.Helper()
	switch w := want.(type) {
	case float64:
		g, ok := got.(float64)
		require.True(t, ok, "%s: want a number, got %v", path, got)
		if math.Abs(w-g) > tol {
			t.Errorf("%s: want %v, got %v", path, w, g)
		}
	case map[string]any:
		g, ok := got.(map[string]any)
		require.True(t, ok, "%s: want an object, got %v", path, got)
		require.Len(t, g, len(w), path)
		for k, v := range w {
			assertClose(t, v, g[k], tol, path+"."+k)
		}
	case []any:
		g, ok := got.([]any)
		require.True(t, ok, "%s: want an array, got %v", path, got)
		require.Len(t, g, len(w), path)
		for i := range w {
			assertClose(t, w[i], g[i], tol, path)
		}
	default:
		assert.Equal(t, want, got, path)
	}
}

// TestAstropyFilesTrainLikeTheirCSV is the acceptance test of the FITS and
// VOTable readers: HTRU2 rows written by astropy — a FITS table with a
// TNULL column, a scaled column and a vector column, its gzip-compressed
// copy, and VOTables in TABLEDATA and BINARY2 — train, evaluate and
// predict with the same metrics as the CSV of the same values (to 1e-9),
// on the same rows and the same split.
func TestAstropyFilesTrainLikeTheirCSV(t *testing.T) {
	dir := os.Getenv(astroFixturesEnv)
	if dir == "" {
		t.Skipf("%s is unset: scripts/test.d/25-astro.sh writes the astropy fixtures and sets it", astroFixturesEnv)
	}
	cfg := filepath.Join(t.TempDir(), "cfg.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"target_column": "class", "positive_class": "1",
		"id_column": "source_id", "epochs": 5, "hidden_layers": [16]}`), 0o644))
	home := filepath.Join(t.TempDir(), "home")
	wantTrained, wantEval, wantPred := trainEvaluatePredict(t, home, filepath.Join(dir, "htru2.csv"), cfg)
	csvMetrics := wantTrained["metrics"].(map[string]any)
	require.Greater(t, csvMetrics["auc_roc"].(float64), 0.9, "the CSV model learned something")

	for _, name := range []string{"htru2.fits", "htru2.fits.gz", "htru2-td.vot", "htru2-b2.vot"} {
		t.Run(name, func(t *testing.T) {
			trained, evaluated, pred := trainEvaluatePredict(t, home, filepath.Join(dir, name), cfg)
			assertClose(t, csvMetrics, trained["metrics"], 1e-9, "metrics")
			assertClose(t, wantTrained["decision_threshold"], trained["decision_threshold"], 1e-9, "decision_threshold")
			assert.Equal(t, wantEval["test_set_hash"], evaluated["test_set_hash"], "the same rows and split")
			assert.Equal(t, wantEval["rows"], evaluated["rows"])
			assertClose(t, wantEval["metrics"], evaluated["metrics"], 1e-9, "evaluation metrics")
			assert.Equal(t, wantPred, pred, "the same predictions")
		})
	}

	t.Run("units reach the schema and the manifest", func(t *testing.T) {
		code, out, errOut := runArgs(t, "train", "--data", filepath.Join(dir, "htru2.fits"), "--hdu", "CANDIDATES", "--config", cfg, "--json", "--home", home)
		require.Equal(t, 0, code, errOut)
		var res map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &res))
		var man struct {
			Units   map[string]string `json:"units"`
			DataHDU string            `json:"data_hdu"`
			Split   struct {
				Method string `json:"method"`
			} `json:"split"`
		}
		b, err := os.ReadFile(filepath.Join(home, "artifacts", "models", res["model_id"].(string), "manifest.json"))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &man))
		assert.Equal(t, map[string]string{"mean_ip": "mJy", "sd_ip": "mJy"}, man.Units)
		assert.Equal(t, "1 CANDIDATES", man.DataHDU)
		assert.Equal(t, "stratified", man.Split.Method)
		var report struct {
			Schema dataset.Schema `json:"schema"`
		}
		b, err = os.ReadFile(filepath.Join(home, "artifacts", "jobs", res["job_id"].(string), "validation_report.json"))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &report))
		assert.Equal(t, "1 CANDIDATES", report.Schema.HDU)
		assert.Equal(t, "mJy", report.Schema.Columns[1].Unit)
	})

	t.Run("predictions as FITS", func(t *testing.T) {
		code, out, errOut := runArgs(t, "models", "--json", "--home", home)
		require.Equal(t, 0, code, errOut)
		var models []map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &models))
		out2 := filepath.Join(t.TempDir(), "pred.fits")
		code, _, errOut = runArgs(t, "predict", "--model", models[0]["model_id"].(string), "--data", filepath.Join(dir, "htru2-b2.vot"), "--out", out2, "--home", home)
		require.Equal(t, 0, code, errOut)
		tab, err := dataset.Read(t.Context(), out2)
		require.NoError(t, err)
		assert.Equal(t, []string{"row", "predicted", "p_0", "p_1"}, tab.Names())
		assert.Equal(t, len(wantPred)-1, tab.Rows)
	})

	t.Run("the HDU without the target", func(t *testing.T) {
		code, _, errOut := runArgs(t, "train", "--data", filepath.Join(dir, "htru2.fits"), "--hdu", "SUMMARY", "--config", cfg, "--home", home)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "source_id")
	})
}
