package evaluationjob_test

import (
	"bytes"
	"encoding/json"
	"io"
	"path"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/store"
)

// TestEvaluateRefusesABrokenModel: the evaluation reads the model straight
// from the artifact store, and refuses one whose stored files were changed
// or lost, naming the file, instead of scoring it.
func TestEvaluateRefusesABrokenModel(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       error
	}{
		{"weights corrupted", nn.WeightsFile, nn.ErrChecksum},
		{"manifest corrupted", nn.ManifestFile, nn.ErrChecksum},
		{"checksums missing", nn.SumsFile, store.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			rt, modelID := trainedModel(t)
			rec, err := rt.DB.GetModel(ctx, modelID)
			require.NoError(t, err)
			req := evaluation.EvaluateRequest{ModelID: modelID, DatasetPath: trainedOn(t, rt.Artifacts, rec.ArtifactKey),
				TargetColumn: "label", BootstrapResamples: 50}
			_, err = rt.EvaluationService().Evaluate(ctx, req)
			require.NoError(t, err, "the intact model evaluates")

			key := path.Join(rec.ArtifactKey, tc.file)
			if tc.want == store.ErrNotFound {
				require.NoError(t, rt.Artifacts.DeletePrefix(ctx, key))
			} else {
				rc, err := rt.Artifacts.Get(ctx, key)
				require.NoError(t, err)
				data, err := io.ReadAll(rc)
				rc.Close()
				require.NoError(t, err)
				data[len(data)/2] ^= 0x01
				require.NoError(t, rt.Artifacts.Put(ctx, key, bytes.NewReader(data)))
			}
			_, err = rt.EvaluationService().Evaluate(ctx, req)
			require.ErrorIs(t, err, tc.want)
			assert.ErrorContains(t, err, tc.file)
			assert.ErrorContains(t, err, modelID)
		})
	}
}

// trainedOn returns the dataset_path a stored model was trained on (its
// manifest's training_config).
func trainedOn(t *testing.T, artifacts store.ArtifactStore, prefix string) string {
	t.Helper()
	rc, err := artifacts.Get(t.Context(), path.Join(prefix, nn.ManifestFile))
	require.NoError(t, err)
	defer rc.Close()
	var man nn.Manifest
	require.NoError(t, json.NewDecoder(rc).Decode(&man))
	var cfg struct {
		DatasetPath string `json:"dataset_path"`
	}
	require.NoError(t, json.Unmarshal(man.TrainingConfig, &cfg))
	require.NotEmpty(t, cfg.DatasetPath)
	return cfg.DatasetPath
}
