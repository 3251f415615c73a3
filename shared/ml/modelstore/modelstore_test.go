package modelstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/modelstore"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/filestore"
)

// artifactStores are the stores every test runs against: the in-memory fake
// and the embedded runtime's directory.
var artifactStores = []struct {
	name string
	open func(t *testing.T) store.ArtifactStore
}{
	{"memory", func(*testing.T) store.ArtifactStore { return newMemArtifacts() }},
	{"filestore", func(t *testing.T) store.ArtifactStore {
		s, err := filestore.New(t.TempDir())
		require.NoError(t, err)
		return s
	}},
}

const prefix = "models/mdl-1"

var features = []string{"a", "b", "c"}

func testModel(t *testing.T) *nn.Model {
	t.Helper()
	net, err := nn.New(nn.Spec{ModelType: nn.ModelMLP, Inputs: 3, Hidden: []int{5}, Outputs: 1, Activation: nn.ActivationReLU}, 3)
	require.NoError(t, err)
	return &nn.Model{Net: net, Manifest: nn.Manifest{ModelID: "mdl-1", Name: "tiny", Features: features, Target: "y",
		Classes: []string{"no", "yes"}, PositiveClass: "yes", Threshold: 0.4, DataHash: "sha256:abc",
		CodeVersion: nn.Version(), CreatedAt: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC),
		Preprocessing: nn.Preprocessing{Impute: []float64{0, 1, 2}, Mean: []float64{0, 1, 2}, Scale: []float64{1, 2, 3}}}}
}

func rows(n int) []float64 {
	rng := rand.New(rand.NewPCG(5, 8))
	x := make([]float64, n*len(features))
	for i := range x {
		x[i] = rng.NormFloat64() * 3
	}
	return x
}

func read(t *testing.T, s store.ArtifactStore, key string) []byte {
	t.Helper()
	rc, err := s.Get(t.Context(), key)
	require.NoError(t, err)
	defer rc.Close()
	data, err := io.ReadAll(rc)
	require.NoError(t, err)
	return data
}

// TestPutGetRoundTrip: a model put into the store comes back predicting
// exactly what it predicted, with the same manifest, as the three files of
// the model directory format.
func TestPutGetRoundTrip(t *testing.T) {
	for _, as := range artifactStores {
		t.Run(as.name, func(t *testing.T) {
			artifacts := as.open(t)
			models := modelstore.Store{Artifacts: artifacts}
			m := testModel(t)
			require.NoError(t, models.Put(t.Context(), prefix, m))
			assert.Len(t, m.Manifest.Files, 1, "Put fills in the manifest's file hashes")

			keys, err := artifacts.List(t.Context(), prefix+"/")
			require.NoError(t, err)
			assert.Equal(t, []string{prefix + "/" + nn.SumsFile, prefix + "/" + nn.ManifestFile, prefix + "/" + nn.WeightsFile}, keys)
			var size int64
			for _, k := range keys {
				size += int64(len(read(t, artifacts, k)))
			}

			got, n, err := models.Get(t.Context(), prefix)
			require.NoError(t, err)
			assert.Equal(t, size, n, "Get reports the bytes of the model's files")
			assert.Equal(t, m.Manifest.ModelID, got.Manifest.ModelID)
			assert.Equal(t, m.Manifest.Files, got.Manifest.Files)
			assert.Equal(t, m.Manifest.Preprocessing, got.Manifest.Preprocessing)
			x := rows(64)
			want, err := m.PredictProba(t.Context(), x, 64)
			require.NoError(t, err)
			have, err := got.PredictProba(t.Context(), x, 64)
			require.NoError(t, err)
			require.Equal(t, want, have, "the stored model predicts exactly what the put one did")
		})
	}
}

// TestGetRefusesACorruptedFile changes one byte of each file in the store
// (through the port, as a broken upload or a tampered object would) and
// expects Get to refuse the model, naming the file.
func TestGetRefusesACorruptedFile(t *testing.T) {
	for _, as := range artifactStores {
		for _, file := range []string{nn.WeightsFile, nn.ManifestFile, nn.SumsFile} {
			t.Run(as.name+"/"+file, func(t *testing.T) {
				artifacts := as.open(t)
				models := modelstore.Store{Artifacts: artifacts}
				require.NoError(t, models.Put(t.Context(), prefix, testModel(t)))
				key := prefix + "/" + file
				data := read(t, artifacts, key)
				i := len(data) / 2
				if file == nn.SumsFile { // another hex digit keeps the line well-formed
					i = 5
					data[i] = map[bool]byte{true: '1', false: '0'}[data[i] == '0']
				} else {
					data[i] ^= 0x01
				}
				require.NoError(t, artifacts.Put(t.Context(), key, bytes.NewReader(data)))

				m, _, err := models.Get(t.Context(), prefix)
				require.ErrorIs(t, err, nn.ErrChecksum)
				assert.ErrorContains(t, err, file)
				assert.ErrorContains(t, err, artifacts.URI(prefix), "the error says which model")
				assert.Nil(t, m)
			})
		}
	}
}

