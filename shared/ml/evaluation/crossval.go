package evaluation

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/fault"
)

// ErrSplit means a splitter cannot cut the data as asked: too few folds,
// more folds than rows, groups or class members, or missing groups.
var ErrSplit = fault.New(fault.Invalid, "evaluation: invalid cross-validation split")

// Fold is one train/test partition of row indices (0-based, increasing).
type Fold struct {
	// Repeat numbers the repetition (0 unless the splitter repeats).
	Repeat int   `json:"repeat"`
	Index  int   `json:"fold"`
	Train  []int `json:"-"`
	Test   []int `json:"-"`
}

// Splitter cuts rows into cross-validation folds. y holds the class of each
// row; groups (nil unless the splitter needs it) a group label per row.
type Splitter interface {
	// Split returns the folds or an error wrapping ErrSplit.
	Split(y []int, groups []string) ([]Fold, error)
	// Name describes the splitter, e.g. "stratified_k_fold(k=5)".
	Name() string
}

// foldsFromTest builds folds whose test sets are tests and whose train sets
// are every other row.
func foldsFromTest(n, repeat int, tests [][]int) []Fold {
	folds := make([]Fold, len(tests))
	for f, test := range tests {
		slices.Sort(test)
		in := make([]bool, n)
		for _, i := range test {
			in[i] = true
		}
		train := make([]int, 0, n-len(test))
		for i := range n {
			if !in[i] {
				train = append(train, i)
			}
		}
		folds[f] = Fold{Repeat: repeat, Index: f, Train: train, Test: test}
	}
	return folds
}

// KFold is scikit-learn's KFold: K consecutive folds, the first n mod K of
// size ⌊n/K⌋+1, after an optional seeded shuffle.
type KFold struct {
	K       int
	Shuffle bool
	Seed    uint64
}

// Name implements Splitter.
func (s KFold) Name() string { return fmt.Sprintf("k_fold(k=%d)", s.K) }

