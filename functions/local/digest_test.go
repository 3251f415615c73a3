package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/nn"
)

// TestCommandsRefuseAModelChangedSinceRegistration: a registered model
// whose manifest and SHA256SUMS were both rewritten to agree is refused by
// predict, evaluate, compare and export — exit 1, naming the model and the
// registry's digest — and predict writes no output.
func TestCommandsRefuseAModelChangedSinceRegistration(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	data := sampleCSV(t)
	model := trainTiny(t, home, data)
	var dir string
	require.NoError(t, filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == nn.ManifestFile && filepath.Base(filepath.Dir(p)) == model {
			dir = filepath.Dir(p)
		}
		return err
	}))
	require.NotEmpty(t, dir, "the model directory of %s", model)

	man, err := os.ReadFile(filepath.Join(dir, nn.ManifestFile))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(man, &m))
	m["threshold"] = 0.01
	forged, err := json.Marshal(m)
	require.NoError(t, err)
	sums, err := os.ReadFile(filepath.Join(dir, nn.SumsFile))
	require.NoError(t, err)
	sum := sha256.Sum256(forged)
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		if strings.HasSuffix(line, "  "+nn.ManifestFile) {
			line = fmt.Sprintf("%s  %s", hex.EncodeToString(sum[:]), nn.ManifestFile)
		}
		lines = append(lines, line)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, nn.ManifestFile), forged, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, nn.SumsFile), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	_, err = nn.LoadDir(dir)
	require.NoError(t, err, "the forged directory passes its own checks")

	out := filepath.Join(t.TempDir(), "pred.csv")
	for name, args := range map[string][]string{
		"predict":  {"predict", "--model", model, "--data", data, "--out", out},
		"evaluate": {"evaluate", "--model", model, "--data", data},
		"compare":  {"compare", model, model, "--data", data},
		"export":   {"export", "--model", model, "--format", "onnx", "--out", filepath.Join(t.TempDir(), "m.onnx")},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := runArgs(t, append(args, "--home", home)...)
			assert.Equal(t, 1, code, errOut)
			assert.Contains(t, errOut, "registry recorded", "the error says the registry's digest differs")
			assert.Contains(t, errOut, model)
			assert.Equal(t, 1, strings.Count(strings.TrimSpace(errOut), "\n")+1, "one line: %q", errOut)
		})
	}
	assert.NoFileExists(t, out, "predict wrote nothing")
}
