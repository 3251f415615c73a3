//go:build torch

package torch

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/sugarme/gotch"

	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// TestParityWithGonum is the parity bar: the same data, seed and
// hyperparameters give HTRU2 test ROC AUCs within 0.005 of each other on the
// two backends, both at least 0.97.
func TestParityWithGonum(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two HTRU2 models")
	}
	for _, tc := range []struct {
		name string
		cfg  func(*training.TrainingConfig)
	}{
		{"mlp adamw (defaults)", func(*training.TrainingConfig) {}},
		{"logistic regression momentum", func(c *training.TrainingConfig) {
			c.ModelType, c.HiddenLayers, c.Optimizer, c.LearningRate, c.ClassWeights = training.ModelLogisticRegression, nil, "momentum", 0.05, training.ClassWeights{Mode: "none"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := training.Defaults()
			cfg.Epochs = 30
			tc.cfg(&cfg)
			h := loadHTRU2(t, cfg)
			ctx := context.Background()
			gonum, err := training.ModelTrainer{}.Train(ctx, h.in)
			require.NoError(t, err)
			libtorch, err := Trainer{}.Train(ctx, h.in)
			require.NoError(t, err)
			aucGonum, aucTorch := h.testAUC(gonum.Net), h.testAUC(libtorch.Net)
			t.Logf("test ROC AUC: gonum %.5f (best epoch %d), torch %.5f (best epoch %d)", aucGonum, gonum.BestEpoch, aucTorch, libtorch.BestEpoch)
			assert.GreaterOrEqual(t, aucGonum, 0.97)
			assert.GreaterOrEqual(t, aucTorch, 0.97)
			assert.InDelta(t, aucGonum, aucTorch, 0.005)
		})
	}
}

// rssBytes returns the resident set size of this process.
func rssBytes(t *testing.T) float64 {
	b, err := os.ReadFile("/proc/self/statm")
	require.NoError(t, err)
	fields := strings.Fields(string(b))
	pages, err := strconv.ParseFloat(fields[1], 64)
	require.NoError(t, err)
	return pages * float64(os.Getpagesize())
}

// TestMemoryFlatOverEpochs is the lifetime bar: the process's memory
// after epoch 50 is within 5 % of its memory after epoch 1.
func TestMemoryFlatOverEpochs(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 50 epochs")
	}
	cfg := training.Defaults()
	cfg.Epochs, cfg.HiddenLayers = 50, []int{32, 16}
	off := false
	cfg.EarlyStop.Enabled = &off
	h := loadHTRU2(t, cfg)
	h.in.Train = subsetRows(h.in.Train, 4000)
	rss := map[int]float64{}
	rec := tracking.RecorderFunc(func(_ context.Context, e tracking.Event) error {
		if e.Kind == tracking.Progress {
			debug.FreeOSMemory() // count live memory, not garbage the Go heap has not returned yet
			rss[e.Step] = rssBytes(t)
		}
		return nil
	})
	_, err := Trainer{Recorder: rec, Checkpoints: &training.MemoryCheckpointer{}}.Train(context.Background(), h.in)
	require.NoError(t, err)
	growth := rss[50]/rss[1] - 1
	t.Logf("RSS after epoch 1: %.1f MiB, after epoch 50: %.1f MiB (%+.2f %%)", rss[1]/(1<<20), rss[50]/(1<<20), 100*growth)
	assert.Less(t, math.Abs(growth), 0.05)
}

// cancelAfter is a context whose Err turns to context.Canceled after n calls
// — the trainer checks it once per mini-batch, so this interrupts training
// at a known mini-batch, as a SIGTERM would.
type cancelAfter struct {
	context.Context
	n int
}

func (c *cancelAfter) Err() error {
	if c.n--; c.n < 0 {
		return context.Canceled
	}
	return nil
}

