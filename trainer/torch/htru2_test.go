package torch

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
)

// htru2 is the bundled HTRU2 sample split and preprocessed as the training
// pipeline does, with the pipeline's balanced class weights.
type htru2 struct {
	in   training.TrainInput
	test training.Examples
}

func loadHTRU2(t testing.TB, cfg training.TrainingConfig) htru2 {
	t.Helper()
	cfg, err := cfg.Normalize()
	require.NoError(t, err)
	table, err := dataset.Read(context.Background(), "../../events/data/htru2.csv")
	require.NoError(t, err)
	data, err := table.Select(dataset.SelectOptions{Target: "class", Positive: "1"})
	require.NoError(t, err)
	split, err := dataset.StratifiedSplit(data, cfg.ValidationSplit, cfg.TestSplit, cfg.Seed)
	require.NoError(t, err)
	var prep training.DataPreprocessor
	fitted, err := prep.Fit(split.Train)
	require.NoError(t, err)
	examples := func(d *dataset.Dataset) training.Examples {
		x, err := prep.Transform(fitted, d)
		require.NoError(t, err)
		return training.Examples{X: x, Y: d.Y, Rows: d.Rows, Features: len(d.FeatureNames)}
	}
	counts := split.Train.ClassCounts()
	weights := make([]float64, len(counts))
	for c, n := range counts {
		weights[c] = float64(split.Train.Rows) / (float64(len(counts)) * float64(n))
	}
	return htru2{
		in: training.TrainInput{JobID: "job-htru2", Config: cfg, Classes: len(data.Classes), ClassWeights: weights,
			Train: examples(split.Train), Validation: examples(split.Validation)},
		test: examples(split.Test),
	}
}

// testAUC returns the ROC AUC of net on the test split.
func (h htru2) testAUC(net *nn.Network) float64 {
	proba := net.PredictProba(h.test.X, h.test.Rows, nil)
	score := make([]float64, h.test.Rows)
	for i := range score {
		score[i] = proba[2*i+1]
	}
	return evaluation.BinaryAUCROC(h.test.Y, score)
}
