package evaluation

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/orrery-ml/orrery/shared/fault"
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
	// Progress, when set, is called after each replicate with the number
	// done and the total, from the workers' goroutines (it must be safe
	// for concurrent use, and quick).
	Progress func(done, total int)
}

// Count is the number of replicates b draws.
func (b Bootstrap) Count() int { return b.resamples() }

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
// Errors are Calculate's, or ctx's. It is Replicates of every replicate
// combined by Intervals.
func (b Bootstrap) ConfidenceIntervals(ctx context.Context, c MetricsCalculator, in Input) (map[string]Interval, error) {
	reps, err := b.Replicates(ctx, c, in, 0, b.resamples())
	if err != nil {
		return nil, err
	}
	return b.Intervals(c, in, []Replicates{reps})
}

// Replicates are the values of the bootstrap replicates From to
// From+len(Values)-1 of one evaluation: Values[i][j] is Metrics[j] on
// replicate From+i, NaN where the metric is undefined on that resample (an
// AUC of a one-class resample). In JSON a NaN is null and an infinity the
// string "+Inf" or "-Inf"; every finite value round-trips exactly.
type Replicates struct {
	From    int
	Metrics []string
	Values  [][]float64
}

// ErrReplicates is returned by Intervals for replicate ranges that do not
// cover the bootstrap's replicates exactly once, in order, with the metrics
// of the input.
var ErrReplicates = fault.New(fault.Invalid, "evaluation: bootstrap replicates do not fit together")

// headlineNames are the HeadlineMetrics in's task defines, and in's metrics.
func headlineNames(in Input) ([]string, EvaluationMetrics) {
	base := MetricsCalculator{}.calculate(in)
	var names []string
	for _, n := range HeadlineMetrics {
		if _, ok := MetricValue(base, n); ok {
			names = append(names, n)
		}
	}
	return names, base
}

// Replicates computes the replicates from to to-1 (0 <= from < to <=
// Count()) of in's headline metrics, the ones ConfidenceIntervals reports.
// Replicate r draws from its own stream (Seed, r), so it is the same
// whichever range it is computed in: ranges computed apart — the fold jobs
// of a heavy evaluation, each on its own machine — combine by Intervals
// into exactly ConfidenceIntervals' result. Errors are Calculate's, ctx's,
// or ErrInvalidRequest for a range outside [0, Count()).
func (b Bootstrap) Replicates(ctx context.Context, c MetricsCalculator, in Input, from, to int) (Replicates, error) {
	if from < 0 || to <= from || to > b.resamples() {
		return Replicates{}, fmt.Errorf("%w: bootstrap replicates [%d, %d) are not within [0, %d)", ErrInvalidRequest, from, to, b.resamples())
	}
	if err := c.validate(in); err != nil {
		return Replicates{}, fmt.Errorf("confidence intervals: %w", err)
	}
	in = withThreshold0(in)
	names, _ := headlineNames(in)
	values, err := b.replicate(ctx, in.Y, len(in.Classes), from, to, func(idx []int) []float64 {
		m := MetricsCalculator{}.calculate(subsetInput(in, idx))
		out := make([]float64, len(names))
		for j, n := range names {
			out[j], _ = MetricValue(m, n)
		}
		return out
	})
	if err != nil {
		return Replicates{}, fmt.Errorf("confidence intervals: %w", err)
	}
	return Replicates{From: from, Metrics: names, Values: values}, nil
}