// TestResumeInsideAnEpoch interrupts training in the middle of an epoch and
// checks that the next call resumes from the checkpoint written on
// cancellation and finishes the run.
func TestResumeInsideAnEpoch(t *testing.T) {
	cfg := training.Defaults()
	cfg.Epochs, cfg.HiddenLayers, cfg.BatchSize = 4, []int{16}, 256
	off := false
	cfg.EarlyStop.Enabled = &off
	h := loadHTRU2(t, cfg)
	h.in.Train = subsetRows(h.in.Train, 2560) // 10 mini-batches an epoch
	ckpt := &training.MemoryCheckpointer{}
	tr := Trainer{Checkpoints: ckpt}

	_, err := tr.Train(&cancelAfter{Context: context.Background(), n: 25}, h.in) // 2 epochs and 5 mini-batches
	require.ErrorIs(t, err, context.Canceled)
	data, found, err := ckpt.LoadCheckpoint(context.Background(), h.in.JobID)
	require.NoError(t, err)
	require.True(t, found)
	p, err := newPlan(h.in)
	require.NoError(t, err)
	c, err := decodeCheckpoint(data, p, p.initialNet.NumParams())
	require.NoError(t, err)
	assert.Equal(t, 2, c.Progress.Epoch)
	assert.Equal(t, 5, c.Progress.Batch)
	assert.Positive(t, c.Progress.LossSum)

	res, err := tr.Train(context.Background(), h.in)
	require.NoError(t, err)
	assert.Equal(t, 2, res.ResumedFrom)
	assert.Equal(t, 4, res.EpochsRun)
	require.Len(t, res.History, 4)
	assert.Greater(t, h.testAUC(res.Net), 0.9)

	// A checkpoint of another configuration is refused, not resumed.
	other := h.in
	other.Config.LearningRate *= 2
	_, err = tr.Train(context.Background(), other)
	assert.ErrorIs(t, err, training.ErrCheckpointMismatch)
}

// TestResumeMidPatience interrupts an early-stopping run after its best
// epoch, while it waits out its patience, and checks that the resumed run
// makes the uninterrupted run's early-stopping decisions: the same epochs,
// the same best epoch and stop reason, the best epoch's weights.
func TestResumeMidPatience(t *testing.T) {
	cfg := training.Defaults()
	cfg.Epochs, cfg.HiddenLayers, cfg.DropoutRate = 40, []int{4}, 0
	cfg.EarlyStop.Patience, cfg.EarlyStop.Metric, cfg.EarlyStop.MinDelta = 3, "val_auc_pr", 1e-3
	h := loadHTRU2(t, cfg)
	h.in.Train = subsetRows(h.in.Train, 500)
	want, err := Trainer{}.Train(context.Background(), h.in)
	require.NoError(t, err)
	require.Equal(t, training.StopEarlyStopping, want.StopReason, "the fixture should stop early")
	stop := want.BestEpoch + 1
	require.Less(t, stop, want.EpochsRun, "the interruption falls inside the patience")

	ckpt := &training.MemoryCheckpointer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopper := tracking.RecorderFunc(func(_ context.Context, e tracking.Event) error {
		if e.Kind == tracking.Progress && e.Step == stop {
			cancel()
		}
		return nil
	})
	_, err = Trainer{Recorder: stopper, Checkpoints: ckpt}.Train(ctx, h.in)
	require.ErrorIs(t, err, context.Canceled)

	got, err := Trainer{Checkpoints: ckpt}.Train(context.Background(), h.in)
	require.NoError(t, err)
	assert.Equal(t, stop, got.ResumedFrom)
	assert.Equal(t, want.EpochsRun, got.EpochsRun)
	assert.Equal(t, want.BestEpoch, got.BestEpoch)
	assert.Equal(t, want.StopReason, got.StopReason)
	require.Len(t, got.History, want.EpochsRun)
	// The weights are the best epoch's, as in the uninterrupted run (up to
	// float32 reduction order; the last epoch's are far further away).
	assert.InDeltaSlice(t, want.Net.Params(), got.Net.Params(), 1e-4)
	p, err := newPlan(h.in)
	require.NoError(t, err)
	val := h.in.Validation
	loss, _, _, err := validationMetrics(p.loss, got.Net.Logits(val.X, val.Rows, nil), got.Spec.Outputs, val.Y, h.in.ClassWeights)
	require.NoError(t, err)
	assert.InDelta(t, got.History[got.BestEpoch-1].ValLoss, loss, 1e-5, "the best epoch's validation loss")
}

