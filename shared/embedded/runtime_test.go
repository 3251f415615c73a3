package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/events"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/synthetic"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// writeCSV writes a file into dir and returns its path.
func writeCSV(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

func quickConfig(path string) training.TrainingConfig {
	return training.TrainingConfig{DatasetPath: path, TargetColumn: "label", PositiveClass: "pulsar",
		Epochs: 30, HiddenLayers: []int{8}, BatchSize: 32, LearningRate: 0.01}
}

func openTest(t *testing.T, rec tracking.Recorder) *Runtime {
	t.Helper()
	rt, err := Open(context.Background(), filepath.Join(t.TempDir(), "home"), rec)
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	return rt
}

// train runs one training job for cfg through the runtime's journaled
// executions, as `orrery train` does.
func train(ctx context.Context, t *testing.T, rt *Runtime, cfg training.TrainingConfig) (*training.Result, error) {
	t.Helper()
	x, err := rt.Executions(ExecutionOptions{Parallel: 1})
	require.NoError(t, err)
	defer func() { require.NoError(t, x.Close(context.Background())) }()
	return rt.Train(ctx, x, cfg)
}

func modelFiles(t *testing.T, rt *Runtime) []string {
	t.Helper()
	keys, err := rt.Artifacts.List(context.Background(), "models/")
	require.NoError(t, err)
	return keys
}

func TestTrainRegistersAVerifiableModel(t *testing.T) {
	ctx := context.Background()
	mem := &tracking.Memory{}
	rt := openTest(t, mem)
	data := writeCSV(t, t.TempDir(), "syn.csv", synthetic.TwoClassCSV(600, 1))

	res, err := train(ctx, t, rt, quickConfig(data))
	require.NoError(t, err)

	job, err := rt.DB.GetJob(ctx, res.JobID)
	require.NoError(t, err)
	assert.Equal(t, store.Succeeded, job.Status)
	assert.Equal(t, res.ModelID, job.ModelID)
	assert.Equal(t, 1, job.Attempts)
	var stored training.Result
	require.NoError(t, json.Unmarshal(job.Result, &stored))
	assert.Equal(t, res.ModelID, stored.ModelID)

	m, err := rt.DB.GetModel(ctx, res.ModelID)
	require.NoError(t, err)
	assert.Equal(t, res.JobID, m.JobID)
	dir, err := rt.ModelDir(ctx, res.ModelID)
	require.NoError(t, err)
	for _, f := range []string{"manifest.json", "weights.safetensors", "SHA256SUMS"} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
	model, err := nn.LoadDir(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "noise"}, model.Manifest.Features)
	assert.Equal(t, []string{"star", "pulsar"}, model.Manifest.Classes)
	assert.Equal(t, "pulsar", model.Manifest.PositiveClass)
	assert.Equal(t, res.Threshold, model.Manifest.Threshold)
	assert.NotEmpty(t, model.Manifest.DataHash)
	assert.NotEmpty(t, model.Manifest.Metrics)
	assert.Greater(t, res.Metrics.AUCROC, 0.9, "a separable problem is learnt")

	// The validation report, metrics and history are kept with the job.
	for _, k := range []string{"validation_report", "metrics", "history", "model", "manifest"} {
		assert.Contains(t, res.Artifacts, k)
	}
	assert.FileExists(t, res.Artifacts["validation_report"])

	// Progress: every stage started and finished, one progress event per epoch.
	stages := map[string]int{}
	epochs := 0
	for _, e := range mem.Events() {
		if e.Kind == tracking.StageFinished {
			stages[e.Stage]++
		}
		if e.Kind == tracking.Progress && e.Stage == training.StageTrain {
			epochs++
			assert.Contains(t, e.Metrics, "loss")
		}
	}
	for _, s := range []string{"validate", "preprocess", "train", "evaluate", "register"} {
		assert.Equal(t, 1, stages[s], "stage %s finished once", s)
	}
	assert.Equal(t, res.Training.EpochsRun, epochs)
	// The job record carries the latest progress event.
	var last tracking.Event
	require.NoError(t, json.Unmarshal(job.Progress, &last))
	assert.Equal(t, res.JobID, last.JobID)
}

