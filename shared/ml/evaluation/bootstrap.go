package evaluation

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// Interval is a confidence interval of one metric.
type Interval struct {
	// Estimate is the metric on the full data.
	Estimate float64 `json:"estimate"`
	Lower    float64 `json:"lower"`
	Upper    float64 `json:"upper"`
	// Confidence is the nominal coverage, e.g. 0.95.
	Confidence float64 `json:"confidence"`
	// Resamples is the number of bootstrap replicates where the metric
	// was defined (an AUC needs both classes in the resample).
	Resamples int `json:"resamples"`
}

// Bootstrap estimates confidence intervals by the stratified bootstrap:
// each replicate draws, within every true class, as many rows as the class
// has, with replacement, so class balance is that of the data (Efron &
// Tibshirani 1993, "An Introduction to the Bootstrap", ch. 13, percentile
// intervals). Its zero value uses the defaults named on each field.
type Bootstrap struct {
	// Resamples is the number of replicates (default 1000).
	Resamples int
	// Confidence is the interval's coverage (default 0.95).
	Confidence float64
	// Seed seeds the PCG generator; replicate r uses stream (Seed, r), so
	// the result does not depend on Workers.
	Seed uint64
	// Workers is the number of goroutines (default GOMAXPROCS).
	Workers int
}

func (b Bootstrap) resamples() int {
	if b.Resamples <= 0 {
		return 1000
	}
	return b.Resamples
}

func (b Bootstrap) confidence() float64 {
	if !(b.Confidence > 0 && b.Confidence < 1) {
		return 0.95
	}
	return b.Confidence
}

func (b Bootstrap) workers() int {
	if b.Workers <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return b.Workers
}

// HeadlineMetrics are the metrics ConfidenceIntervals reports (those a task
// defines): the EvaluationMetrics fields by JSON name, then CustomMetrics
// entries.
var HeadlineMetrics = []string{
	"accuracy", "precision", "recall", "f1_score", "auc_roc", "auc_pr",
	MetricBalancedAccuracy, MetricMCC, MetricCohenKappa, MetricGMean, MetricLogLoss,
	MetricBrierScore, MetricSpecificity, MetricCompleteness, MetricPurity,
	MetricFPRAt95, MetricFPRAt99, MetricMDRAt1PctFPR, MetricROCAUCOvRWeighted, MetricTop2Accuracy,
}

// MetricValue returns a metric of m by name: an EvaluationMetrics field by
// its JSON name, else a CustomMetrics entry. ok is false for an unknown name.
func MetricValue(m EvaluationMetrics, name string) (float64, bool) {
	switch name {
	case "accuracy":
		return m.Accuracy, true
	case "precision":
		return m.Precision, true
	case "recall":
		return m.Recall, true
	case "f1_score", "f1":
		return m.F1Score, true
	case "auc_roc", "roc_auc":
		return m.AUCROC, true
	case "auc_pr", "average_precision":
		return m.AUCPR, true
	}
	v, ok := m.CustomMetrics[name]
	return v, ok
}

// ConfidenceIntervals computes in's metrics and a stratified-bootstrap
// percentile interval for each of HeadlineMetrics that the task defines.
// Errors are Calculate's, or ctx's.
func (b Bootstrap) ConfidenceIntervals(ctx context.Context, c MetricsCalculator, in Input) (map[string]Interval, error) {
	if err := c.validate(in); err != nil {
		return nil, fmt.Errorf("confidence intervals: %w", err)
	}
	in = withThreshold0(in)
	base := MetricsCalculator{}.calculate(in)
	var names []string
	for _, n := range HeadlineMetrics {
		if _, ok := MetricValue(base, n); ok {
			names = append(names, n)
		}
	}
	reps, err := b.replicate(ctx, in.Y, len(in.Classes), func(idx []int) []float64 {
		m := MetricsCalculator{}.calculate(subsetInput(in, idx))
		out := make([]float64, len(names))
		for j, n := range names {
			out[j], _ = MetricValue(m, n)
		}
		return out
	})
	if err != nil {
		return nil, fmt.Errorf("confidence intervals: %w", err)
	}
	out := make(map[string]Interval, len(names))
	for j, n := range names {
		col := make([]float64, len(reps))
		for r := range reps {
			col[r] = reps[r][j]
		}
		est, _ := MetricValue(base, n)
		out[n] = b.interval(est, col)
	}
	return out, nil
}

// interval turns replicate values into a percentile interval.
func (b Bootstrap) interval(estimate float64, reps []float64) Interval {
	alpha := 1 - b.confidence()
	iv := Interval{Estimate: estimate, Confidence: b.confidence(), Lower: math.NaN(), Upper: math.NaN()}
	for _, v := range reps {
		if !math.IsNaN(v) {
			iv.Resamples++
		}
	}
	if iv.Resamples > 0 {
		iv.Lower = Percentile(reps, 100*alpha/2)
		iv.Upper = Percentile(reps, 100*(1-alpha/2))
	}
	return iv
}

// replicate runs stat on b.resamples() stratified resamples of the rows of
// y (class indices below classes) in parallel and returns the results in
// replicate order.
func (b Bootstrap) replicate(ctx context.Context, y []int, classes int, stat func(idx []int) []float64) ([][]float64, error) {
	byClass := make([][]int, classes)
	for i, c := range y {
		byClass[c] = append(byClass[c], i)
	}
	n := b.resamples()
	out := make([][]float64, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(b.workers(), n) {
		wg.Go(func() {
			idx := make([]int, 0, len(y))
			for r := range next {
				rng := rand.New(rand.NewPCG(b.Seed, uint64(r)))
				idx = idx[:0]
				for _, rows := range byClass {
					for range rows {
						idx = append(idx, rows[rng.IntN(len(rows))])
					}
				}
				out[r] = stat(idx)
			}
		})
	}
	var err error
feed:
	for r := range n {
		select {
		case next <- r:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	return out, err
}