// TestModelFilesServedByPredict saves a torch-trained network in the shared
// model format and checks the shared predict code gives the probabilities
// libtorch computed.
func TestModelFilesServedByPredict(t *testing.T) {
	cfg := training.Defaults()
	cfg.Epochs, cfg.HiddenLayers, cfg.Activation = 2, []int{8, 4}, "gelu"
	h := loadHTRU2(t, cfg)
	res, err := Trainer{}.Train(context.Background(), h.in)
	require.NoError(t, err)

	dir := filepath.Join(t.TempDir(), "model")
	model := &nn.Model{Manifest: nn.Manifest{ModelID: "mdl-torch", Name: "htru2", ModelType: cfg.ModelType, Backend: Backend,
		Architecture: res.Spec, Features: []string{"a", "b", "c", "d", "e", "f", "g", "h"}, Target: "class",
		Classes: []string{"0", "1"}, PositiveClass: "1", Threshold: 0.5,
		Preprocessing: nn.Preprocessing{Impute: make([]float64, 8), Mean: make([]float64, 8), Scale: ones(8)}}, Net: res.Net}
	require.NoError(t, nn.SaveDir(dir, model))
	loaded, err := nn.LoadDir(dir)
	require.NoError(t, err)
	assert.Equal(t, Backend, loaded.Manifest.Backend)

	// libtorch's own forward pass on the validation split.
	p, err := newPlan(h.in)
	require.NoError(t, err)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	e, err := newEngine(p, h.in, gotch.CPU)
	require.NoError(t, err)
	defer e.close()
	params := make([]float32, 0, res.Net.NumParams())
	for _, v := range res.Net.Params() {
		params = append(params, float32(v))
	}
	require.NoError(t, e.restore(checkpoint{Params: params, BestParams: params}))
	logits, err := e.validationLogits()
	require.NoError(t, err)

	val := h.in.Validation
	proba, err := loaded.PredictProba(context.Background(), val.X, val.Rows)
	require.NoError(t, err)
	for i, z := range logits {
		want := 1 / (1 + math.Exp(-z))
		require.InDelta(t, want, proba[2*i+1], 1e-5, "row %d", i)
	}
}

func ones(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

func TestTrainErrors(t *testing.T) {
	cfg := training.Defaults()
	cfg.Epochs = 1
	h := loadHTRU2(t, cfg)
	for _, tc := range []struct {
		name    string
		trainer Trainer
		in      func(training.TrainInput) training.TrainInput
		want    error
	}{
		{"cuda without a GPU", Trainer{Device: DeviceCUDA}, nil, ErrNoCUDA},
		{"unknown device", Trainer{Device: "tpu"}, nil, ErrDevice},
		{"NaN feature", Trainer{}, func(in training.TrainInput) training.TrainInput {
			in.Train.X = append([]float64(nil), in.Train.X...)
			in.Train.X[3] = math.NaN()
			return in
		}, training.ErrInvalidExamples},
		{"bad optimizer", Trainer{}, func(in training.TrainInput) training.TrainInput {
			in.Config.Optimizer = "lbfgs"
			return in
		}, training.ErrInvalidConfig},
		{"checkpoints without a job id", Trainer{Checkpoints: &training.MemoryCheckpointer{}}, func(in training.TrainInput) training.TrainInput {
			in.JobID = ""
			return in
		}, training.ErrInvalidExamples},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := h.in
			if tc.in != nil {
				in = tc.in(in)
			}
			_, err := tc.trainer.Train(context.Background(), in)
			assert.ErrorIs(t, err, tc.want)
		})
	}
}
