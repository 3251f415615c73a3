package nn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var htruFeatures = []string{"meanprof", "sd-prof", "exk-prof", "skewness-prof", "meandmsnr", "sd-dmsnr", "exk-dmsnr", "skewness-dmsnr"}

// testModel returns a binary HTRU2-shaped model with a standardising
// preprocessing.
func testModel(t testing.TB) *Model {
	t.Helper()
	net, err := New(mlpSpec, 11)
	require.NoError(t, err)
	return &Model{Net: net, Manifest: Manifest{
		ModelID: "m-123", Name: "pulsars", Features: htruFeatures, Target: "class",
		Classes: []string{"0", "1"}, PositiveClass: "1", Threshold: 0.4,
		Preprocessing: Preprocessing{
			Impute: []float64{111, 46, 0.48, 1.8, 12.6, 26.3, 8.3, 104.9},
			Mean:   []float64{111.1, 46.5, 0.48, 1.77, 12.6, 26.3, 8.3, 104.9},
			Scale:  []float64{25.7, 6.8, 1.06, 6.17, 29.5, 19.5, 4.5, 106.5},
		},
		DataHash:       "sha256:abc",
		TrainingConfig: json.RawMessage(`{"epochs":60}`),
		Metrics:        json.RawMessage(`{"auc_roc":0.97}`),
		CodeVersion:    Version(),
		CreatedAt:      time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC),
	}}
}

func rawRows(rows int) []float64 {
	x, _ := synthetic(rows, 8, 21)
	for i := range x {
		x[i] = 100 + 30*x[i]
	}
	return x
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "models", "m-123")
	m := testModel(t)
	require.NoError(t, SaveDir(dir, m))

	entries, err := os.ReadDir(filepath.Dir(dir))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary directory left behind")

	sums, err := os.ReadFile(filepath.Join(dir, SumsFile))
	require.NoError(t, err)
	for _, name := range []string{ManifestFile, WeightsFile} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		sum := sha256.Sum256(data)
		assert.Contains(t, string(sums), hex.EncodeToString(sum[:])+"  "+name+"\n")
		if name == WeightsFile {
			assert.Equal(t, hex.EncodeToString(sum[:]), m.Manifest.Files[WeightsFile])
		}
	}

	got, err := LoadDir(dir)
	require.NoError(t, err)
	assert.Equal(t, m.Net.Params(), got.Net.Params())
	assert.Equal(t, FormatVersion, got.Manifest.FormatVersion)
	assert.Equal(t, BackendGonum, got.Manifest.Backend)
	assert.Equal(t, ModelMLP, got.Manifest.ModelType)
	assert.Equal(t, mlpSpec, got.Manifest.Architecture)
	assert.True(t, m.Manifest.CreatedAt.Equal(got.Manifest.CreatedAt))
	got.Manifest.CreatedAt = m.Manifest.CreatedAt
	assert.JSONEq(t, string(m.Manifest.TrainingConfig), string(got.Manifest.TrainingConfig))
	assert.JSONEq(t, string(m.Manifest.Metrics), string(got.Manifest.Metrics))
	got.Manifest.TrainingConfig, got.Manifest.Metrics = m.Manifest.TrainingConfig, m.Manifest.Metrics
	assert.Equal(t, m.Manifest, got.Manifest)

	x := rawRows(50)
	want, err := m.PredictProba(context.Background(), x, 50)
	require.NoError(t, err)
	have, err := got.PredictProba(context.Background(), x, 50)
	require.NoError(t, err)
	require.Equal(t, want, have)

	tensors, meta, err := ReadSafetensors(mustOpen(t, filepath.Join(dir, WeightsFile)))
	require.NoError(t, err)
	assert.Equal(t, "pt", meta["format"])
	assert.Equal(t, "layers.0.weight", tensors[0].Name)
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

