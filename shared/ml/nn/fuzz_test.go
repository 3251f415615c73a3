package nn

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzLoadManifest loads a model directory whose manifest.json is arbitrary
// bytes, with SHA256SUMS rewritten to match (so the checksum gate passes
// and the manifest decoder and the consistency checks see every input):
// no panic; a refusal is ErrInvalidModel, ErrChecksum or a decode error
// naming manifest.json; a model loaded has a network with the manifest's
// features as inputs.
func FuzzLoadManifest(f *testing.F) {
	files, err := EncodeDir(testModel(f))
	if err != nil {
		f.Fatal(err)
	}
	var manifest, weights []byte
	for _, file := range files {
		switch file.Name {
		case ManifestFile:
			manifest = file.Data
		case WeightsFile:
			weights = file.Data
		}
	}
	f.Add(manifest)
	f.Add(manifest[:len(manifest)/2])
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"features": ["a"], "classes": ["0"], "files": {}}`))
	// Regression seed (found by the fuzzer in CI): a consistent manifest
	// whose architecture has no model_type was refused without ErrInvalidModel.
	var doc map[string]any
	if err := json.Unmarshal(manifest, &doc); err != nil {
		f.Fatal(err)
	}
	doc["architecture"].(map[string]any)["model_type"] = ""
	noType, err := json.Marshal(doc)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(noType)
	wsum := sha256.Sum256(weights)
	f.Fuzz(func(t *testing.T, man []byte) {
		msum := sha256.Sum256(man)
		sums := fmt.Sprintf("%s  %s\n%s  %s\n", hex.EncodeToString(msum[:]), ManifestFile, hex.EncodeToString(wsum[:]), WeightsFile)
		fsys := fstest.MapFS{
			ManifestFile: {Data: man}, WeightsFile: {Data: weights}, SumsFile: {Data: []byte(sums)},
		}
		m, err := LoadFS(fsys)
		if err != nil {
			if !errors.Is(err, ErrInvalidModel) && !errors.Is(err, ErrChecksum) && !containsName(err, ManifestFile) {
				t.Fatalf("refusal names neither the model nor the manifest: %v", err)
			}
			return
		}
		if m.Net == nil || m.Net.Spec.Inputs != len(m.Manifest.Features) {
			t.Fatalf("loaded a model whose network does not take its features")
		}
	})
}

func containsName(err error, name string) bool { return strings.Contains(err.Error(), name) }