func TestSameSeedSameModel(t *testing.T) {
	ctx := context.Background()
	data := writeCSV(t, t.TempDir(), "syn.csv", synthetic.TwoClassCSV(400, 2))
	a, err := train(ctx, t, openTest(t, nil), quickConfig(data))
	require.NoError(t, err)
	b, err := train(ctx, t, openTest(t, nil), quickConfig(data))
	require.NoError(t, err)
	assert.Equal(t, a.Metrics.AUCROC, b.Metrics.AUCROC)
	require.Equal(t, len(a.Training.History), len(b.Training.History))
	for i := range a.Training.History {
		ea, eb := a.Training.History[i], b.Training.History[i]
		// Time and the process's CPU and memory use are measurements, not
		// results of the seed.
		ea.Seconds, eb.Seconds = 0, 0
		ea.Resources, eb.Resources = nil, nil
		assert.Equal(t, ea, eb, "epoch %d", i+1)
	}
}

func TestBrokenInputsFailCleanly(t *testing.T) {
	dir := t.TempDir()
	good := synthetic.TwoClassCSV(200, 3)
	lines := strings.Split(strings.TrimSpace(good), "\n")
	textCell := strings.Join(append(append([]string{}, lines[:5]...), "0.5,abc,0.1,star"), "\n") + "\n" + strings.Join(lines[5:], "\n") + "\n"
	var allNaN strings.Builder
	allNaN.WriteString("a,b,empty,label\n")
	for i, l := range lines[1:] {
		f := strings.Split(l, ",")
		fmt.Fprintf(&allNaN, "%s,%s,,%s\n", f[0], f[1], f[3])
		_ = i
	}
	single := strings.ReplaceAll(good, "pulsar", "star")
	cases := []struct {
		name, body string
		target     string
		want       []string // substrings of the error
		reportKept bool
	}{
		{"empty file", "", "label", []string{"empty"}, false},
		{"header only", "a,b,noise,label\n", "label", []string{"no data rows"}, false},
		{"ragged rows", "a,b,noise,label\n1,2,3,star\n1,2,pulsar\n", "label", []string{"line 3", "3 fields"}, false},
		{"text in a numeric column", textCell, "label", []string{"b", "row 5", "abc"}, true},
		{"single class", single, "label", []string{"single class", "star"}, false},
		{"all-NaN column", allNaN.String(), "label", []string{"empty"}, true},
		{"missing target column", good, "kind", []string{"kind"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			rt := openTest(t, nil)
			path := writeCSV(t, dir, strings.ReplaceAll(tc.name, " ", "_")+".csv", tc.body)
			cfg := quickConfig(path)
			cfg.TargetColumn = tc.target
			cfg.PositiveClass = ""
			res, err := train(ctx, t, rt, cfg)
			require.Error(t, err)
			assert.Nil(t, res)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "\n", "one clear line")

			jobs, err := rt.DB.ListJobs(ctx, 0)
			require.NoError(t, err)
			require.Len(t, jobs, 1)
			assert.Equal(t, store.Failed, jobs[0].Status)
			assert.Equal(t, training.StageValidate, jobs[0].Stage)
			assert.NotEmpty(t, jobs[0].Error)
			models, err := rt.DB.ListModels(ctx)
			require.NoError(t, err)
			assert.Empty(t, models, "no model registered")
			assert.Empty(t, modelFiles(t, rt), "no model files left behind")
			_, err = rt.Artifacts.Get(ctx, "jobs/"+jobs[0].ID+"/validation_report.json")
			if tc.reportKept {
				assert.NoError(t, err, "the validation report is saved with the job")
			}
		})
	}
}

// flakyArtifacts fails the first n Puts with a transient error.
type flakyArtifacts struct {
	store.ArtifactStore
	failures atomic.Int32
}

