package training_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/modelstore"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/filestore"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
)

// corruptingStore flips one byte of every object whose key ends in suffix
// as it stores it, as a broken upload would.
type corruptingStore struct {
	store.ArtifactStore
	suffix string
}

func (c corruptingStore) Put(ctx context.Context, key string, r io.Reader) error {
	if c.suffix == "" || !strings.HasSuffix(key, c.suffix) {
		return c.ArtifactStore.Put(ctx, key, r)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	data[len(data)/2] ^= 0x01
	return c.ArtifactStore.Put(ctx, key, bytes.NewReader(data))
}

// TestRegisterReadsTheModelBackFromTheStore: Register writes the model to
// the artifact store and reads it back from there; the stored model is the
// evaluated one (same predictions), and a store that damaged a file fails
// the job, naming the file, with no model registered or left in the store.
func TestRegisterReadsTheModelBackFromTheStore(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on HTRU2")
	}
	for _, tc := range []struct {
		name, corrupt string
	}{
		{name: "intact"},
		{name: "weights damaged on upload", corrupt: nn.WeightsFile},
		{name: "manifest damaged on upload", corrupt: nn.ManifestFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			dir := t.TempDir()
			files, err := filestore.New(filepath.Join(dir, "artifacts"))
			require.NoError(t, err)
			db, err := sqlitestore.Open(ctx, filepath.Join(dir, "orrery.db"))
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			p := &training.TrainingPipeline{Jobs: db, Models: db, Artifacts: corruptingStore{ArtifactStore: files, suffix: tc.corrupt}}
			cfg := training.Defaults()
			cfg.DatasetPath, cfg.TargetColumn, cfg.PositiveClass = "../../../events/data/htru2.csv", "class", "1"
			cfg.Epochs, cfg.HiddenLayers = 2, []int{8}

			res, err := pipeline.RunTraining(ctx, p, cfg)
			if tc.corrupt == "" {
				require.NoError(t, err)
				rec, err := db.GetModel(ctx, res.ModelID)
				require.NoError(t, err)
				model, _, err := modelstore.Store{Artifacts: files}.Get(ctx, rec.ArtifactKey)
				require.NoError(t, err)
				assert.Equal(t, res.Threshold, model.Manifest.Threshold)
				return
			}
			assert.Equal(t, fault.DataChanged, fault.CodeOf(err), "the checksum failure keeps its code across the machine: %v", err)
			assert.ErrorContains(t, err, tc.corrupt)
			jobs, err := db.ListJobs(ctx, 1)
			require.NoError(t, err)
			require.Len(t, jobs, 1)
			assert.Equal(t, store.Failed, jobs[0].Status)
			assert.Contains(t, jobs[0].Error, tc.corrupt)
			models, err := db.ListModels(ctx)
			require.NoError(t, err)
			assert.Empty(t, models, "nothing registered")
			left, err := files.List(ctx, "models/")
			require.NoError(t, err)
			assert.Empty(t, left, "the damaged model's files are removed")
		})
	}
}

