package evaluationjob_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/nn"
)

// TestRegistryDigestGuardsTheManifest: a model whose manifest and
// SHA256SUMS were both rewritten consistently passes the directory's own
// checks, but not the digest the registry kept when it registered the
// model; a truncated or deleted manifest is DataChanged (a 409 at the
// API), never an internal error; nothing is stored for either.
func TestRegistryDigestGuardsTheManifest(t *testing.T) {
	ctx := t.Context()
	rt, modelID := trainedModel(t)
	rec, err := rt.DB.GetModel(ctx, modelID)
	require.NoError(t, err)
	require.Len(t, rec.ManifestSHA256, 64, "the registry keeps the manifest's digest")
	get := func(name string) []byte {
		rc, err := rt.Artifacts.Get(ctx, path.Join(rec.ArtifactKey, name))
		require.NoError(t, err)
		defer rc.Close()
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		return b
	}
	put := func(name string, b []byte) {
		require.NoError(t, rt.Artifacts.Put(ctx, path.Join(rec.ArtifactKey, name), bytes.NewReader(b)))
	}
	original := get(nn.ManifestFile)
	req := evaluation.EvaluateRequest{ModelID: modelID, DatasetPath: trainedOn(t, rt.Artifacts, rec.ArtifactKey),
		TargetColumn: "label", BootstrapResamples: 50}

	// Rewrite the threshold, and SHA256SUMS to match the new manifest.
	var man map[string]any
	require.NoError(t, json.Unmarshal(original, &man))
	man["threshold"] = 0.01
	forged, err := json.Marshal(man)
	require.NoError(t, err)
	sum := sha256.Sum256(forged)
	w := get(nn.WeightsFile)
	wsum := sha256.Sum256(w)
	put(nn.ManifestFile, forged)
	put(nn.SumsFile, fmt.Appendf(nil, "%s  %s\n%s  %s\n", hex.EncodeToString(sum[:]), nn.ManifestFile, hex.EncodeToString(wsum[:]), nn.WeightsFile))
	_, err = rt.EvaluationService().Evaluate(ctx, req)
	require.ErrorIs(t, err, nn.ErrChecksum)
	assert.ErrorContains(t, err, "registry recorded "+rec.ManifestSHA256)

	jobs, err := rt.DB.ListJobs(ctx, 0)
	require.NoError(t, err)
	for _, tc := range []struct {
		name    string
		content []byte
		want    string
	}{
		{"forged", forged, "registry recorded"},
		{"truncated", original[:len(original)/2], "registry recorded"},
		{"deleted", nil, "is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.content == nil {
				require.NoError(t, rt.Artifacts.DeletePrefix(ctx, path.Join(rec.ArtifactKey, nn.ManifestFile)))
			} else {
				put(nn.ManifestFile, tc.content)
			}
			_, err := rt.EvaluationService().Submit(ctx, evaluationjob.Config{EvaluateRequest: evaluation.EvaluateRequest{ModelID: modelID}})
			require.Error(t, err)
			assert.Equal(t, fault.DataChanged, fault.CodeOf(err), "%v", err)
			assert.ErrorContains(t, err, tc.want)
			assert.ErrorContains(t, err, modelID)
			after, err := rt.DB.ListJobs(ctx, 0)
			require.NoError(t, err)
			assert.Len(t, after, len(jobs), "no evaluation job stored")
		})
	}
}