func (f *flakyArtifacts) Put(ctx context.Context, key string, r io.Reader) error {
	if f.failures.Add(-1) >= 0 {
		return errors.New("connection reset by peer")
	}
	return f.ArtifactStore.Put(ctx, key, r)
}

func TestTransientFailuresAreRetried(t *testing.T) {
	ctx := context.Background()
	rt := openTest(t, nil)
	flaky := &flakyArtifacts{ArtifactStore: rt.Artifacts}
	flaky.failures.Store(2)
	var retries atomic.Int32
	rt.Pipeline.Artifacts = flaky
	rt.Pipeline.Retry.OnRetry = func(string, int, error) { retries.Add(1) }
	data := writeCSV(t, t.TempDir(), "syn.csv", synthetic.TwoClassCSV(300, 4))
	res, err := train(ctx, t, rt, quickConfig(data))
	require.NoError(t, err)
	assert.NotEmpty(t, res.ModelID)
	assert.Equal(t, int32(2), retries.Load())
}

func TestPersistentFailureRecordsWhyAndCleansUp(t *testing.T) {
	ctx := context.Background()
	rt := openTest(t, nil)
	rt.Pipeline.Retry.Attempts = 2
	rt.Pipeline.Models = failingRegistry{rt.DB}
	data := writeCSV(t, t.TempDir(), "syn.csv", synthetic.TwoClassCSV(300, 5))
	_, err := train(ctx, t, rt, quickConfig(data))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "registry unavailable")
	jobs, err := rt.DB.ListJobs(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, store.Failed, jobs[0].Status)
	assert.Equal(t, training.StageRegister, jobs[0].Stage)
	assert.Contains(t, jobs[0].Error, "registry unavailable")
	assert.Empty(t, modelFiles(t, rt), "uploaded model files are removed")
}

type failingRegistry struct{ store.ModelRegistry }

func (failingRegistry) RegisterModel(context.Context, store.Model) error {
	return errors.New("registry unavailable")
}

func TestAnInterruptedJobResumesFromItsCheckpoint(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	rec := tracking.RecorderFunc(func(_ context.Context, e tracking.Event) error {
		if e.Kind == tracking.Progress && e.Step == 2 {
			cancel()
		}
		return nil
	})
	rt := openTest(t, rec)
	data := writeCSV(t, t.TempDir(), "syn.csv", synthetic.TwoClassCSV(300, 6))
	cfg := quickConfig(data)
	cfg.Epochs = 20
	off := false
	cfg.EarlyStop.Enabled = &off
	_, err := train(ctx, t, rt, cfg)
	var stopped *Interrupted
	require.ErrorAs(t, err, &stopped)
	job, err := rt.DB.GetJob(context.Background(), stopped.JobID)
	require.NoError(t, err)
	assert.Equal(t, store.Running, job.Status, "an interrupted job waits to resume")
	assert.Equal(t, training.StageTrain, job.Stage)

	rt.Pipeline.Recorder = tracking.Discard
	x, err := rt.Executions(ExecutionOptions{})
	require.NoError(t, err)
	res, err := rt.ResumeTraining(context.Background(), x, stopped.JobID)
	require.NoError(t, err)
	require.NoError(t, x.Close(context.Background()))
	require.Len(t, res.Training.History, 20)
	for i, e := range res.Training.History {
		assert.Equal(t, i+1, e.Epoch, "each epoch once, in order")
	}
	assert.GreaterOrEqual(t, res.Training.ResumedFrom, 2)
	job, err = rt.DB.GetJob(context.Background(), stopped.JobID)
	require.NoError(t, err)
	assert.Equal(t, store.Succeeded, job.Status)
	assert.Equal(t, 2, job.Attempts)
	assert.Contains(t, job.ResumedFrom, "checkpoint of epoch")
}

