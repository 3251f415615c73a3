package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
)

// TestBadConfigCorpus: TrainingConfig files, search spaces and retraining
// configs a new user gets wrong — the bad-input corpus's CLI-config part.
// Each is refused with a non-zero exit (1 for a file that cannot be read or
// decoded, 2 where a flag's check refuses the value), one line on stderr
// naming the file or the field, and no job, study, model or policy written.
func TestBadConfigCorpus(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	data := sampleCSV(t)
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	train := func(cfg string) []string {
		return []string{"train", "--data", data, "--target", "kind", "--positive", "real", "--config", cfg}
	}
	tests := []struct {
		kind string
		args []string
		code int
		want string
	}{
		{"config file missing", train(filepath.Join(dir, "nope.json")), 1, "nope.json"},
		{"config a directory", train(dir), 1, filepath.Base(dir)},
		{"config not JSON", train(file("yaml.json", "epochs: 3\n")), 1, "yaml.json"},
		{"config a JSON array", train(file("array.json", `[{"epochs": 3}]`)), 1, "array.json"},
		{"config unknown field", train(file("typo.json", `{"epoch": 3}`)), 1, "epoch"},
		{"config epochs 0", train(file("zero.json", `{"epochs": 0}`)), 1, "epochs"},
		{"config epochs a string", train(file("str.json", `{"epochs": "3"}`)), 1, "epochs"},
		{"config NaN learning rate", train(file("nan.json", `{"learning_rate": NaN}`)), 1, "nan.json"},
		{"config unknown optimizer", train(file("opt.json", `{"optimizer": "lbfgs"}`)), 2, "optimizer"},
		{"space file not JSON", []string{"tune", "--data", data, "--target", "kind", "--positive", "real", "--space", file("space.json", "{")}, 1, "space.json"},
		{"space unknown parameter", []string{"tune", "--data", data, "--target", "kind", "--positive", "real", "--space",
			file("space2.json", `{"warp_factor": [1, 9]}`)}, 1, "warp_factor"},
		{"retrain config unknown field", []string{"retrain", "set", "--prefix", "incoming/x/", "--model", "m", "--config",
			file("retrain.json", `{"target_column": "kind", "epoch": 3}`)}, 2, "epoch"},
	}
	refused := 0
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			code, out, errOut := runArgs(t, append(tc.args, "--home", home)...)
			assert.Equal(t, tc.code, code, "stdout %q stderr %q", out, errOut)
			assert.Contains(t, errOut, tc.want)
			assert.Equal(t, 1, strings.Count(strings.TrimRight(errOut, "\n"), "\n")+1, "one line: %q", errOut)
			if !t.Failed() {
				refused++
			}
		})
	}
	if _, err := os.Stat(filepath.Join(home, "orrery.db")); err == nil {
		db, err := sqlitestore.Open(t.Context(), filepath.Join(home, "orrery.db"))
		require.NoError(t, err)
		defer db.Close()
		jobs, err := db.ListJobs(t.Context(), 0)
		require.NoError(t, err)
		assert.Empty(t, jobs, "no job written")
		studies, err := db.ListStudies(t.Context(), 0)
		require.NoError(t, err)
		assert.Empty(t, studies, "no study written")
		models, err := db.ListModels(t.Context())
		require.NoError(t, err)
		assert.Empty(t, models, "no model written")
		policies, err := db.ListRetrainingPolicies(t.Context())
		require.NoError(t, err)
		assert.Empty(t, policies, "no policy written")
	}
	t.Logf("CLI config corpus: %d kinds tried, %d refused clearly", len(tests), refused)
}
