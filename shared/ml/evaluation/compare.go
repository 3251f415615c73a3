package evaluation

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"

	"github.com/orrery-ml/orrery/shared/dataset"
)

// DatasetHash returns the hex SHA-256 of a data set's content — feature
// names, class labels, then every row's features (IEEE 754 bits) and class —
// so that a comparison records exactly which frozen test set it used.
func DatasetHash(d *dataset.Dataset) string {
	h := sha256.New()
	var buf [8]byte
	writeString := func(s string) {
		binary.LittleEndian.PutUint64(buf[:], uint64(len(s)))
		h.Write(buf[:])
		h.Write([]byte(s))
	}
	for _, f := range d.FeatureNames {
		writeString(f)
	}
	writeString("\x00classes")
	for _, c := range d.Classes {
		writeString(c)
	}
	for i := range d.Rows {
		for _, v := range d.X[i*len(d.FeatureNames) : (i+1)*len(d.FeatureNames)] {
			binary.LittleEndian.PutUint64(buf[:], math.Float64bits(v))
			h.Write(buf[:])
		}
		binary.LittleEndian.PutUint64(buf[:], uint64(d.Y[i]))
		h.Write(buf[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Candidate is one model's predictions on the shared test set.
type Candidate struct {
	// Name identifies the model (its id).
	Name string
	// Proba is rows × classes, row-major, as Input.Proba.
	Proba []float64
	// Threshold is the model's binary decision threshold (0: default).
	Threshold float64
}

// Comparison statistics.
const (
	TestDeLong          = "delong"
	TestMcNemar         = "mcnemar"
	TestPairedBootstrap = "paired_bootstrap"
)

// PairTest is one statistical comparison of two models on one metric.
type PairTest struct {
	ModelA string `json:"model_a"`
	ModelB string `json:"model_b"`
	Metric string `json:"metric"`
	// Test is delong, mcnemar or paired_bootstrap.
	Test   string  `json:"test"`
	ValueA float64 `json:"value_a"`
	ValueB float64 `json:"value_b"`
	// Difference is ValueA − ValueB; for the paired bootstrap, Lower and
	// Upper bound its percentile interval.
	Difference float64 `json:"difference"`
	Lower      float64 `json:"lower,omitempty"`
	Upper      float64 `json:"upper,omitempty"`
	Statistic  float64 `json:"statistic,omitempty"`
	PValue     float64 `json:"p_value"`
}

// RankedModel is one line of a ranking.
type RankedModel struct {
	Name  string  `json:"model"`
	Value float64 `json:"value"`
	// Rank is shared by models the tests cannot tell apart (1, 1, 3, ...).
	Rank int `json:"rank"`
	// TiedWith lists the models sharing this rank.
	TiedWith []string `json:"tied_with,omitempty"`
}

// ComparisonResult is a ranking of models on one frozen test set.
type ComparisonResult struct {
	// TestSetHash identifies the test set (DatasetHash), Rows its size.
	TestSetHash string `json:"test_set_hash"`
	Rows        int    `json:"rows"`
	// Metric is what the ranking orders by; Alpha the significance level.
	Metric  string                       `json:"metric"`
	Alpha   float64                      `json:"alpha"`
	Ranking []RankedModel                `json:"ranking"`
	Tests   []PairTest                   `json:"tests"`
	Metrics map[string]EvaluationMetrics `json:"metrics"`
}

// Comparator ranks models evaluated on the same rows. The tests are
// McNemar for accuracy, DeLong for ROC AUC and a paired stratified
// bootstrap for AUC-PR and F1; each pair of models is tested on every one
// of those metrics. Its zero value ranks by auc_roc at α = 0.05 with the
// default Bootstrap.
type Comparator struct {
	// Metric orders the ranking: auc_roc (default), accuracy, auc_pr or
	// f1_score.
	Metric string
	// Alpha is the significance level (default 0.05).
	Alpha     float64
	Bootstrap Bootstrap
	// Progress, when set, is called after each pair of models is tested
	// with the number of pairs done and the total.
	Progress func(done, total int)
}

// Compare evaluates every candidate on y and ranks them: sorted by the
// metric, a model joins the rank of the group leader above it unless the
// test of that metric between the two rejects equality at Alpha, so a
// ranking reports statistical ties rather than invent an order. testSetHash
// is recorded as given. Errors wrap ErrPaired (fewer than two candidates,
// repeated names), ErrAnalysis (an unknown metric, a multi-class task for
// DeLong) or Calculate's errors. It is PairedReplicates of every replicate
// ranked by CompareReplicates.
func (c Comparator) Compare(ctx context.Context, y []int, classes []string, positive int, testSetHash string, cands []Candidate) (*ComparisonResult, error) {
	reps, err := c.PairedReplicates(ctx, y, classes, positive, cands, 0, c.Bootstrap.resamples())
	if err != nil {
		return nil, err
	}
	return c.CompareReplicates(ctx, y, classes, positive, testSetHash, cands, []Replicates{reps})
}

// comparison is what Compare derives from its candidates before any test:
// each one's metrics, its input at its operating point and its predicted
// classes.
type comparison struct {
	metric  string
	alpha   float64
	metrics map[string]EvaluationMetrics
	inputs  []Input
	preds   [][]int
}

// prepare checks the comparison's settings and candidates and scores each.
func (c Comparator) prepare(y []int, classes []string, positive int, cands []Candidate) (comparison, error) {
	prep := comparison{metric: c.Metric, alpha: c.Alpha, metrics: map[string]EvaluationMetrics{}}
	if prep.metric == "" {
		prep.metric = "auc_roc"
	}
	if !(prep.alpha > 0 && prep.alpha < 1) {
		prep.alpha = 0.05
	}
	switch prep.metric {
	case "auc_roc", "accuracy", "auc_pr", "f1_score":
	default:
		return prep, fmt.Errorf("compare: metric %q is not auc_roc, accuracy, auc_pr or f1_score: %w", prep.metric, ErrAnalysis)
	}
	if len(cands) < 2 {
		return prep, fmt.Errorf("compare: %d models, need at least two: %w", len(cands), ErrPaired)
	}
	prep.inputs, prep.preds = make([]Input, len(cands)), make([][]int, len(cands))
	for i, cd := range cands {
		if _, dup := prep.metrics[cd.Name]; dup {
			return prep, fmt.Errorf("compare: model %q given twice: %w", cd.Name, ErrPaired)
		}
		in := Input{Y: y, Proba: cd.Proba, Classes: classes, Positive: positive, Threshold: cd.Threshold}
		m, err := MetricsCalculator{}.Calculate(in)
		if err != nil {
			return prep, fmt.Errorf("compare: model %s: %w", cd.Name, err)
		}
		prep.inputs[i] = withThreshold0(in)
		prep.preds[i] = predict(prep.inputs[i])
		prep.metrics[cd.Name] = m
	}
	return prep, nil
}

// pairedMetrics are the metrics the paired bootstrap compares: AUC-PR and
// F1, and ROC AUC too for a multi-class task (DeLong's test is binary).
func pairedMetrics(classes int) []string {
	if classes == 2 {
		return []string{"auc_pr", "f1_score"}
	}
	return []string{"auc_pr", "f1_score", "auc_roc"}
}

// pairedNames are the Replicates.Metrics of a comparison's paired
// bootstrap: "<metric>/<model>" for every candidate, then every paired
// metric, in the candidates' order.
func pairedNames(cands []Candidate, metrics []string) []string {
	out := make([]string, 0, len(cands)*len(metrics))
	for _, cd := range cands {
		for _, m := range metrics {
			out = append(out, m+"/"+cd.Name)
		}
	}
	return out
}

// PairedReplicates computes the replicates from to to-1 (0 <= from < to <=
// Bootstrap.Count()) of the paired bootstrap Compare runs on cands: each
// replicate is one stratified resample of the rows, drawn from its own
// stream (Seed, r) and shared by every model, on which each model's
// paired metrics (AUC-PR, F1, and for a multi-class task ROC AUC) are
// computed; Metrics names them "<metric>/<model>". Replicate r is the
// same whichever range it is computed in, so ranges computed apart — the
// fold jobs of a heavy evaluation's comparison, each on its own machine —
// combine by CompareReplicates into exactly Compare's result. Errors are
// Compare's, ctx's, or ErrInvalidRequest for a range outside [0,
// Count()).
func (c Comparator) PairedReplicates(ctx context.Context, y []int, classes []string, positive int, cands []Candidate, from, to int) (Replicates, error) {
	if n := c.Bootstrap.resamples(); from < 0 || to <= from || to > n {
		return Replicates{}, fmt.Errorf("%w: paired bootstrap replicates [%d, %d) are not within [0, %d)", ErrInvalidRequest, from, to, n)
	}
	prep, err := c.prepare(y, classes, positive, cands)
	if err != nil {
		return Replicates{}, err
	}
	metrics := pairedMetrics(len(classes))
	values, err := c.Bootstrap.replicate(ctx, y, len(classes), from, to, func(idx []int) []float64 {
		out := make([]float64, 0, len(cands)*len(metrics))
		for _, in := range prep.inputs {
			m := MetricsCalculator{}.calculate(subsetInput(in, idx))
			for _, name := range metrics {
				v, _ := MetricValue(m, name)
				out = append(out, v)
			}
		}
		return out
	})
	if err != nil {
		return Replicates{}, fmt.Errorf("compare: paired bootstrap: %w", err)
	}
	return Replicates{From: from, Metrics: pairedNames(cands, metrics), Values: values}, nil
}

// CompareReplicates is Compare with the paired bootstrap's replicates
// computed elsewhere: parts are PairedReplicates' ranges of the same
// candidates and rows, which, in order, must cover the replicates 0 to
// Bootstrap.Count()-1 exactly once; else ErrReplicates says where they do
// not. Otherwise its errors are Compare's.
func (c Comparator) CompareReplicates(ctx context.Context, y []int, classes []string, positive int, testSetHash string,
	cands []Candidate, parts []Replicates) (*ComparisonResult, error) {
	prep, err := c.prepare(y, classes, positive, cands)
	if err != nil {
		return nil, err
	}
	metrics := pairedMetrics(len(classes))
	reps, err := joinReplicates(parts, pairedNames(cands, metrics), c.Bootstrap.resamples())
	if err != nil {
		return nil, fmt.Errorf("compare: paired bootstrap: %w", err)
	}
	// column returns candidate i's replicate values of a paired metric.
	column := func(i int, metric string) []float64 {
		j := i*len(metrics) + slices.Index(metrics, metric)
		col := make([]float64, len(reps))
		for r := range reps {
			col[r] = reps[r][j]
		}
		return col
	}
	res := &ComparisonResult{TestSetHash: testSetHash, Rows: len(y), Metric: prep.metric, Alpha: prep.alpha, Metrics: prep.metrics}
	binary := len(classes) == 2
	tests := map[[2]int]map[string]PairTest{}
	pairs, pairsDone := len(cands)*(len(cands)-1)/2, 0
	for i := range cands {
		for j := i + 1; j < len(cands); j++ {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("compare: %w", err)
			}
			byMetric := map[string]PairTest{}
			a, b := cands[i].Name, cands[j].Name
			// McNemar on accuracy.
			ca, cb := make([]bool, len(y)), make([]bool, len(y))
			for r, t := range y {
				ca[r], cb[r] = prep.preds[i][r] == t, prep.preds[j][r] == t
			}
			mc, err := McNemar(ca, cb)
			if err != nil {
				return nil, fmt.Errorf("compare %s and %s: %w", a, b, err)
			}
			ma, mb := res.Metrics[a], res.Metrics[b]
			byMetric["accuracy"] = PairTest{ModelA: a, ModelB: b, Metric: "accuracy", Test: TestMcNemar,
				ValueA: ma.Accuracy, ValueB: mb.Accuracy, Difference: ma.Accuracy - mb.Accuracy,
				Statistic: mc.Statistic, PValue: mc.PValue}
			if binary {
				dl, err := DeLong(y, classColumn(prep.inputs[i], 1), classColumn(prep.inputs[j], 1))
				if err != nil {
					return nil, fmt.Errorf("compare %s and %s: %w", a, b, err)
				}
				byMetric["auc_roc"] = PairTest{ModelA: a, ModelB: b, Metric: "auc_roc", Test: TestDeLong,
					ValueA: dl.AUC1, ValueB: dl.AUC2, Difference: dl.AUC1 - dl.AUC2, Statistic: dl.Z, PValue: dl.PValue}
			}
			// The paired bootstrap on the other metrics; a multi-class ROC
			// AUC is among them, as DeLong is defined for two classes.
			for _, name := range metrics {
				pt := c.pairedBootstrap(prep.inputs[i], prep.inputs[j], name, column(i, name), column(j, name))
				pt.ModelA, pt.ModelB = a, b
				byMetric[name] = pt
			}
			for _, name := range []string{"accuracy", "auc_roc", "auc_pr", "f1_score"} {
				res.Tests = append(res.Tests, byMetric[name])
			}
			tests[[2]int{i, j}] = byMetric
			if pairsDone++; c.Progress != nil {
				c.Progress(pairsDone, pairs)
			}
		}
	}
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	value := func(i int) float64 { v, _ := MetricValue(res.Metrics[cands[i].Name], prep.metric); return v }
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(value(b), value(a)) })
	leader, rank := order[0], 1
	for pos, i := range order {
		if pos > 0 {
			key := [2]int{min(leader, i), max(leader, i)}
			if t := tests[key][prep.metric]; t.PValue < prep.alpha {
				leader, rank = i, pos+1
			}
		}
		res.Ranking = append(res.Ranking, RankedModel{Name: cands[i].Name, Value: value(i), Rank: rank})
	}
	for i := range res.Ranking {
		for j := range res.Ranking {
			if i != j && res.Ranking[i].Rank == res.Ranking[j].Rank {
				res.Ranking[i].TiedWith = append(res.Ranking[i].TiedWith, res.Ranking[j].Name)
			}
		}
	}
	return res, nil
}

// pairedBootstrap compares one metric of two models on the same stratified
// resamples, whose values of the metric are repA and repB: the p-value is
// twice the smaller share of replicate differences on either side of zero
// (capped at 1), the interval the percentile interval of the difference.
func (c Comparator) pairedBootstrap(a, b Input, metric string, repA, repB []float64) PairTest {
	ma, mb := MetricsCalculator{}.calculate(a), MetricsCalculator{}.calculate(b)
	va, _ := MetricValue(ma, metric)
	vb, _ := MetricValue(mb, metric)
	diffs := make([]float64, 0, len(repA))
	var below, above int
	for r := range repA {
		d := repA[r] - repB[r]
		if math.IsNaN(d) {
			continue
		}
		diffs = append(diffs, d)
		if d <= 0 {
			below++
		}
		if d >= 0 {
			above++
		}
	}
	iv := c.Bootstrap.interval(va-vb, diffs)
	p := math.NaN()
	if len(diffs) > 0 {
		p = min(1, 2*float64(min(below, above))/float64(len(diffs)))
	}
	return PairTest{Metric: metric, Test: TestPairedBootstrap, ValueA: va, ValueB: vb, Difference: va - vb,
		Lower: iv.Lower, Upper: iv.Upper, PValue: p}
}

// classColumn returns class j's probability of every row of in.
func classColumn(in Input, j int) []float64 {
	k := len(in.Classes)
	out := make([]float64, len(in.Y))
	for i := range out {
		out[i] = in.Proba[i*k+j]
	}
	return out
}

// MarshalJSON writes r with null for undefined (NaN) values.
func (r ComparisonResult) MarshalJSON() ([]byte, error) {
	type plain ComparisonResult
	return marshalFinite(plain(r))
}