// Intervals combines replicate ranges (Replicates) into the percentile
// interval of each headline metric of in, around its estimate on in. The
// ranges, in order, must cover the replicates 0 to Count()-1 exactly once
// and name the metrics in's task defines; else ErrReplicates says where
// they do not.
func (b Bootstrap) Intervals(c MetricsCalculator, in Input, parts []Replicates) (map[string]Interval, error) {
	if err := c.validate(in); err != nil {
		return nil, fmt.Errorf("confidence intervals: %w", err)
	}
	in = withThreshold0(in)
	names, base := headlineNames(in)
	reps, err := joinReplicates(parts, names, b.resamples())
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

// joinReplicates joins replicate ranges that, in order, cover the
// replicates 0 to total-1 exactly once, each value of each replicate a
// metric of names; else ErrReplicates says where they do not.
func joinReplicates(parts []Replicates, names []string, total int) ([][]float64, error) {
	reps := make([][]float64, 0, total)
	for i, p := range parts {
		if p.From != len(reps) {
			return nil, fmt.Errorf("%w: range %d starts at replicate %d, want %d", ErrReplicates, i, p.From, len(reps))
		}
		if !slices.Equal(p.Metrics, names) {
			return nil, fmt.Errorf("%w: range %d has the metrics %q, the data %q", ErrReplicates, i, p.Metrics, names)
		}
		for r, v := range p.Values {
			if len(v) != len(names) {
				return nil, fmt.Errorf("%w: replicate %d has %d values for %d metrics", ErrReplicates, p.From+r, len(v), len(names))
			}
		}
		reps = append(reps, p.Values...)
	}
	if len(reps) != total {
		return nil, fmt.Errorf("%w: %d replicates, want %d", ErrReplicates, len(reps), total)
	}
	return reps, nil
}

// replicatesJSON is the JSON form of Replicates.
type replicatesJSON struct {
	From    int                 `json:"from"`
	Metrics []string            `json:"metrics"`
	Values  [][]json.RawMessage `json:"values"`
}

// MarshalJSON encodes r with NaN as null and infinities as "+Inf"/"-Inf".
func (r Replicates) MarshalJSON() ([]byte, error) {
	out := replicatesJSON{From: r.From, Metrics: r.Metrics, Values: make([][]json.RawMessage, len(r.Values))}
	for i, row := range r.Values {
		out.Values[i] = make([]json.RawMessage, len(row))
		for j, v := range row {
			switch {
			case math.IsNaN(v):
				out.Values[i][j] = json.RawMessage("null")
			case math.IsInf(v, 1):
				out.Values[i][j] = json.RawMessage(`"+Inf"`)
			case math.IsInf(v, -1):
				out.Values[i][j] = json.RawMessage(`"-Inf"`)
			default:
				b, err := json.Marshal(v)
				if err != nil {
					return nil, err
				}
				out.Values[i][j] = b
			}
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (r *Replicates) UnmarshalJSON(b []byte) error {
	var in replicatesJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	r.From, r.Metrics, r.Values = in.From, in.Metrics, make([][]float64, len(in.Values))
	for i, row := range in.Values {
		r.Values[i] = make([]float64, len(row))
		for j, raw := range row {
			switch string(raw) {
			case "null":
				r.Values[i][j] = math.NaN()
			case `"+Inf"`:
				r.Values[i][j] = math.Inf(1)
			case `"-Inf"`:
				r.Values[i][j] = math.Inf(-1)
			default:
				if err := json.Unmarshal(raw, &r.Values[i][j]); err != nil {
					return fmt.Errorf("replicate %d, metric %d: %w", r.From+i, j, err)
				}
			}
		}
	}
	return nil
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

// replicate runs stat on the stratified resamples from to to-1 of the rows
// of y (class indices below classes) in parallel and returns the results in
// replicate order.
func (b Bootstrap) replicate(ctx context.Context, y []int, classes int, from, to int, stat func(idx []int) []float64) ([][]float64, error) {
	byClass := make([][]int, classes)
	for i, c := range y {
		byClass[c] = append(byClass[c], i)
	}
	n := to - from
	out := make([][]float64, n)
	next := make(chan int)
	var wg sync.WaitGroup
	var done atomic.Int64
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
				out[r-from] = stat(idx)
				if b.Progress != nil {
					b.Progress(int(done.Add(1)), n)
				}
			}
		})
	}
	var err error
feed:
	for r := from; r < to; r++ {
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