// TestLoadDirDetectsTampering changes one byte of each file and expects an
// error naming the file.
func TestLoadDirDetectsTampering(t *testing.T) {
	cases := []struct {
		file string
		at   func(size int) int
		want string
	}{
		{WeightsFile, func(size int) int { return size - 3 }, WeightsFile},
		{WeightsFile, func(int) int { return 20 }, WeightsFile},
		{ManifestFile, func(size int) int { return size / 2 }, ManifestFile},
		{SumsFile, func(int) int { return 5 }, SumsFile},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s@%d", c.file, c.at(1000)), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "m")
			require.NoError(t, SaveDir(dir, testModel(t)))
			path := filepath.Join(dir, c.file)
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			i := c.at(len(data))
			if c.file == SumsFile { // keep the line well-formed: another hex digit
				data[i] = map[bool]byte{true: '1', false: '0'}[data[i] == '0']
			} else {
				data[i] ^= 0x01
			}
			require.NoError(t, os.WriteFile(path, data, 0o644))
			_, err = LoadDir(dir)
			require.ErrorIs(t, err, ErrChecksum)
			require.ErrorContains(t, err, c.want)
		})
	}
	t.Run("missing weights", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "m")
		require.NoError(t, SaveDir(dir, testModel(t)))
		require.NoError(t, os.Remove(filepath.Join(dir, WeightsFile)))
		_, err := LoadDir(dir)
		require.ErrorContains(t, err, WeightsFile)
	})
}

// rewriteManifest edits a saved manifest and re-signs it, to reach the
// checks behind the checksums.
func rewriteManifest(t *testing.T, dir string, edit func(map[string]any)) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	edit(m)
	data, err = json.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, ManifestFile), data, 0o644))
	weights, err := os.ReadFile(filepath.Join(dir, WeightsFile))
	require.NoError(t, err)
	ms, ws := sha256.Sum256(data), sha256.Sum256(weights)
	sums := fmt.Sprintf("%x  %s\n%x  %s\n", ms, ManifestFile, ws, WeightsFile)
	require.NoError(t, os.WriteFile(filepath.Join(dir, SumsFile), []byte(sums), 0o644))
}

func TestLoadDirChecksConsistency(t *testing.T) {
	cases := []struct {
		name string
		edit func(map[string]any)
		want string
	}{
		{"format version", func(m map[string]any) { m["format_version"] = 2 }, "format_version 2"},
		{"architecture vs weights", func(m map[string]any) {
			m["architecture"].(map[string]any)["hidden"] = []int{64, 16}
		}, "layers.1.weight has shape [32 64]"},
		{"features vs inputs", func(m map[string]any) { m["features"] = []string{"a", "b"} }, "2 features for a network of 8 inputs"},
		{"preprocessing vs features", func(m map[string]any) {
			m["preprocessing"] = map[string]any{"impute": []float64{0}, "mean": []float64{0}, "scale": []float64{1}}
		}, "preprocessing for 1 features"},
		{"classes", func(m map[string]any) { m["classes"] = []string{"0", "1", "2"} }, "3 class labels"},
		{"files lists weights", func(m map[string]any) { m["files"] = map[string]string{} }, "do not list weights.safetensors"},
		{"files escape the directory", func(m map[string]any) {
			m["files"].(map[string]any)["../x"] = "00"
		}, `"../x"`},
		{"threshold", func(m map[string]any) { m["decision_threshold"] = 1.5 }, "decision_threshold 1.5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "m")
			require.NoError(t, SaveDir(dir, testModel(t)))
			rewriteManifest(t, dir, c.edit)
			_, err := LoadDir(dir)
			require.ErrorContains(t, err, c.want)
		})
	}
}

