package training_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/filestore"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// testPipeline is a pipeline over fresh stores that counts its reads
// of the data file, handing data between stages when handoff is set.
func testPipeline(t *testing.T, handoff bool) (*training.TrainingPipeline, *atomic.Int32) {
	t.Helper()
	dir := t.TempDir()
	files, err := filestore.New(filepath.Join(dir, "artifacts"))
	require.NoError(t, err)
	db, err := sqlitestore.Open(t.Context(), filepath.Join(dir, "orrery.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	reads := new(atomic.Int32)
	p := &training.TrainingPipeline{Jobs: db, Models: db, Artifacts: files,
		ReadTable: func(ctx context.Context, path string) (*dataset.Table, error) {
			reads.Add(1)
			return dataset.Read(ctx, path)
		}}
	if handoff {
		p.Handoff = &training.DataHandoff{}
	}
	return p, reads
}

// testConfig is a quick configuration of modelType on HTRU2.
func testConfig(modelType string) training.TrainingConfig {
	cfg := training.DefaultsFor(modelType)
	cfg.DatasetPath, cfg.TargetColumn, cfg.PositiveClass = "../../../events/data/htru2.csv", "class", "1"
	if modelType == training.ModelMLP {
		cfg.Epochs, cfg.HiddenLayers = 2, []int{8}
	} else {
		cfg.MaxIter = 10
	}
	return cfg
}

// TestHandoffReadsTheDataOnce trains each kind of model twice, with the
// stages handing their data on and without: with it the file is read once
// (by Validate), without it once by each stage that needs the data, and
// the two jobs' metrics and thresholds are the same to the last bit.
func TestHandoffReadsTheDataOnce(t *testing.T) {
	for _, modelType := range []string{training.ModelMLP, training.ModelGradientBoosting, training.ModelAuto} {
		t.Run(modelType, func(t *testing.T) {
			run := func(handoff bool) (*training.Result, int) {
				p, reads := testPipeline(t, handoff)
				res, err := pipeline.RunTraining(t.Context(), p, testConfig(modelType))
				require.NoError(t, err)
				if handoff {
					assert.False(t, p.Handoff.Holds(res.JobID), "nothing is held once the job is done")
				}
				return res, int(reads.Load())
			}
			with, withReads := run(true)
			without, withoutReads := run(false)
			assert.Equal(t, 1, withReads, "Validate reads; the other stages are handed its data")
			assert.Equal(t, 4, withoutReads, "validate, preprocess, train and evaluate each read")
			a, err := json.Marshal(with.Metrics)
			require.NoError(t, err)
			b, err := json.Marshal(without.Metrics)
			require.NoError(t, err)
			assert.JSONEq(t, string(b), string(a))
			assert.Equal(t, without.Threshold, with.Threshold)
		})
	}
}

// TestHandoffRetriedStageReadsTheFile: a stage that fails after taking the
// data (here the trainer cannot start, after the network's splits were
// transformed in place) hands nothing on, so the retried stage reads the
// file; the job then finishes as one that never failed.
func TestHandoffRetriedStageReadsTheFile(t *testing.T) {
	ctx := t.Context()
	p, reads := testPipeline(t, true)
	broken := true
	p.NewTrainer = func(rec tracking.Recorder, ckpt training.Checkpointer) (training.Trainer, error) {
		if broken {
			return nil, errors.New("no trainer today")
		}
		return training.ModelTrainer{Recorder: rec, Checkpoints: ckpt}, nil
	}
	job, err := p.Submit(ctx, testConfig(training.ModelMLP))
	require.NoError(t, err)
	refs := training.Refs{JobID: job.ID}
	for _, stage := range []string{training.StageValidate, training.StagePreprocess} {
		refs, err = p.RunStage(ctx, training.StageRequest{Stage: stage, Refs: refs})
		require.NoError(t, err, stage)
	}
	assert.EqualValues(t, 1, reads.Load())
	assert.True(t, p.Handoff.Holds(job.ID))
	_, err = p.RunStage(ctx, training.StageRequest{Stage: training.StageTrain, Refs: refs})
	require.ErrorContains(t, err, "no trainer today")
	assert.False(t, p.Handoff.Holds(job.ID), "a failed stage hands nothing on")
	broken = false
	for _, stage := range []string{training.StageTrain, training.StageEvaluate, training.StageRegister} {
		refs, err = p.RunStage(ctx, training.StageRequest{Stage: stage, Refs: refs})
		require.NoError(t, err, stage)
	}
	assert.EqualValues(t, 2, reads.Load(), "the retried Train read the file, and handed Evaluate its data")
	got, err := p.Jobs.GetJob(ctx, job.ID)
	require.NoError(t, err)
	assert.Equal(t, store.Succeeded, got.Status)

	// The same job's stages without a handoff give the same metrics.
	q, _ := testPipeline(t, false)
	res, err := pipeline.RunTraining(ctx, q, testConfig(training.ModelMLP))
	require.NoError(t, err)
	mine, err := p.LoadResult(ctx, refs)
	require.NoError(t, err)
	assert.Equal(t, res.Metrics.AUCROC, mine.Metrics.AUCROC)
}

// TestValidateStillFindsSplitOverlap: Validate skips the train/test
// overlap check only when the data set has no duplicate rows; a file with
// copies of rows still gets both findings.
func TestValidateStillFindsSplitOverlap(t *testing.T) {
	src, err := os.ReadFile("../../../events/data/htru2.csv")
	require.NoError(t, err)
	lines := strings.SplitAfter(string(src), "\n")
	data := strings.TrimRight(string(src), "\n") + "\n"
	for _, l := range lines[1:301] { // 300 rows again at the end
		data += l
	}
	path := filepath.Join(t.TempDir(), "copies.csv")
	require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
	for _, tc := range []struct {
		path   string
		copies bool
	}{{"../../../events/data/htru2.csv", false}, {path, true}} {
		p, _ := testPipeline(t, true)
		cfg := testConfig(training.ModelMLP)
		cfg.DatasetPath = tc.path
		res, err := pipeline.RunTraining(t.Context(), p, cfg)
		require.NoError(t, err)
		checks := map[string]int{}
		for _, f := range res.Validation.Findings {
			checks[f.Check] = f.Count
		}
		if !tc.copies {
			assert.Zero(t, checks[training.CheckDuplicateRows])
			assert.Zero(t, checks[training.CheckTrainTestOverlap])
			continue
		}
		assert.GreaterOrEqual(t, checks[training.CheckDuplicateRows], 300)
		assert.Positive(t, checks[training.CheckTrainTestOverlap], "copies of training rows in the test split")
		assert.Positive(t, checks[training.CheckTrainValidationOverlap])
	}
}
