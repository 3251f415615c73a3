//go:build torch

package torch

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/training"
)

// benchConfig is the MLP of `make bench-torch` (the defaults: 8-64-32-1,
// ReLU, dropout 0.1, AdamW, batch 128), trained for ORRERY_BENCH_EPOCHS
// epochs (default 5) without early stopping; scripts/bench_torch.py trains
// the same network in PyTorch.
func benchConfig(b *testing.B) training.TrainingConfig {
	cfg := training.Defaults()
	cfg.Epochs = 5
	if s := os.Getenv("ORRERY_BENCH_EPOCHS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(b, err, "ORRERY_BENCH_EPOCHS")
		cfg.Epochs = n
	}
	if s := os.Getenv("ORRERY_BENCH_BATCH"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(b, err, "ORRERY_BENCH_BATCH")
		cfg.BatchSize = n
	}
	off := false
	cfg.EarlyStop.Enabled = &off
	return cfg
}

// BenchmarkTrainTorch reports the libtorch backend's training throughput on
// HTRU2 (samples/s, per-epoch validation included) on ORRERY_DEVICE (cpu
// or cuda); the CPU thread count is OMP_NUM_THREADS.
func BenchmarkTrainTorch(b *testing.B) {
	cfg := benchConfig(b)
	h := loadHTRU2(b, cfg)
	trainer := Trainer{Device: os.Getenv("ORRERY_DEVICE")}
	b.ResetTimer()
	for range b.N {
		_, err := trainer.Train(context.Background(), h.in)
		require.NoError(b, err)
	}
	b.ReportMetric(float64(cfg.Epochs*h.in.Train.Rows*b.N)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkTrainGonum is the same run on the pure-Go engine, for context.
func BenchmarkTrainGonum(b *testing.B) {
	cfg := benchConfig(b)
	h := loadHTRU2(b, cfg)
	b.ResetTimer()
	for range b.N {
		_, err := training.ModelTrainer{}.Train(context.Background(), h.in)
		require.NoError(b, err)
	}
	b.ReportMetric(float64(cfg.Epochs*h.in.Train.Rows*b.N)/b.Elapsed().Seconds(), "samples/s")
}
