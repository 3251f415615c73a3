package torch

import (
	"bytes"
	"context"
	"encoding/gob"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/training"
)

// The rules this backend shares with the pure-Go engine are checked against
// that engine's own run: same learning rates, same validation metrics from
// the same weights. Early stopping is training.EarlyStopper in both (tested
// in package training).

func TestRateMatchesModelTrainer(t *testing.T) {
	for _, s := range []training.Schedule{
		{Kind: "cosine", WarmupEpochs: 2, MinLR: 1e-5},
		{Kind: "step", StepSize: 2, Gamma: 0.5},
		{Kind: "exponential", Gamma: 0.9, WarmupEpochs: 1},
		{Kind: "constant"},
	} {
		t.Run(s.Kind, func(t *testing.T) {
			cfg := training.Defaults()
			cfg.Epochs, cfg.HiddenLayers, cfg.Schedule = 6, []int{4}, s
			off := false
			cfg.EarlyStop.Enabled = &off
			h := loadHTRU2(t, cfg)
			h.in.Train = subsetRows(h.in.Train, 300)
			res, err := training.ModelTrainer{}.Train(context.Background(), h.in)
			require.NoError(t, err)
			cfg, err = cfg.Normalize()
			require.NoError(t, err)
			for _, st := range res.History {
				assert.InDelta(t, st.LearningRate, training.LearningRate(cfg, st.Epoch), 1e-15, "epoch %d", st.Epoch)
			}
		})
	}
}

func TestMetricsMatchModelTrainer(t *testing.T) {
	cfg := training.Defaults()
	cfg.Epochs, cfg.HiddenLayers, cfg.DropoutRate = 40, []int{4}, 0
	cfg.EarlyStop.Patience, cfg.EarlyStop.Metric, cfg.EarlyStop.MinDelta = 2, "val_auc_pr", 1e-3
	h := loadHTRU2(t, cfg)
	h.in.Train = subsetRows(h.in.Train, 500)
	res, err := training.ModelTrainer{}.Train(context.Background(), h.in)
	require.NoError(t, err)
	require.Equal(t, training.StopEarlyStopping, res.StopReason, "the fixture should stop early")
	require.Less(t, res.BestEpoch, res.EpochsRun)

	// The returned weights are the best epoch's: its validation metrics,
	// recomputed here, are the ones the engine recorded.
	p, err := newPlan(h.in)
	require.NoError(t, err)
	val := h.in.Validation
	logits := res.Net.Logits(val.X, val.Rows, nil)
	loss, pr2, roc, err := validationMetrics(p.loss, logits, res.Spec.Outputs, val.Y, h.in.ClassWeights)
	require.NoError(t, err)
	best := res.History[res.BestEpoch-1]
	assert.InDelta(t, best.ValLoss, loss, 1e-12)
	assert.InDelta(t, best.ValAUCPR, pr2, 1e-12)
	assert.InDelta(t, best.ValAUCROC, roc, 1e-12)
}

func TestCheckpointRefusesOtherJobs(t *testing.T) {
	cfg := training.Defaults()
	cfg.HiddenLayers = []int{4}
	h := loadHTRU2(t, cfg)
	p, err := newPlan(h.in)
	require.NoError(t, err)
	n := p.initialNet.NumParams()
	good := checkpoint{ConfigHash: p.cfgHash, DataHash: p.dataHash, Params: make([]float32, n), BestParams: make([]float32, n),
		Optimizer: optimizerState{Name: p.opt.Name, M: make([]float32, n), V: make([]float32, n)}}
	data, err := encodeCheckpoint(good)
	require.NoError(t, err)
	_, err = decodeCheckpoint(data, p, n)
	require.NoError(t, err)

	for _, tc := range []struct {
		name   string
		change func(*checkpoint)
		raw    []byte
		want   string
	}{
		{"not a checkpoint", nil, []byte("orrery-checkpoint\nsomething"), "not a torch-backend checkpoint"},
		{"other config", func(c *checkpoint) { c.ConfigHash = "x" }, nil, "different configuration"},
		{"other data", func(c *checkpoint) { c.DataHash = "x" }, nil, "different training or validation data"},
		{"other network", func(c *checkpoint) { c.Params = c.Params[1:] }, nil, "parameters"},
		{"history gap", func(c *checkpoint) { c.Progress.Epoch = 2 }, nil, "epochs of history"},
		{"other optimizer", func(c *checkpoint) { c.Optimizer.Name = "sgd" }, nil, "optimizer state"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.raw
			if tc.change != nil {
				c := good
				tc.change(&c)
				raw, err = encodeCheckpoint(c)
				require.NoError(t, err)
			}
			_, err := decodeCheckpoint(raw, p, n)
			require.ErrorIs(t, err, training.ErrCheckpointMismatch)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestCheckpointProgressEncoding: the progress record keeps the flat layout
// checkpoints have always had (the early-stopping fields beside the loop's),
// so a checkpoint written before training.EarlyStopper resumes with its
// state, and a record splits into what it was made of.
func TestCheckpointProgressEncoding(t *testing.T) {
	type flatProgress struct {
		Epoch      int
		Batch      int
		LossSum    float64
		History    []training.EpochStats
		Best       float64
		BestEpoch  int
		Bad        int
		Done       bool
		StopReason string
	}
	type earlierCheckpoint struct {
		Version    int
		ConfigHash string
		DataHash   string
		Progress   flatProgress
		Params     []float32
		BestParams []float32
		Optimizer  optimizerState
	}
	cfg := training.Defaults()
	cfg.HiddenLayers = []int{4}
	h := loadHTRU2(t, cfg)
	p, err := newPlan(h.in)
	require.NoError(t, err)
	n := p.initialNet.NumParams()
	history := []training.EpochStats{{Epoch: 1, ValAUCPR: 0.5}, {Epoch: 2, ValAUCPR: 0.75}, {Epoch: 3, ValAUCPR: 0.625}}
	old := earlierCheckpoint{Version: checkpointVersion, ConfigHash: p.cfgHash, DataHash: p.dataHash,
		Progress: flatProgress{Epoch: 3, Batch: 4, LossSum: 1.5, History: history, Best: 0.75, BestEpoch: 2, Bad: 1},
		Params:   make([]float32, n), BestParams: make([]float32, n),
		Optimizer: optimizerState{Name: p.opt.Name, M: make([]float32, n), V: make([]float32, n)}}
	var b bytes.Buffer
	b.WriteString(checkpointMagic)
	require.NoError(t, gob.NewEncoder(&b).Encode(old))

	c, err := decodeCheckpoint(b.Bytes(), p, n)
	require.NoError(t, err)
	pr, es := c.Progress.split()
	assert.Equal(t, progress{Epoch: 3, Batch: 4, LossSum: 1.5, History: history}, pr)
	want := training.EarlyStopState{Epoch: 3, Best: 0.75, BestEpoch: 2, Bad: 1}
	assert.Equal(t, want, es)
	assert.Equal(t, c.Progress, saveProgress(pr, es))

	stop, err := training.NewEarlyStopper(p.cfg.EarlyStop, p.cfg.Epochs)
	require.NoError(t, err)
	require.NoError(t, stop.Resume(es), "the stored state resumes")
	assert.Equal(t, 2, stop.BestEpoch())
}

func subsetRows(e training.Examples, n int) training.Examples {
	n = min(n, e.Rows)
	return training.Examples{X: e.X[:n*e.Features], Y: e.Y[:n], Rows: n, Features: e.Features}
}
