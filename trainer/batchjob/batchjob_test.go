package batchjob

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/filestore"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// gonum is the pure-Go backend, as trainer/main.go wires it.
func gonum(rec tracking.Recorder, ckpt training.Checkpointer) (Trainer, error) {
	return training.ModelTrainer{Recorder: rec, Checkpoints: ckpt}, nil
}

type fixture struct {
	runner *Runner
	files  *filestore.Store
	db     *sqlitestore.DB
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	files, err := filestore.New(filepath.Join(dir, "artifacts"))
	require.NoError(t, err)
	db, err := sqlitestore.Open(context.Background(), filepath.Join(dir, "orrery.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return fixture{runner: &Runner{Jobs: db, Models: db, Artifacts: files, Backend: BackendGonum, NewTrainer: gonum,
		ScratchDir: dir}, files: files, db: db}
}

func htru2Config(epochs int) *training.TrainingConfig {
	cfg := training.Defaults()
	cfg.DatasetPath, cfg.TargetColumn, cfg.PositiveClass = "../../events/data/htru2.csv", "class", "1"
	cfg.Epochs, cfg.HiddenLayers = epochs, []int{16}
	off := false
	cfg.EarlyStop.Enabled = &off
	return &cfg
}

func TestRunTrainsRegistersAndResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on HTRU2")
	}
	f := newFixture(t)
	ctx := context.Background()
	spec := Spec{JobID: "trn-1", Config: htru2Config(4), Backend: BackendGonum, Device: "cpu", Attempt: 1}

	// Attempt 1 is interrupted after its second epoch (as by SIGTERM).
	interrupted, cancel := context.WithCancel(ctx)
	f.runner.Recorder = tracking.RecorderFunc(func(_ context.Context, e tracking.Event) error {
		if e.Kind == tracking.Progress && e.Step == 2 {
			cancel()
		}
		return nil
	})
	_, err := f.runner.Run(interrupted, spec)
	require.Error(t, err)
	assert.True(t, Retryable(err), "%v", err)
	assert.Equal(t, ExitRetryable, ExitCode(err))
	job, err := f.db.GetJob(ctx, spec.JobID)
	require.NoError(t, err)
	assert.Equal(t, store.Running, job.Status, "an interrupted job stays RUNNING for the next attempt")
	assert.Contains(t, string(job.Progress), "context canceled", "the job record shows the interruption")
	_, found, err := Checkpoints{Store: f.files, Backend: BackendGonum}.LoadCheckpoint(ctx, spec.JobID)
	require.NoError(t, err)
	assert.True(t, found)

	// Attempt 2 resumes after epoch 2 and finishes.
	f.runner.Recorder = nil
	spec.Attempt = 2
	res, err := f.runner.Run(ctx, spec)
	require.NoError(t, err)
	assert.Equal(t, 2, res.Training.ResumedFrom)
	assert.Equal(t, 4, res.Training.EpochsRun)
	assert.Greater(t, res.Metrics.AUCROC, 0.95)
	job, err = f.db.GetJob(ctx, spec.JobID)
	require.NoError(t, err)
	assert.Equal(t, store.Succeeded, job.Status)
	assert.Equal(t, 2, job.Attempts)
	assert.Equal(t, res.ModelID, job.ModelID)
	var stored Result
	require.NoError(t, json.Unmarshal(job.Result, &stored))
	assert.Equal(t, res.ModelID, stored.ModelID)

	// The registered model is a model directory the shared code loads.
	m, err := f.db.GetModel(ctx, res.ModelID)
	require.NoError(t, err)
	model, err := nn.LoadDir(filepath.Join(f.files.Root(), m.ArtifactKey))
	require.NoError(t, err)
	assert.Equal(t, BackendGonum, model.Manifest.Backend)
	assert.Equal(t, res.Threshold, model.Manifest.Threshold)

	// A third attempt of the finished job does nothing.
	res, err = f.runner.Run(ctx, spec)
	require.NoError(t, err)
	assert.Nil(t, res)
}

