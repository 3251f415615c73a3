package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/events"
	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/synthetic"
)

// htru2WithSplit writes the first rows of HTRU2 with a published split
// column (by row number i: i%10 below 6 "train", 6 and 7 "val", 8 and 9
// "test") and an object column ((i+shift)/2: pairs of rows, which share
// their split when shift is 0).
func htru2WithSplit(t *testing.T, rows, shift int) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(string(events.SampleData())))
	var b strings.Builder
	sc.Scan()
	b.WriteString(sc.Text() + ",obj,split\n")
	for i := 0; i < rows && sc.Scan(); i++ {
		split := "train"
		switch i % 10 {
		case 6, 7:
			split = "val"
		case 8, 9:
			split = "test"
		}
		fmt.Fprintf(&b, "%s,%d,%s\n", sc.Text(), (i+shift)/2, split)
	}
	p := filepath.Join(t.TempDir(), "htru2-split.csv")
	require.NoError(t, os.WriteFile(p, []byte(b.String()), 0o644))
	return p
}

// TestSplitColumnTestSetIsTheMarkedRows: with split_column the test split
// is exactly the rows the column marks test — the evaluation's test-set
// hash is the hash of those rows, selected by hand — and the manifest
// records the split.
func TestSplitColumnTestSetIsTheMarkedRows(t *testing.T) {
	data := htru2WithSplit(t, 2000, 0)
	cfg := filepath.Join(t.TempDir(), "cfg.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"target_column": "class", "positive_class": "1", "epochs": 3, "hidden_layers": [8],
		"split_column": "split", "split_values": {"validation": "val"}, "group_column": "obj"}`), 0o644))
	home := filepath.Join(t.TempDir(), "home")
	code, out, errOut := runArgs(t, "train", "--data", data, "--config", cfg, "--json", "--home", home)
	require.Equal(t, 0, code, errOut)
	var trained map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &trained), out)
	model := trained["model_id"].(string)

	// The marked rows, selected without the pipeline.
	table, err := dataset.Read(t.Context(), data)
	require.NoError(t, err)
	all, err := table.Select(dataset.SelectOptions{Target: "class", Positive: "1", Exclude: []string{"obj", "split"}})
	require.NoError(t, err)
	var marked []int
	for i := range all.Rows {
		if i%10 >= 8 {
			marked = append(marked, i)
		}
	}
	want := all.Subset(marked)
	require.Equal(t, 400, want.Rows)

	code, out, errOut = runArgs(t, "evaluate", "--model", model, "--data", data, "--target", "class", "--bootstrap", "20", "--json", "--home", home)
	require.Equal(t, 0, code, errOut)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	assert.Equal(t, evaluation.DatasetHash(want), res["test_set_hash"], "the test split is exactly the marked rows")
	assert.Equal(t, float64(want.Rows), res["rows"])
	assert.Contains(t, res["split"], `split_column "split" marks "test"`)

	var man struct {
		Features []string `json:"features"`
		Split    struct {
			Method      string         `json:"method"`
			SplitColumn string         `json:"split_column"`
			GroupColumn string         `json:"group_column"`
			Rows        map[string]int `json:"rows"`
			TestSetHash string         `json:"test_set_hash"`
		} `json:"split"`
	}
	b, err := os.ReadFile(filepath.Join(home, "artifacts", "models", model, "manifest.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &man))
	assert.Equal(t, "split_column", man.Split.Method)
	assert.Equal(t, "split", man.Split.SplitColumn)
	assert.Equal(t, map[string]int{"train": 1200, "validation": 400, "test": 400}, man.Split.Rows)
	assert.Equal(t, evaluation.DatasetHash(want), man.Split.TestSetHash)
	assert.NotContains(t, man.Features, "obj", "a group column is never a feature")
	assert.NotContains(t, man.Features, "split")

	metrics := trained["metrics"].(map[string]any)
	cm := metrics["confusion_matrix"].([]any)
	total := 0.0
	for _, row := range cm {
		for _, v := range row.([]any) {
			total += v.(float64)
		}
	}
	assert.Equal(t, 400.0, total, "training measured the marked test rows")
}

// TestSplitColumnWithoutValidationAndStraddlingGroups: a published split
// with train and test only gets validation held out of its training rows;
// a group that straddles train and test is a leakage error.
func TestSplitColumnWithoutValidationAndStraddlingGroups(t *testing.T) {
	data := htru2WithSplit(t, 2000, 0)
	home := filepath.Join(t.TempDir(), "home")
	cfg := filepath.Join(t.TempDir(), "cfg.json")
	// "val" is no split value here: the rows marked val are refused.
	require.NoError(t, os.WriteFile(cfg, []byte(`{"target_column": "class", "epochs": 2, "hidden_layers": [4], "split_column": "split"}`), 0o644))
	code, _, errOut := runArgs(t, "train", "--data", data, "--config", cfg, "--home", home)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `split column "split" holds "val" in row 7`)

	require.NoError(t, os.WriteFile(cfg, []byte(`{"target_column": "class", "epochs": 2, "hidden_layers": [4], "split_column": "split",
		"split_values": {"train": "train", "test": "test", "validation": "none"}, "group_column": "obj", "leakage": "warning",
		"missing_values": {"obj": [0]}}`), 0o644))
	b, err := os.ReadFile(data)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(data, []byte(strings.ReplaceAll(string(b), ",val\n", ",train\n")), 0o644))
	code, out, errOut := runArgs(t, "train", "--data", data, "--config", cfg, "--json", "--home", home)
	require.Equal(t, 0, code, errOut)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	var report struct {
		Split struct {
			ValidationHeldOut bool           `json:"validation_held_out"`
			Rows              map[string]int `json:"rows"`
		} `json:"split"`
		Findings []struct {
			Check, Severity, Message string
		} `json:"findings"`
	}
	b, err = os.ReadFile(filepath.Join(home, "artifacts", "jobs", res["job_id"].(string), "validation_report.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &report))
	assert.True(t, report.Split.ValidationHeldOut)
	assert.Equal(t, 400, report.Split.Rows["test"])
	assert.Equal(t, 1600, report.Split.Rows["train"]+report.Split.Rows["validation"])
	assert.InDelta(t, 0.15*2000, report.Split.Rows["validation"], 30)
	var straddle string
	for _, f := range report.Findings {
		if f.Check == "group_straddle" {
			straddle = f.Severity + ": " + f.Message
		}
	}
	// Each object's two rows share their split, and validation is held out
	// of the training rows a whole object at a time: nothing straddles.
	assert.Empty(t, straddle)

	// Objects of rows 2k-1 and 2k (0-based): in every ten rows, rows 5 and
	// 6 straddle train and validation, 7 and 8 validation and test, 9 and
	// the next 0 test and train — 3 objects per 10 rows, 599 in 2,000.
	shifted := htru2WithSplit(t, 2000, 1)
	require.NoError(t, os.WriteFile(cfg, []byte(`{"target_column": "class", "epochs": 2, "hidden_layers": [4], "split_column": "split",
		"split_values": {"validation": "val"}, "group_column": "obj"}`), 0o644))
	code, _, errOut = runArgs(t, "train", "--data", shifted, "--config", cfg, "--home", home)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `599 groups of group_column 'obj' straddle the splits (first "3", in train and validation)`)
}

// TestIDAndSentinelsAndGenerate: a generated detection stream trains with
// its identifier, group, split and sentinel conventions; the identifier is
// no feature, the sentinels are missing values in training and in
// prediction.
func TestIDAndSentinelsAndGenerate(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "det.fits")
	code, out, errOut := runArgs(t, "generate", "--out", data, "--rows", "6000", "--seed", "3", "--positive-fraction", "0.3",
		"--missing-rate", "0.1", "--chunk-rows", "1000", "--json")
	require.Equal(t, 0, code, errOut)
	var sum synthetic.Summary
	require.NoError(t, json.Unmarshal([]byte(out), &sum))
	assert.Equal(t, int64(6000), sum.Rows)
	assert.Equal(t, 6, sum.Chunks)

	cfg := filepath.Join(dir, "cfg.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"target_column": "real", "positive_class": "1", "epochs": 3, "hidden_layers": [8],
		"id_column": "detection_id", "group_column": "object_id", "missing_values": [99]}`), 0o644))
	home := filepath.Join(dir, "home")
	code, out, errOut = runArgs(t, "train", "--data", data, "--config", cfg, "--json", "--home", home)
	require.Equal(t, 0, code, errOut)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	assert.Greater(t, res["metrics"].(map[string]any)["auc_roc"].(float64), 0.85, "the classes are learnable")
	var man struct {
		Features      []string          `json:"features"`
		Units         map[string]string `json:"units"`
		Preprocessing struct {
			Missing [][]float64 `json:"missing_values"`
		} `json:"preprocessing"`
		Split struct {
			Method string `json:"method"`
		} `json:"split"`
	}
	b, err := os.ReadFile(filepath.Join(home, "artifacts", "models", res["model_id"].(string), "manifest.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &man))
	assert.NotContains(t, man.Features, "detection_id")
	assert.NotContains(t, man.Features, "object_id")
	assert.Contains(t, man.Features, "mag_ref")
	assert.Equal(t, "stratified_group", man.Split.Method)
	assert.Equal(t, "arcsec", man.Units["fwhm"])
	require.Len(t, man.Preprocessing.Missing, len(man.Features))
	assert.Equal(t, []float64{99}, man.Preprocessing.Missing[0], "prediction treats the sentinel as missing")

	// The same data with detection_id as a feature: an identifier-like
	// column is reported as a leakage risk.
	require.NoError(t, os.WriteFile(cfg, []byte(`{"target_column": "real", "epochs": 1, "hidden_layers": [4]}`), 0o644))
	code, out, errOut = runArgs(t, "train", "--data", data, "--config", cfg, "--json", "--home", home)
	require.Equal(t, 0, code, errOut)
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	var msgs []string
	for _, w := range res["warnings"].([]any) {
		msgs = append(msgs, w.(map[string]any)["message"].(string))
	}
	assert.Contains(t, strings.Join(msgs, "\n"), "column 'detection_id' looks like an identifier (a distinct integer in each of its 6000 rows)")
}

// TestGenerateIsDeterministicAcrossFormatsAndChunks: the same seed gives
// the same table in CSV, Parquet and FITS and for any chunk size.
func TestGenerateIsDeterministicAcrossFormatsAndChunks(t *testing.T) {
	dir := t.TempDir()
	var tables []*dataset.Table
	for i, name := range []string{"a.csv", "b.parquet", "c.fits", "d.csv"} {
		chunk := "700"
		if i == 3 {
			chunk = "4096"
		}
		path := filepath.Join(dir, name)
		code, _, errOut := runArgs(t, "generate", "--out", path, "--rows", "3000", "--seed", "9", "--label-noise", "0.1", "--chunk-rows", chunk)
		require.Equal(t, 0, code, errOut)
		tab, err := dataset.Read(t.Context(), path)
		require.NoError(t, err)
		tables = append(tables, tab)
	}
	for _, tab := range tables[1:] {
		require.Equal(t, tables[0].Names(), tab.Names(), tab.Source)
		for j, c := range tables[0].Columns {
			assert.Equal(t, fmt.Sprint(c.Num), fmt.Sprint(tab.Columns[j].Num), "%s %s", tab.Source, c.Name)
			assert.Equal(t, c.Str, tab.Columns[j].Str, "%s %s", tab.Source, c.Name)
		}
	}
	code, _, errOut := runArgs(t, "generate", "--out", filepath.Join(dir, "x.csv"), "--positive-fraction", "0")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "positive_fraction")
	code, _, errOut = runArgs(t, "generate", "--out", filepath.Join(dir, "x.csv"), "--format", "fits")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "does not end in the extension")
}
