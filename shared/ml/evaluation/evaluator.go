package evaluation

import (
	"context"
	"fmt"

	"github.com/orrery-ml/orrery/shared/dataset"
)

// Predictor computes class probabilities. nn's models satisfy it.
type Predictor interface {
	// PredictProba returns rows × classes probabilities, row-major, for the
	// row-major raw features x (rows × features, as in dataset.Dataset.X),
	// each row a probability distribution over the model's classes in
	// dataset.Dataset.Classes order. It returns ctx's error once ctx is
	// done.
	PredictProba(ctx context.Context, x []float64, rows int) ([]float64, error)
}

// ModelEvaluator evaluates a Predictor on a labelled data set.
type ModelEvaluator struct {
	// Calculator computes the metrics; its zero value computes the
	// built-in metrics only.
	Calculator MetricsCalculator
}

// Evaluate predicts every row of d with p and scores the predictions against
// d's labels, deciding binary tasks with threshold (0 means
// DefaultThreshold). It returns the metrics and the probabilities (d.Rows ×
// len(d.Classes), row-major). Errors wrap ErrNilPredictor, ErrInvalidDataset
// (nil, empty or inconsistent d), the predictor's error, ctx's error, or one
// of Calculate's.
func (e ModelEvaluator) Evaluate(ctx context.Context, p Predictor, d *dataset.Dataset, threshold float64) (EvaluationMetrics, []float64, error) {
	if p == nil {
		return EvaluationMetrics{}, nil, fmt.Errorf("evaluate: %w", ErrNilPredictor)
	}
	if err := checkDataset(d); err != nil {
		return EvaluationMetrics{}, nil, fmt.Errorf("evaluate: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return EvaluationMetrics{}, nil, fmt.Errorf("evaluate %q on %d rows: %w", d.Target, d.Rows, err)
	}
	proba, err := p.PredictProba(ctx, d.X, d.Rows)
	if err != nil {
		return EvaluationMetrics{}, nil, fmt.Errorf("evaluate %q on %d rows: predict: %w", d.Target, d.Rows, err)
	}
	m, err := e.Calculator.Calculate(Input{
		Y:         d.Y,
		Proba:     proba,
		Classes:   d.Classes,
		Positive:  d.Positive,
		Threshold: threshold,
	})
	if err != nil {
		return EvaluationMetrics{}, nil, fmt.Errorf("evaluate %q on %d rows: %w", d.Target, d.Rows, err)
	}
	return m, proba, nil
}

// checkDataset reports why d cannot be evaluated.
func checkDataset(d *dataset.Dataset) error {
	switch {
	case d == nil:
		return fmt.Errorf("nil data set: %w", ErrInvalidDataset)
	case d.Rows <= 0:
		return fmt.Errorf("data set %s has %d rows: %w", d.Target, d.Rows, ErrInvalidDataset)
	case len(d.Y) != d.Rows:
		return fmt.Errorf("data set %s has %d labels for %d rows: %w", d.Target, len(d.Y), d.Rows, ErrInvalidDataset)
	case len(d.X) != d.Rows*len(d.FeatureNames):
		return fmt.Errorf("data set %s has %d values for %d rows × %d features: %w",
			d.Target, len(d.X), d.Rows, len(d.FeatureNames), ErrInvalidDataset)
	}
	return nil
}