func TestSaveDirRefusesToOverwrite(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "m")
	require.NoError(t, SaveDir(dir, testModel(t)))
	err := SaveDir(dir, testModel(t))
	require.ErrorIs(t, err, ErrModelExists)

	empty := filepath.Join(root, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	require.NoError(t, SaveDir(empty, testModel(t)), "an empty directory is replaced")

	file := filepath.Join(root, "file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	require.ErrorIs(t, SaveDir(file, testModel(t)), ErrModelExists)

	bad := testModel(t)
	bad.Manifest.Classes = []string{"only"}
	require.ErrorIs(t, SaveDir(filepath.Join(root, "bad"), bad), ErrInvalidModel)
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.ElementsMatch(t, []string{"m", "empty", "file"}, names, "failed saves leave nothing behind")
}

// TestModelPredict checks that PredictProba standardises and imputes the raw
// features before the network, and Predict's threshold and argmax.
func TestModelPredict(t *testing.T) {
	ctx := context.Background()
	m := testModel(t)
	x := rawRows(3)
	x[1*8+2] = math.NaN()

	manual := append([]float64(nil), x...)
	p := m.Manifest.Preprocessing
	for i := range manual {
		j := i % 8
		v := manual[i]
		if math.IsNaN(v) {
			v = p.Impute[j]
		}
		manual[i] = (v - p.Mean[j]) / p.Scale[j]
	}
	want := m.Net.PredictProba(manual, 3, nil)
	got, err := m.PredictProba(ctx, x, 3)
	require.NoError(t, err)
	require.InDeltaSlice(t, want, got, 1e-15)
	assert.True(t, math.IsNaN(x[1*8+2]), "the caller's rows are not modified")

	m.Manifest.Threshold = got[3] // row 1's p exactly: predicts 1 at equality
	pred, err := m.Predict(ctx, x, 3)
	require.NoError(t, err)
	for i, c := range pred {
		assert.Equal(t, got[2*i+1] >= m.Manifest.Threshold, c == 1, "row %d", i)
	}
	assert.Equal(t, 1, pred[1])

	_, err = m.PredictProba(ctx, x[:5], 1)
	require.ErrorContains(t, err, "5 values for 1 rows of 8 features")
	inf := append([]float64(nil), x...)
	inf[3] = math.Inf(1)
	_, err = m.PredictProba(ctx, inf, 3)
	require.ErrorContains(t, err, "row 0 feature skewness-prof")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = m.PredictProba(cancelled, x, 3)
	require.ErrorIs(t, err, context.Canceled)

	net, err := New(Spec{ModelType: ModelLogisticRegression, Inputs: 1, Outputs: 3}, 1)
	require.NoError(t, err)
	require.True(t, net.SetParams([]float64{1, 0, -1, 0, 0, 0}))
	multi := &Model{Net: net, Manifest: Manifest{Features: []string{"f"}, Classes: []string{"a", "b", "c"}}}
	pred, err = multi.Predict(ctx, []float64{2, -2, 0}, 3)
	require.NoError(t, err)
	require.Equal(t, []int{0, 2, 0}, pred, "argmax, first class on ties")
}

func TestVersion(t *testing.T) {
	require.NotEmpty(t, Version())
}

// TestModelPredictAcrossBlocks: rows are transformed a block at a time;
// the probabilities of a multi-block input are those of the whole input
// transformed at once, bit for bit, the caller's rows are untouched, and
// a non-finite value in a later block is reported with its own row.
func TestModelPredictAcrossBlocks(t *testing.T) {
	ctx := context.Background()
	m := testModel(t)
	rows := 2*predictBlock + 77
	x := rawRows(rows)
	x[(predictBlock+3)*8+1] = math.NaN()
	before := append([]float64(nil), x...)
	whole := append([]float64(nil), x...)
	m.Manifest.Preprocessing.Apply(whole)
	want := m.Net.PredictProba(whole, rows, nil)
	got, err := m.PredictProba(ctx, x, rows)
	require.NoError(t, err)
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, math.Float64bits(want[i]), math.Float64bits(got[i]), "probability %d", i)
	}
	for i := range x {
		require.Equal(t, math.Float64bits(before[i]), math.Float64bits(x[i]), "input %d", i)
	}
	x[(2*predictBlock+5)*8+4] = math.Inf(1)
	_, err = m.PredictProba(ctx, x, rows)
	require.ErrorContains(t, err, fmt.Sprintf("row %d feature %s is +Inf after preprocessing", 2*predictBlock+5, htruFeatures[4]))
	x[5*8+6] = math.Inf(-1) // an earlier row, in another block: it is the one reported
	_, err = m.PredictProba(ctx, x, rows)
	require.ErrorContains(t, err, fmt.Sprintf("row 5 feature %s is -Inf after preprocessing", htruFeatures[6]))
}