// Split implements Splitter.
func (s KFold) Split(y []int, _ []string) ([]Fold, error) {
	n := len(y)
	if s.K < 2 || s.K > n {
		return nil, fmt.Errorf("k-fold with k=%d on %d rows: need 2 <= k <= rows: %w", s.K, n, ErrSplit)
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if s.Shuffle {
		rng := rand.New(rand.NewPCG(s.Seed, 0x6b666f6c64))
		rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	tests := make([][]int, s.K)
	start := 0
	for f := range s.K {
		size := n / s.K
		if f < n%s.K {
			size++
		}
		tests[f] = slices.Clone(order[start : start+size])
		start += size
	}
	return foldsFromTest(n, 0, tests), nil
}

// StratifiedKFold deals each class's rows, shuffled with the seed, round
// robin over K folds, so every fold keeps the class balance to within one
// row per class (the fold sizes differ by at most the number of classes).
type StratifiedKFold struct {
	K    int
	Seed uint64
}

// Name implements Splitter.
func (s StratifiedKFold) Name() string { return fmt.Sprintf("stratified_k_fold(k=%d)", s.K) }

// Split implements Splitter. Every class needs at least K rows.
func (s StratifiedKFold) Split(y []int, _ []string) ([]Fold, error) {
	return s.split(y, 0, s.Seed)
}

func (s StratifiedKFold) split(y []int, repeat int, seed uint64) ([]Fold, error) {
	if s.K < 2 {
		return nil, fmt.Errorf("stratified k-fold with k=%d: need k >= 2: %w", s.K, ErrSplit)
	}
	byClass := map[int][]int{}
	var classes []int
	for i, c := range y {
		if _, ok := byClass[c]; !ok {
			classes = append(classes, c)
		}
		byClass[c] = append(byClass[c], i)
	}
	slices.Sort(classes)
	rng := rand.New(rand.NewPCG(seed, 0x7374726174))
	tests := make([][]int, s.K)
	next := 0 // fold that receives the next row, carried across classes
	for _, c := range classes {
		rows := byClass[c]
		if len(rows) < s.K {
			return nil, fmt.Errorf("stratified k-fold with k=%d: class %d has only %d rows: %w", s.K, c, len(rows), ErrSplit)
		}
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		for _, r := range rows {
			tests[next] = append(tests[next], r)
			next = (next + 1) % s.K
		}
	}
	return foldsFromTest(len(y), repeat, tests), nil
}

// RepeatedStratifiedKFold repeats StratifiedKFold Repeats times with
// different shuffles (seeds Seed, Seed+1, ...).
type RepeatedStratifiedKFold struct {
	K, Repeats int
	Seed       uint64
}

// Name implements Splitter.
func (s RepeatedStratifiedKFold) Name() string {
	return fmt.Sprintf("repeated_stratified_k_fold(k=%d, repeats=%d)", s.K, s.Repeats)
}

// Split implements Splitter.
func (s RepeatedStratifiedKFold) Split(y []int, _ []string) ([]Fold, error) {
	if s.Repeats < 1 {
		return nil, fmt.Errorf("repeated stratified k-fold with %d repeats: %w", s.Repeats, ErrSplit)
	}
	var out []Fold
	for r := range s.Repeats {
		f, err := StratifiedKFold{K: s.K}.split(y, r, s.Seed+uint64(r))
		if err != nil {
			return nil, err
		}
		out = append(out, f...)
	}
	return out, nil
}

// GroupKFold keeps every group in one fold, so rows of one source (one
// pointing, one night, one sky field) never straddle train and test. It is
// scikit-learn's GroupKFold (shuffle=False): groups in decreasing size
// (equal sizes in reverse order of their sorted labels, as the reversed
// stable argsort gives) each go to the fold with the fewest rows so far
// (the first such fold).
type GroupKFold struct {
	K int
}

// Name implements Splitter.
func (s GroupKFold) Name() string { return fmt.Sprintf("group_k_fold(k=%d)", s.K) }

// Split implements Splitter.
func (s GroupKFold) Split(y []int, groups []string) ([]Fold, error) {
	if len(groups) != len(y) {
		return nil, fmt.Errorf("group k-fold: %d group labels for %d rows: %w", len(groups), len(y), ErrSplit)
	}
	size := map[string]int{}
	for _, g := range groups {
		size[g]++
	}
	labels := make([]string, 0, len(size))
	for g := range size {
		labels = append(labels, g)
	}
	slices.Sort(labels) // numpy.unique order
	if s.K < 2 || s.K > len(labels) {
		return nil, fmt.Errorf("group k-fold with k=%d and %d groups: need 2 <= k <= groups: %w", s.K, len(labels), ErrSplit)
	}
	// argsort(sizes, kind="stable")[::-1]: ascending stable, then reversed.
	order := make([]int, len(labels))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return size[labels[a]] - size[labels[b]] })
	slices.Reverse(order)
	load := make([]int, s.K)
	foldOf := map[string]int{}
	for _, gi := range order {
		lightest := 0
		for f := 1; f < s.K; f++ {
			if load[f] < load[lightest] {
				lightest = f
			}
		}
		load[lightest] += size[labels[gi]]
		foldOf[labels[gi]] = lightest
	}
	tests := make([][]int, s.K)
	for i, g := range groups {
		tests[foldOf[g]] = append(tests[foldOf[g]], i)
	}
	return foldsFromTest(len(y), 0, tests), nil
}

// TimeSeriesSplit is scikit-learn's TimeSeriesSplit for rows in time order:
// K test blocks of ⌊n/(K+1)⌋ rows at the end of the data, each trained on
// every row before it (less Gap rows), so no fold learns from its future.
type TimeSeriesSplit struct {
	K   int
	Gap int
}

// Name implements Splitter.
func (s TimeSeriesSplit) Name() string { return fmt.Sprintf("time_series_split(k=%d)", s.K) }

// Split implements Splitter.
func (s TimeSeriesSplit) Split(y []int, _ []string) ([]Fold, error) {
	n := len(y)
	if s.K < 2 || s.K+1 > n || s.Gap < 0 {
		return nil, fmt.Errorf("time-series split with k=%d, gap=%d on %d rows: %w", s.K, s.Gap, n, ErrSplit)
	}
	size := n / (s.K + 1)
	if n-s.Gap-size*s.K <= 0 {
		return nil, fmt.Errorf("time-series split: %d folds of %d rows and gap %d leave no training rows of %d: %w",
			s.K, size, s.Gap, n, ErrSplit)
	}
	var folds []Fold
	for f, start := 0, n-s.K*size; start < n; f, start = f+1, start+size {
		train := make([]int, start-s.Gap)
		for i := range train {
			train[i] = i
		}
		test := make([]int, size)
		for i := range test {
			test[i] = start + i
		}
		folds = append(folds, Fold{Index: f, Train: train, Test: test})
	}
	return folds, nil
}