func TestGetMissingFiles(t *testing.T) {
	for _, as := range artifactStores {
		for _, file := range []string{nn.WeightsFile, nn.ManifestFile, nn.SumsFile} {
			t.Run(as.name+"/"+file, func(t *testing.T) {
				artifacts := as.open(t)
				models := modelstore.Store{Artifacts: artifacts}
				require.NoError(t, models.Put(t.Context(), prefix, testModel(t)))
				require.NoError(t, artifacts.DeletePrefix(t.Context(), prefix+"/"+file))
				_, _, err := models.Get(t.Context(), prefix)
				require.ErrorIs(t, err, store.ErrNotFound)
				require.ErrorIs(t, err, fs.ErrNotExist)
				assert.ErrorContains(t, err, file)
			})
		}
		t.Run(as.name+"/no model", func(t *testing.T) {
			_, _, err := modelstore.Store{Artifacts: as.open(t)}.Get(t.Context(), "models/absent")
			require.ErrorIs(t, err, store.ErrNotFound)
		})
	}
}

func TestPutRefusesAnInvalidModel(t *testing.T) {
	for _, as := range artifactStores {
		t.Run(as.name, func(t *testing.T) {
			artifacts := as.open(t)
			m := testModel(t)
			m.Manifest.Features = []string{"a"}
			err := modelstore.Store{Artifacts: artifacts}.Put(t.Context(), prefix, m)
			require.ErrorIs(t, err, nn.ErrInvalidModel)
			keys, err := artifacts.List(t.Context(), "")
			require.NoError(t, err)
			assert.Empty(t, keys, "nothing is written for a model that cannot be encoded")
		})
	}
}

func TestCancelled(t *testing.T) {
	for _, as := range artifactStores {
		t.Run(as.name, func(t *testing.T) {
			artifacts := as.open(t)
			models := modelstore.Store{Artifacts: artifacts}
			cancelled, cancel := context.WithCancel(t.Context())
			cancel()
			require.ErrorIs(t, models.Put(cancelled, prefix, testModel(t)), context.Canceled)
			require.NoError(t, models.Put(t.Context(), prefix, testModel(t)))
			_, _, err := models.Get(cancelled, prefix)
			require.ErrorIs(t, err, context.Canceled)
		})
	}
}

// flaky fails the first call of each Put and Get, as a dropped connection
// would.
type flaky struct {
	store.ArtifactStore
	failed map[string]bool
}

var errDropped = errors.New("connection reset")

func (f *flaky) Put(ctx context.Context, key string, r io.Reader) error {
	if !f.failed["put "+key] {
		f.failed["put "+key] = true
		return errDropped
	}
	return f.ArtifactStore.Put(ctx, key, r)
}

func (f *flaky) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if !f.failed["get "+key] {
		f.failed["get "+key] = true
		return nil, errDropped
	}
	return f.ArtifactStore.Get(ctx, key)
}

// TestRetry: every store call goes through Retry, named by its operation;
// without Retry the first failure is returned.
func TestRetry(t *testing.T) {
	artifacts := &flaky{ArtifactStore: newMemArtifacts(), failed: map[string]bool{}}
	require.ErrorIs(t, modelstore.Store{Artifacts: artifacts}.Put(t.Context(), prefix, testModel(t)), errDropped)

	var ops []string
	again := func(_ context.Context, op string, fn func() error) error {
		ops = append(ops, op)
		if err := fn(); !errors.Is(err, errDropped) {
			return err
		}
		return fn()
	}
	models := modelstore.Store{Artifacts: artifacts, Retry: again}
	require.NoError(t, models.Put(t.Context(), prefix, testModel(t)))
	_, _, err := models.Get(t.Context(), prefix)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"put " + prefix + "/" + nn.WeightsFile, "put " + prefix + "/" + nn.ManifestFile, "put " + prefix + "/" + nn.SumsFile,
		"get " + prefix + "/" + nn.SumsFile, "get " + prefix + "/" + nn.ManifestFile, "get " + prefix + "/" + nn.WeightsFile,
	}, ops)
}