func TestStoppedJobIsMarkedCancelled(t *testing.T) {
	ctx := context.Background()
	started := make(chan string, 1)
	rec := tracking.RecorderFunc(func(_ context.Context, e tracking.Event) error {
		if e.Kind == tracking.Progress && e.Step == 2 {
			select {
			case started <- e.JobID:
			default:
			}
		}
		return nil
	})
	rt := openTest(t, rec)
	x, err := rt.Executions(ExecutionOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, x.Close(ctx)) }()
	cfg := quickConfig(writeCSV(t, t.TempDir(), "syn.csv", synthetic.TwoClassCSV(300, 6)))
	cfg.Epochs = 500
	off := false
	cfg.EarlyStop.Enabled = &off
	job, err := rt.Pipeline.Submit(ctx, cfg)
	require.NoError(t, err)
	flows := pipeline.Flows{Executions: x}
	require.NoError(t, flows.StartTraining(ctx, job.ID))
	<-started
	// As the API's cancel route does: the record first, then the execution.
	_, err = rt.DB.UpdateJob(ctx, job.ID, store.JobUpdate{Status: store.Cancelled, Error: "cancelled by the user"})
	require.NoError(t, err)
	require.NoError(t, flows.StopTraining(ctx, job.ID))
	d, err := x.Wait(ctx, pipeline.MachineTraining, job.ID)
	require.NoError(t, err)
	assert.Equal(t, pipeline.StatusAborted, d.Status)
	got, err := rt.DB.GetJob(ctx, job.ID)
	require.NoError(t, err)
	assert.Equal(t, store.Cancelled, got.Status)
	assert.Empty(t, modelFiles(t, rt))
}

func TestFinishedJobIsNotRunAgain(t *testing.T) {
	ctx := context.Background()
	rt := openTest(t, nil)
	data := writeCSV(t, t.TempDir(), "syn.csv", synthetic.TwoClassCSV(300, 7))
	res, err := train(ctx, t, rt, quickConfig(data))
	require.NoError(t, err)
	_, err = pipeline.RunTrainingJob(ctx, rt.Pipeline, res.JobID)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "already SUCCEEDED")
	job, err := rt.DB.GetJob(ctx, res.JobID)
	require.NoError(t, err)
	assert.Equal(t, store.Succeeded, job.Status)
	models, err := rt.DB.ListModels(ctx)
	require.NoError(t, err)
	assert.Len(t, models, 1)
}

func TestBadConfigIsRefusedBeforeAJobExists(t *testing.T) {
	ctx := context.Background()
	rt := openTest(t, nil)
	cfg := quickConfig("x.csv")
	cfg.Optimizer = "lbfgs"
	_, err := rt.Pipeline.Submit(ctx, cfg)
	require.ErrorIs(t, err, training.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "optimizer")
	jobs, err := rt.DB.ListJobs(ctx, 0)
	require.NoError(t, err)
	assert.Empty(t, jobs)
}

// TestHTRU2MeetsTheBars trains the default MLP on the bundled data: test
// ROC-AUC >= 0.97 and F1 >= 0.86.
func TestHTRU2MeetsTheBars(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the full default MLP on HTRU2")
	}
	ctx := context.Background()
	rt := openTest(t, nil)
	path, err := events.WriteSample(rt.SamplesDir())
	require.NoError(t, err)
	cfg := training.Defaults()
	cfg.DatasetPath, cfg.TargetColumn, cfg.PositiveClass = path, "class", "1"
	res, err := train(ctx, t, rt, cfg)
	require.NoError(t, err)
	t.Logf("HTRU2 default MLP: auc_roc %.4f auc_pr %.4f f1 %.4f precision %.4f recall %.4f threshold %.3f epochs %d (best %d) train %.1fs",
		res.Metrics.AUCROC, res.Metrics.AUCPR, res.Metrics.F1Score, res.Metrics.Precision, res.Metrics.Recall,
		res.Threshold, res.Training.EpochsRun, res.Training.BestEpoch, res.Training.Seconds)
	assert.GreaterOrEqual(t, res.Metrics.AUCROC, 0.97)
	assert.GreaterOrEqual(t, res.Metrics.F1Score, 0.86)
	assert.Equal(t, 3580, res.Metrics.Support, "20% of 17,898 rows, stratified")
	assert.Empty(t, res.Validation.Errors())
}
