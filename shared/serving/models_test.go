package serving_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/serving"
	"github.com/orrery-ml/orrery/shared/store"
)

func TestModelsLoadOncePerProcess(t *testing.T) {
	e := newEnv(t)
	e.register(t, testModel(t, "mdl-a", []string{"0", "1"}, 1))
	models := &serving.Models{Store: e.models, Locate: serving.RegistryLocator(e.db)}

	var wg sync.WaitGroup
	got := make([]*serving.Predictor, 16)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := models.Get(context.Background(), "mdl-a")
			assert.NoError(t, err)
			got[i] = p
		}()
	}
	wg.Wait()
	for _, p := range got {
		assert.Same(t, got[0], p, "every caller gets the one loaded model")
	}
	assert.Equal(t, int64(1), models.Loads())
	assert.Equal(t, features, got[0].Features())
}

func TestModelsRefuseTamperedFiles(t *testing.T) {
	tests := []struct {
		name string
		file string
	}{
		{"weights changed", "weights.safetensors"},
		{"manifest changed", "manifest.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.register(t, testModel(t, "mdl-t", []string{"0", "1"}, 2))
			key := "models/mdl-t/" + tc.file
			rc, err := e.artifacts.Get(t.Context(), key)
			require.NoError(t, err)
			var buf bytes.Buffer
			_, err = buf.ReadFrom(rc)
			require.NoError(t, err)
			require.NoError(t, rc.Close())
			data := buf.Bytes()
			data[len(data)-2] ^= 0x01 // one bit, inside the JSON or the tensor data
			require.NoError(t, e.artifacts.Put(t.Context(), key, bytes.NewReader(data)))

			models := &serving.Models{Store: e.models, Locate: serving.RegistryLocator(e.db)}
			for range 2 {
				_, err = models.Get(t.Context(), "mdl-t")
				require.ErrorIs(t, err, serving.ErrModelRefused)
				assert.Contains(t, err.Error(), "mdl-t")
				assert.Contains(t, err.Error(), tc.file, "the error names the file")
				assert.Contains(t, err.Error(), "SHA-256")
				assert.Equal(t, fault.Unavailable, fault.CodeOf(err))
			}
			assert.Equal(t, int64(1), models.Loads(), "the refusal is kept: the model is never served by this process")
		})
	}
}

func TestModelsRetryWhatIsNotThereYet(t *testing.T) {
	e := newEnv(t)
	models := &serving.Models{Store: e.models} // models/<id>, no registry
	_, err := models.Get(t.Context(), "mdl-late")
	require.ErrorIs(t, err, store.ErrNotFound)
	e.register(t, testModel(t, "mdl-late", []string{"0", "1"}, 2))
	p, err := models.Get(t.Context(), "mdl-late")
	require.NoError(t, err, "a missing model is not remembered")
	assert.Equal(t, "mdl-late", p.ModelID())
	assert.Equal(t, int64(2), models.Loads())

	_, err = models.Get(t.Context(), "../etc")
	require.ErrorIs(t, err, store.ErrInvalid)
}

func TestModelsKeepTheMostRecentlyUsed(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"mdl-1", "mdl-2", "mdl-3"} {
		e.register(t, testModel(t, id, []string{"0", "1"}, 4))
	}
	models := &serving.Models{Store: e.models, MaxModels: 2}
	get := func(id string) {
		t.Helper()
		_, err := models.Get(t.Context(), id)
		require.NoError(t, err)
	}
	get("mdl-1")
	get("mdl-2")
	get("mdl-1")
	get("mdl-3") // evicts mdl-2, the least recently used
	assert.Equal(t, int64(3), models.Loads())
	get("mdl-1")
	assert.Equal(t, int64(3), models.Loads(), "mdl-1 stayed")
	get("mdl-2")
	assert.Equal(t, int64(4), models.Loads(), "mdl-2 was loaded again")
}