func TestRunApplicationErrorsFailTheJob(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*training.TrainingConfig)
	}{
		{"missing target column", func(c *training.TrainingConfig) { c.TargetColumn = "no_such_column" }},
		{"missing data file", func(c *training.TrainingConfig) { c.DatasetPath = "no/such/file.csv" }},
		{"s3 without S3 access", func(c *training.TrainingConfig) { c.DatasetPath = "s3://bucket/data.csv" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			cfg := htru2Config(1)
			tc.change(cfg)
			spec := Spec{JobID: "trn-bad", Config: cfg, Backend: BackendGonum, Device: "cpu", Attempt: 1}
			_, err := f.runner.Run(context.Background(), spec)
			require.Error(t, err)
			assert.False(t, Retryable(err), "%v", err)
			assert.Equal(t, ExitApplication, ExitCode(err))
			job, err := f.db.GetJob(context.Background(), spec.JobID)
			require.NoError(t, err)
			assert.Equal(t, store.Failed, job.Status)
			assert.NotEmpty(t, job.Error)
		})
	}
}

func TestSpecFromEnv(t *testing.T) {
	base := map[string]string{EnvJobID: "trn-1", EnvArtifacts: "/tmp/a", EnvRecords: "/tmp/db", EnvBackend: "torch", EnvDevice: "cuda"}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"complete", nil, ""},
		{"attempt", map[string]string{EnvAttempt: "3"}, ""},
		{"no job id", map[string]string{EnvJobID: ""}, EnvJobID},
		{"no artifacts", map[string]string{EnvArtifacts: ""}, EnvArtifacts},
		{"no records", map[string]string{EnvRecords: ""}, EnvRecords},
		{"bad backend", map[string]string{EnvBackend: "jax"}, EnvBackend},
		{"bad device", map[string]string{EnvDevice: "tpu"}, EnvDevice},
		{"gonum on cuda", map[string]string{EnvBackend: "gonum"}, "CPU only"},
		{"bad attempt", map[string]string{EnvAttempt: "first"}, EnvAttempt},
		{"bad threads", map[string]string{EnvThreads: "-1"}, EnvThreads},
		{"unknown config field", map[string]string{EnvConfig: `{"epochz": 3}`}, "epochz"},
		{"AWS names", map[string]string{EnvJobID: "", EnvStageRefs: `{"job_id": "trn-1"}`, EnvArtifacts: "", EnvRecords: "",
			"ORRERY_ARTIFACTS_BUCKET": "art", "ORRERY_JOBS_TABLE": "jobs", "ORRERY_MODELS_TABLE": "models"}, ""},
		{"train-only", map[string]string{EnvStageRefs: `{"job_id": "trn-1", "preprocessing_key": "k", "later": 1}`, EnvTaskToken: "tok"}, ""},
		{"stage refs of another job", map[string]string{EnvStageRefs: `{"job_id": "trn-2"}`}, EnvStageRefs},
		{"stage refs without job id", map[string]string{EnvStageRefs: `{"data_hash": "abc"}`}, "no job_id"},
		{"stage refs not JSON", map[string]string{EnvStageRefs: `job_id=trn-1`}, EnvStageRefs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			spec, err := SpecFromEnv(func(k string) string { return env[k] })
			if err == nil {
				err = spec.Validate()
			}
			if tc.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, "trn-1", spec.JobID)
				if env[EnvStageRefs] != "" {
					require.NotNil(t, spec.StageRefs, "train-only mode")
					assert.Equal(t, "trn-1", spec.StageRefs.JobID)
					assert.Equal(t, env[EnvTaskToken], spec.TaskToken)
				} else {
					assert.Nil(t, spec.StageRefs)
				}
				return
			}
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrSpec))
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.Equal(t, ExitUsage, ExitCode(err))
		})
	}
}

func TestCheckpointKeysPerBackend(t *testing.T) {
	assert.Equal(t, "checkpoints/j/latest.ckpt", Checkpoints{Backend: BackendGonum}.key("j"))
	assert.Equal(t, "checkpoints/j/torch.ckpt", Checkpoints{Backend: BackendTorch}.key("j"))
}
