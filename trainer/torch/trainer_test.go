//go:build torch

package torch

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/training"
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
		{"logistic regression sgd", func(c *training.TrainingConfig) {
			c.ModelType, c.HiddenLayers, c.Optimizer, c.LearningRate = training.ModelLogisticRegression, nil, "sgd", 0.05
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