// TestRegisterTwiceIsRegisterOnce runs the stages by hand and Register a
// second time, as an execution resumed from a history that had not recorded
// Register's end does: the job stays SUCCEEDED with its one model.
func TestRegisterTwiceIsRegisterOnce(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	files, err := filestore.New(filepath.Join(dir, "artifacts"))
	require.NoError(t, err)
	db, err := sqlitestore.Open(ctx, filepath.Join(dir, "orrery.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	p := &training.TrainingPipeline{Jobs: db, Models: db, Artifacts: files}
	cfg := training.Defaults()
	cfg.DatasetPath, cfg.TargetColumn, cfg.PositiveClass = "../../../events/data/htru2.csv", "class", "1"
	cfg.Epochs, cfg.HiddenLayers = 2, []int{8}
	job, err := p.Submit(ctx, cfg)
	require.NoError(t, err)
	refs := training.Refs{JobID: job.ID}
	for _, stage := range []string{training.StageValidate, training.StagePreprocess, training.StageTrain, training.StageEvaluate, training.StageRegister} {
		refs, err = p.RunStage(ctx, training.StageRequest{Stage: stage, Refs: refs})
		require.NoError(t, err, stage)
	}
	again, err := p.RunStage(ctx, training.StageRequest{Stage: training.StageRegister, Refs: refs})
	require.NoError(t, err, "a repeated Register finishes like the first")
	assert.Equal(t, refs.ModelID, again.ModelID)
	assert.Equal(t, refs.ModelURI, again.ModelURI)
	got, err := db.GetJob(ctx, job.ID)
	require.NoError(t, err)
	assert.Equal(t, store.Succeeded, got.Status)
	models, err := db.ListModels(ctx)
	require.NoError(t, err)
	assert.Len(t, models, 1)
}

// TestRegisterChecksTheStoredModelAgainstTheProbe runs the stages by hand
// to Evaluate, then Register three ways. With Evaluate's probe and the data
// file gone, Register still registers the model (it does not read the data)
// with the manifest's data facts, and removes the probe. With one of the
// probe's probabilities changed, the stored model no longer gives what was
// evaluated and Register fails, registering nothing. Without a probe (a job
// evaluated by an older Orrery), Register reads the data and checks the
// whole test split.
func TestRegisterChecksTheStoredModelAgainstTheProbe(t *testing.T) {
	src, err := os.ReadFile("../../../events/data/htru2.csv")
	require.NoError(t, err)
	for _, tc := range []string{"probe, no data file", "probe tampered with", "no probe"} {
		t.Run(tc, func(t *testing.T) {
			ctx := t.Context()
			data := filepath.Join(t.TempDir(), "htru2.csv")
			require.NoError(t, os.WriteFile(data, src, 0o644))
			p, _ := testPipeline(t, false)
			files, models := p.Artifacts, p.Models
			cfg := testConfig(training.ModelMLP)
			cfg.DatasetPath = data
			job, err := p.Submit(ctx, cfg)
			require.NoError(t, err)
			refs := training.Refs{JobID: job.ID}
			for _, stage := range []string{training.StageValidate, training.StagePreprocess, training.StageTrain, training.StageEvaluate} {
				refs, err = p.RunStage(ctx, training.StageRequest{Stage: stage, Refs: refs})
				require.NoError(t, err, stage)
			}
			key := "jobs/" + job.ID + "/heldout/probe.bin"
			rc, err := files.Get(ctx, key)
			require.NoError(t, err, "Evaluate leaves a probe")
			probe, err := io.ReadAll(rc)
			rc.Close()
			require.NoError(t, err)
			switch tc {
			case "probe, no data file":
				require.NoError(t, os.Remove(data))
			case "probe tampered with":
				probe[len(probe)-3] ^= 0x10 // the last probability
				require.NoError(t, files.Put(ctx, key, bytes.NewReader(probe)))
			case "no probe":
				require.NoError(t, files.DeletePrefix(ctx, key))
			}
			refs, err = p.RunStage(ctx, training.StageRequest{Stage: training.StageRegister, Refs: refs})
			registered, lerr := models.ListModels(ctx)
			require.NoError(t, lerr)
			if tc == "probe tampered with" {
				require.Error(t, err)
				assert.ErrorContains(t, err, "saved model predicts")
				assert.Empty(t, registered, "nothing registered")
				return
			}
			require.NoError(t, err)
			require.Len(t, registered, 1)
			assert.Equal(t, refs.DataHash, registered[0].DataHash)
			model, _, err := modelstore.Store{Artifacts: files}.Get(ctx, registered[0].ArtifactKey)
			require.NoError(t, err)
			m := model.Manifest
			assert.Equal(t, refs.DataHash, m.DataHash)
			assert.Len(t, m.Features, 8)
			assert.Equal(t, []string{"0", "1"}, m.Classes)
			assert.Equal(t, "1", m.PositiveClass)
			assert.Equal(t, "class", m.Target)
			require.NotNil(t, m.Split)
			assert.NotEmpty(t, m.Split.Method)
			assert.Equal(t, refs.Threshold, m.Threshold)
			_, err = files.Get(ctx, key)
			assert.ErrorIs(t, err, store.ErrNotFound, "Register removes the probe")
		})
	}
}