// Fitter trains a model on one fold's training rows.
type Fitter interface {
	// Fit returns a Predictor trained on train only. It must be safe to
	// call concurrently for different folds.
	Fit(ctx context.Context, train *dataset.Dataset) (Predictor, error)
}

// FitterFunc adapts a function to Fitter.
type FitterFunc func(ctx context.Context, train *dataset.Dataset) (Predictor, error)

// Fit calls f.
func (f FitterFunc) Fit(ctx context.Context, train *dataset.Dataset) (Predictor, error) {
	return f(ctx, train)
}

// ThresholdedPredictor is a Predictor that carries its own binary decision
// threshold (chosen on data it was trained with).
type ThresholdedPredictor interface {
	Predictor
	// DecisionThreshold returns the threshold in (0, 1].
	DecisionThreshold() float64
}

// FoldResult is one fold's outcome.
type FoldResult struct {
	Fold
	TrainRows int               `json:"train_rows"`
	TestRows  int               `json:"test_rows"`
	Threshold float64           `json:"decision_threshold"`
	Metrics   EvaluationMetrics `json:"metrics"`
	Seconds   float64           `json:"seconds"`
}

// Spread summarises one metric over the folds where it is defined.
type Spread struct {
	Mean float64 `json:"mean"`
	// Std is the sample standard deviation (n − 1).
	Std   float64 `json:"std"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	Folds int     `json:"folds"`
}

// CVResult is the outcome of a cross-validation.
type CVResult struct {
	Splitter string       `json:"splitter"`
	Workers  int          `json:"workers"`
	Folds    []FoldResult `json:"folds"`
	// Summary spreads every metric of HeadlineMetrics over the folds.
	Summary map[string]Spread `json:"summary"`
	// OutOfFold holds, for each row, the probabilities (rows × classes)
	// predicted by the model that did not see it, averaged over repeats;
	// NaN for rows no fold tested (the first block of a time-series split).
	OutOfFold []float64 `json:"-"`
	// OutOfFoldMetrics scores the pooled out-of-fold predictions of the
	// rows that have them, at the mean fold threshold.
	OutOfFoldMetrics EvaluationMetrics `json:"out_of_fold_metrics"`
	Seconds          float64           `json:"seconds"`
}

// MarshalJSON writes r with null for undefined (NaN) values.
func (r CVResult) MarshalJSON() ([]byte, error) {
	type plain CVResult
	return marshalFinite(plain(r))
}

// CrossValidator trains and scores a model on every fold of a split, the
// folds in parallel.
type CrossValidator struct {
	Splitter Splitter
	Fitter   Fitter
	// Workers is the number of folds trained at once (default GOMAXPROCS).
	Workers int
	// Calculator scores each fold (its zero value: built-in metrics).
	Calculator MetricsCalculator
	// Threshold is the binary decision threshold for predictors that do
	// not carry one (0: DefaultThreshold).
	Threshold float64
	// Progress, when set, is called as each fold finishes with the number
	// done, the total and the fold's result, from the workers' goroutines
	// (it must be safe for concurrent use).
	Progress func(done, total int, fold FoldResult)
}

// Validate cross-validates on d; groups labels rows for GroupKFold (nil
// otherwise). Errors wrap ErrSplit, ErrInvalidDataset, the fitter's or
// predictor's error (naming the fold), or ctx's; the first error stops the
// remaining folds.
//
// Validate is Folds, RunFold for every fold and Combine in one process;
// callers that spread the folds over machines call the three themselves
// (each fold is independent: the split is a function of the rows and the
// splitter's seed alone) and get the same result.
func (cv CrossValidator) Validate(ctx context.Context, d *dataset.Dataset, groups []string) (*CVResult, error) {
	folds, err := cv.Folds(d, groups)
	if err != nil {
		return nil, err
	}
	workers := cv.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(folds))
	start := time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	outcomes := make([]FoldOutcome, len(folds))
	next := make(chan int)
	var wg sync.WaitGroup
	var done atomic.Int64
	for range workers {
		wg.Go(func() {
			for f := range next {
				o, err := cv.RunFold(ctx, d, folds[f])
				if err != nil {
					cancel(err)
					continue
				}
				outcomes[f] = o
				if cv.Progress != nil {
					cv.Progress(int(done.Add(1)), len(folds), o.Result)
				}
			}
		})
	}
feed:
	for f := range folds {
		select {
		case next <- f:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, fmt.Errorf("cross-validate %s with %s: %w", d.Target, cv.Splitter.Name(), err)
	}
	res, err := cv.Combine(d, folds, outcomes)
	if err != nil {
		return nil, err
	}
	res.Workers = workers
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// Folds checks d and cuts it into the splitter's folds; groups labels rows
// for GroupKFold (nil otherwise). Errors wrap ErrSplit or
// ErrInvalidDataset.
func (cv CrossValidator) Folds(d *dataset.Dataset, groups []string) ([]Fold, error) {
	if err := checkDataset(d); err != nil {
		return nil, fmt.Errorf("cross-validate: %w", err)
	}
	if cv.Splitter == nil || cv.Fitter == nil {
		return nil, fmt.Errorf("cross-validate %s: a splitter and a fitter are required: %w", d.Target, ErrSplit)
	}
	folds, err := cv.Splitter.Split(d.Y, groups)
	if err != nil {
		return nil, fmt.Errorf("cross-validate %s: %w", d.Target, err)
	}
	return folds, nil
}

// FoldOutcome is what one fold of a cross-validation produces: its scores,
// and the probabilities its model predicted for the fold's test rows (in
// the order of Fold.Test, rows × classes), from which Combine pools the
// out-of-fold predictions.
type FoldOutcome struct {
	Result FoldResult `json:"result"`
	Proba  []float64  `json:"proba"`
}

// RunFold trains on fold f of d (one of Folds' folds) and scores its test
// rows. Errors are the fitter's, the predictor's or the calculator's,
// naming the fold.
func (cv CrossValidator) RunFold(ctx context.Context, d *dataset.Dataset, f Fold) (FoldOutcome, error) {
	r, p, err := cv.runFold(ctx, d, f)
	if err != nil {
		return FoldOutcome{}, err
	}
	return FoldOutcome{Result: r, Proba: p}, nil
}

// Combine builds the cross-validation's result from the outcome of each of
// folds (outcomes[i] of folds[i]), as Validate does: the per-fold results,
// their summary and the pooled out-of-fold metrics. Workers and Seconds are
// left for the caller, who knows how the folds ran. An outcome that does
// not match its fold (another fold's index, or a probability per row and
// class of another count) wraps ErrSplit.
func (cv CrossValidator) Combine(d *dataset.Dataset, folds []Fold, outcomes []FoldOutcome) (*CVResult, error) {
	if len(outcomes) != len(folds) {
		return nil, fmt.Errorf("cross-validate %s: %d fold outcomes for %d folds: %w", d.Target, len(outcomes), len(folds), ErrSplit)
	}
	results := make([]FoldResult, len(folds))
	probas := make([][]float64, len(folds))
	k := len(d.Classes)
	for i, o := range outcomes {
		f := folds[i]
		if o.Result.Index != f.Index || o.Result.Repeat != f.Repeat || len(o.Proba) != len(f.Test)*k {
			return nil, fmt.Errorf("cross-validate %s: outcome %d is fold %d (repeat %d) with %d probabilities, not fold %d (repeat %d) with %d: %w",
				d.Target, i, o.Result.Index, o.Result.Repeat, len(o.Proba), f.Index, f.Repeat, len(f.Test)*k, ErrSplit)
		}
		// The row indices are not part of an outcome's JSON: they are the
		// fold's.
		o.Result.Fold = f
		results[i], probas[i] = o.Result, o.Proba
	}
	res := &CVResult{Splitter: cv.Splitter.Name(), Folds: results}
	res.Summary = summarise(results)
	res.OutOfFold, res.OutOfFoldMetrics = cv.outOfFold(d, folds, results, probas)
	return res, nil
}

// runFold trains on one fold and scores its test rows.
func (cv CrossValidator) runFold(ctx context.Context, d *dataset.Dataset, f Fold) (FoldResult, []float64, error) {
	start := time.Now()
	train, test := d.Subset(f.Train), d.Subset(f.Test)
	p, err := cv.Fitter.Fit(ctx, train)
	if err != nil {
		return FoldResult{}, nil, fmt.Errorf("fold %d (repeat %d): fit: %w", f.Index, f.Repeat, err)
	}
	thr := cv.Threshold
	if tp, ok := p.(ThresholdedPredictor); ok {
		thr = tp.DecisionThreshold()
	}
	if len(d.Classes) != 2 {
		thr = 0
	}
	proba, err := p.PredictProba(ctx, test.X, test.Rows)
	if err != nil {
		return FoldResult{}, nil, fmt.Errorf("fold %d (repeat %d): predict: %w", f.Index, f.Repeat, err)
	}
	m, err := cv.Calculator.Calculate(Input{Y: test.Y, Proba: proba, Classes: d.Classes, Positive: d.Positive, Threshold: thr})
	if err != nil {
		return FoldResult{}, nil, fmt.Errorf("fold %d (repeat %d): %w", f.Index, f.Repeat, err)
	}
	return FoldResult{Fold: f, TrainRows: train.Rows, TestRows: test.Rows, Threshold: m.Threshold,
		Metrics: m, Seconds: time.Since(start).Seconds()}, proba, nil
}

// summarise spreads the headline metrics over the folds.
func summarise(results []FoldResult) map[string]Spread {
	out := map[string]Spread{}
	for _, name := range HeadlineMetrics {
		var vals []float64
		defined := false
		for _, r := range results {
			v, ok := MetricValue(r.Metrics, name)
			if !ok {
				continue
			}
			defined = true
			if !math.IsNaN(v) {
				vals = append(vals, v)
			}
		}
		if !defined {
			continue
		}
		out[name] = spreadOf(vals)
	}
	return out
}

// spreadOf returns mean, sample std, min and max (NaN when empty; std NaN
// for one value).
func spreadOf(v []float64) Spread {
	s := Spread{Folds: len(v), Mean: math.NaN(), Std: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	if len(v) == 0 {
		return s
	}
	var sum float64
	for _, x := range v {
		sum += x
	}
	s.Mean = sum / float64(len(v))
	s.Min, s.Max = slices.Min(v), slices.Max(v)
	if len(v) > 1 {
		var ss float64
		for _, x := range v {
			ss += (x - s.Mean) * (x - s.Mean)
		}
		s.Std = math.Sqrt(ss / float64(len(v)-1))
	}
	return s
}

// outOfFold averages each row's test-fold probabilities over repeats and
// scores the rows that have any.
func (cv CrossValidator) outOfFold(d *dataset.Dataset, folds []Fold, results []FoldResult, probas [][]float64) ([]float64, EvaluationMetrics) {
	k := len(d.Classes)
	sum := make([]float64, d.Rows*k)
	count := make([]int, d.Rows)
	var thrSum float64
	for f, fold := range folds {
		thrSum += results[f].Threshold
		for j, row := range fold.Test {
			for c := range k {
				sum[row*k+c] += probas[f][j*k+c]
			}
			count[row]++
		}
	}
	var y []int
	var proba []float64
	for i := range d.Rows {
		if count[i] == 0 {
			for c := range k {
				sum[i*k+c] = math.NaN()
			}
			continue
		}
		for c := range k {
			sum[i*k+c] /= float64(count[i])
		}
		y = append(y, d.Y[i])
		proba = append(proba, sum[i*k:(i+1)*k]...)
	}
	thr := 0.0
	if k == 2 {
		thr = thrSum / float64(len(folds))
	}
	m, err := cv.Calculator.Calculate(Input{Y: y, Proba: proba, Classes: d.Classes, Positive: d.Positive, Threshold: thr})
	if err != nil {
		return sum, EvaluationMetrics{}
	}
	return sum, m
}
