package evaluation

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scored returns labels and positive-class scores of a synthetic data set,
// and the Input built from them.
func scored(rows int, seed uint64) ([]int, []float64, Input) {
	d := synthetic(rows, seed)
	m := logisticModel{mid: 0.5}
	proba, _ := m.PredictProba(context.Background(), d.X, d.Rows)
	score := make([]float64, d.Rows)
	for i := range score {
		score[i] = proba[2*i+1]
	}
	return d.Y, score, Input{Y: d.Y, Proba: proba, Classes: d.Classes, Positive: 1, Threshold: 0.5}
}

func TestThresholdAnalysis(t *testing.T) {
	y, score, _ := scored(500, 4)
	a, err := PerformanceAnalyzer{FPRTargets: []float64{0.01, 0.1}, RecallTargets: []float64{0.9}}.Thresholds(y, score)
	require.NoError(t, err)
	f1Thr, f1 := BestF1Threshold(y, score)
	assert.Equal(t, f1Thr, a.F1.Threshold)
	assert.InDelta(t, f1, a.F1.F1, 1e-12)
	assert.Equal(t, YoudenThreshold(y, score), a.Youden.Threshold)
	require.Len(t, a.AtFPR, 2)
	for _, p := range a.AtFPR {
		assert.LessOrEqual(t, p.FPR, p.Target)
		assert.True(t, p.Reachable)
		// One step lower lets more negatives through than allowed, or
		// recalls nothing more.
		m, err := MetricsCalculator{}.Calculate(binaryInput(y, score, p.Threshold))
		require.NoError(t, err)
		assert.InDelta(t, p.Recall, m.Recall, 1e-12)
		assert.InDelta(t, p.FPR, 1-m.CustomMetrics[MetricSpecificity], 1e-12)
	}
	require.Len(t, a.AtRecall, 1)
	assert.GreaterOrEqual(t, a.AtRecall[0].Recall, 0.9)
	assert.NotEmpty(t, a.Curve)
	p, ok := a.Named("fpr:0.01")
	assert.True(t, ok)
	assert.Equal(t, a.AtFPR[0], p)
	_, ok = a.Named("fpr:0.5")
	assert.False(t, ok)

	_, err = PerformanceAnalyzer{FPRTargets: []float64{1.5}}.Thresholds(y, score)
	require.ErrorIs(t, err, ErrAnalysis)
	_, err = PerformanceAnalyzer{}.Thresholds([]int{1, 1}, []float64{0.2, 0.3})
	require.ErrorIs(t, err, ErrAnalysis)
}

func binaryInput(y []int, score []float64, thr float64) Input {
	in := Input{Y: y, Classes: []string{"n", "p"}, Positive: 1, Threshold: thr}
	for _, s := range score {
		in.Proba = append(in.Proba, 1-s, s)
	}
	return in
}

func TestCalibratorsImproveCalibration(t *testing.T) {
	// Scores squashed towards 0.5: poorly calibrated but well ranked.
	y, score, _ := scored(2000, 5)
	for i := range score {
		score[i] = 0.4 + 0.2*score[i]
	}
	an := PerformanceAnalyzer{}
	before, err := an.Calibration(y, score)
	require.NoError(t, err)
	for _, method := range []string{CalibrationPlatt, CalibrationIsotonic} {
		c, err := FitCalibrator(method, y, score)
		require.NoError(t, err)
		calibrated := make([]float64, len(score))
		for i, s := range score {
			calibrated[i] = c.Calibrate(s)
		}
		after, err := an.Calibration(y, calibrated)
		require.NoError(t, err)
		assert.Less(t, after.ECE, before.ECE/2, method)
	}
	_, err = FitCalibrator("beta", y, score)
	require.ErrorIs(t, err, ErrAnalysis)
	_, err = FitCalibrator(CalibrationPlatt, []int{1, 1}, []float64{0.2, 0.3})
	require.ErrorIs(t, err, ErrAnalysis)
	_, err = an.Calibration(y, score[:3])
	require.ErrorIs(t, err, ErrPaired)
}

func TestSlicesAndBins(t *testing.T) {
	_, _, in := scored(300, 6)
	keys := make([]string, len(in.Y))
	for i := range keys {
		keys[i] = []string{"north", "south", "bright"}[i%3]
	}
	// A single-class slice: AUC undefined, the rest defined.
	for i := range in.Y {
		if keys[i] == "bright" && in.Y[i] == 0 {
			keys[i] = "north"
		}
	}
	got, err := MetricsCalculator{}.Slices(in, keys)
	require.NoError(t, err)
	require.Len(t, got, 3)
	total := 0
	for _, s := range got {
		total += s.Rows
		if s.Slice == "bright" {
			assert.True(t, math.IsNaN(s.AUCROC))
			assert.Equal(t, s.Rows, s.Positives)
		} else {
			assert.False(t, math.IsNaN(s.AUCROC))
		}
	}
	assert.Equal(t, len(in.Y), total)
	_, err = MetricsCalculator{}.Slices(in, keys[:2])
	require.ErrorIs(t, err, ErrLengthMismatch)

	labels := BinLabels([]float64{1, 2, 3, 4, math.NaN(), 5, 6, 7, 8}, 2)
	assert.Equal(t, []string{"[1, 4.5)", "[1, 4.5)", "[1, 4.5)", "[1, 4.5)", "missing", "[4.5, 8]", "[4.5, 8]", "[4.5, 8]", "[4.5, 8]"}, labels)
	assert.Equal(t, []string{"[3]", "[3]"}, BinLabels([]float64{3, 3}, 4))
}

func TestMeasureLatency(t *testing.T) {
	d := synthetic(100, 7)
	l, err := MeasureLatency(context.Background(), logisticModel{mid: 0.5}, d.X, d.Rows, 20, 32, 5)
	require.NoError(t, err)
	assert.Equal(t, 32, l.BatchSize)
	assert.LessOrEqual(t, l.RowP50Ms, l.RowP95Ms)
	assert.LessOrEqual(t, l.RowP95Ms, l.RowP99Ms)
	assert.LessOrEqual(t, l.BatchP50Ms, l.BatchP99Ms)
	assert.Greater(t, l.RowsPerSecond, 0.0)
	_, err = MeasureLatency(context.Background(), nil, d.X, d.Rows, 1, 1, 1)
	require.ErrorIs(t, err, ErrNilPredictor)
}

func TestPercentileMatchesNumpy(t *testing.T) {
	v := []float64{3, 1, 4, 1, 5, 9, 2, 6}
	// numpy.percentile(v, [0, 25, 50, 90, 100]) = 1, 1.75, 3.5, 6.9, 9
	for q, want := range map[float64]float64{0: 1, 25: 1.75, 50: 3.5, 90: 6.9, 100: 9} {
		assert.InDelta(t, want, Percentile(v, q), 1e-12, "q=%v", q)
	}
	assert.True(t, math.IsNaN(Percentile([]float64{math.NaN()}, 50)))
}

func TestBootstrapIntervals(t *testing.T) {
	_, _, in := scored(400, 8)
	ctx := context.Background()
	b := Bootstrap{Resamples: 200, Seed: 3, Workers: 3}
	ci, err := b.ConfidenceIntervals(ctx, MetricsCalculator{}, in)
	require.NoError(t, err)
	for _, name := range []string{"accuracy", "auc_roc", "auc_pr", "f1_score", MetricMCC, MetricCompleteness, MetricPurity} {
		iv, ok := ci[name]
		require.True(t, ok, name)
		assert.LessOrEqual(t, iv.Lower, iv.Estimate, name)
		assert.GreaterOrEqual(t, iv.Upper, iv.Estimate, name)
		assert.Less(t, iv.Lower, iv.Upper, name)
		assert.Equal(t, 200, iv.Resamples, name)
		assert.Equal(t, 0.95, iv.Confidence)
	}
	assert.NotContains(t, ci, MetricTop2Accuracy, "binary task")
	// The result does not depend on the number of workers.
	serial, err := Bootstrap{Resamples: 200, Seed: 3, Workers: 1}.ConfidenceIntervals(ctx, MetricsCalculator{}, in)
	require.NoError(t, err)
	assert.Equal(t, ci, serial)
	// A wider interval for fewer rows.
	_, _, small := scored(60, 8)
	ciSmall, err := b.ConfidenceIntervals(ctx, MetricsCalculator{}, small)
	require.NoError(t, err)
	assert.Greater(t, ciSmall["auc_roc"].Upper-ciSmall["auc_roc"].Lower, ci["auc_roc"].Upper-ci["auc_roc"].Lower)

	in.Y = in.Y[:10]
	_, err = b.ConfidenceIntervals(ctx, MetricsCalculator{}, in)
	require.ErrorIs(t, err, ErrLengthMismatch)
}

func TestComparatorRanksWithTies(t *testing.T) {
	d := synthetic(600, 9)
	ctx := context.Background()
	probaOf := func(scale float64, noise uint64) []float64 {
		m := logisticModel{mid: 0.5}
		x := append([]float64(nil), d.X...)
		if noise > 0 {
			n := synthetic(600, noise)
			for i := range x {
				x[i] += scale * n.X[i]
			}
		}
		p, _ := m.PredictProba(ctx, x, d.Rows)
		return p
	}
	good := probaOf(0, 0)
	twin := probaOf(0.02, 11) // indistinguishable from good
	poor := probaOf(3, 12)    // far noisier
	c := Comparator{Bootstrap: Bootstrap{Resamples: 200, Seed: 1}}
	res, err := c.Compare(ctx, d.Y, d.Classes, 1, DatasetHash(d), []Candidate{
		{Name: "poor", Proba: poor}, {Name: "good", Proba: good}, {Name: "twin", Proba: twin},
	})
	require.NoError(t, err)
	require.Len(t, res.Ranking, 3)
	ranks := map[string]int{}
	for _, r := range res.Ranking {
		ranks[r.Name] = r.Rank
	}
	assert.Equal(t, 1, ranks["good"])
	assert.Equal(t, 1, ranks["twin"], "a statistical tie shares the rank")
	assert.Equal(t, 3, ranks["poor"])
	assert.Len(t, res.Tests, 3*4, "three pairs, four metrics each")
	for _, pt := range res.Tests {
		switch pt.Metric {
		case "accuracy":
			assert.Equal(t, TestMcNemar, pt.Test)
		case "auc_roc":
			assert.Equal(t, TestDeLong, pt.Test)
		default:
			assert.Equal(t, TestPairedBootstrap, pt.Test)
		}
		assert.GreaterOrEqual(t, pt.PValue, 0.0)
		assert.LessOrEqual(t, pt.PValue, 1.0)
	}
	assert.Len(t, res.TestSetHash, 64)
	_, err = json.Marshal(res)
	require.NoError(t, err)

	_, err = c.Compare(ctx, d.Y, d.Classes, 1, "", []Candidate{{Name: "a", Proba: good}})
	require.ErrorIs(t, err, ErrPaired)
	_, err = c.Compare(ctx, d.Y, d.Classes, 1, "", []Candidate{{Name: "a", Proba: good}, {Name: "a", Proba: twin}})
	require.ErrorIs(t, err, ErrPaired)
	_, err = Comparator{Metric: "brier"}.Compare(ctx, d.Y, d.Classes, 1, "", []Candidate{{Name: "a", Proba: good}, {Name: "b", Proba: twin}})
	require.ErrorIs(t, err, ErrAnalysis)
}

func TestDatasetHashChangesWithContent(t *testing.T) {
	a, b := synthetic(50, 1), synthetic(50, 1)
	assert.Equal(t, DatasetHash(a), DatasetHash(b))
	b.Y[3] = 1 - b.Y[3]
	assert.NotEqual(t, DatasetHash(a), DatasetHash(b))
}

func TestRegistry(t *testing.T) {
	var r Registry
	count := func(_ Input, pred []int) float64 { return float64(len(pred)) }
	require.NoError(t, r.Register("rows", count))
	require.ErrorIs(t, r.Register("rows", count), ErrCustomMetricName)
	require.ErrorIs(t, r.Register(MetricCompleteness, count), ErrCustomMetricName)
	require.ErrorIs(t, r.Register("", count), ErrCustomMetricName)
	require.ErrorIs(t, r.Register("nil", nil), ErrCustomMetricName)
	assert.Equal(t, []string{"rows"}, r.Names())

	c, err := r.Calculator("rows", MetricMCC)
	require.NoError(t, err)
	m, err := c.Calculate(validBinary())
	require.NoError(t, err)
	assert.Equal(t, 4.0, m.CustomMetrics["rows"])
	_, err = r.Calculator("unknown")
	require.ErrorIs(t, err, ErrCustomMetricName)
	assert.Contains(t, err.Error(), "rows")
}

func TestTopKAccuracy(t *testing.T) {
	proba := []float64{0.4, 0.4, 0.2, 0.2, 0.4, 0.4, 0.1, 0.8, 0.1}
	// Row 0, true class 0, ties with class 1, which ranks first (higher
	// index); row 1's class 0 is last; row 2's class 2 is second.
	assert.InDelta(t, 0.0, TopKAccuracy([]int{0, 0, 2}, proba, 3, 1), 1e-12)
	assert.InDelta(t, 2.0/3, TopKAccuracy([]int{0, 0, 2}, proba, 3, 2), 1e-12)
	assert.True(t, math.IsNaN(TopKAccuracy([]int{0}, proba, 3, 1)))
}

// TestBootstrapReplicateRangesCombine: replicate ranges computed apart (as
// a heavy evaluation's fold jobs compute them), sent through JSON and
// combined, give exactly ConfidenceIntervals' intervals; ranges that leave
// a gap, overlap or name other metrics are refused.
func TestBootstrapReplicateRangesCombine(t *testing.T) {
	_, _, in := scored(30, 4)
	ctx := context.Background()
	b := Bootstrap{Resamples: 120, Seed: 7}
	want, err := b.ConfidenceIntervals(ctx, MetricsCalculator{}, in)
	require.NoError(t, err)
	var parts []Replicates
	for _, r := range [][2]int{{0, 50}, {50, 51}, {51, 120}} {
		p, err := b.Replicates(ctx, MetricsCalculator{}, in, r[0], r[1])
		require.NoError(t, err)
		require.Len(t, p.Values, r[1]-r[0])
		raw, err := json.Marshal(p)
		require.NoError(t, err)
		var back Replicates
		require.NoError(t, json.Unmarshal(raw, &back))
		for i, row := range p.Values {
			for j, v := range row {
				if math.IsNaN(v) {
					assert.True(t, math.IsNaN(back.Values[i][j]))
				} else {
					assert.Equal(t, v, back.Values[i][j], "replicate %d metric %s", r[0]+i, p.Metrics[j])
				}
			}
		}
		parts = append(parts, back)
	}
	got, err := b.Intervals(MetricsCalculator{}, in, parts)
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprint(want), fmt.Sprint(got), "NaN-safe comparison of the intervals")
	for name, iv := range want {
		assert.Equal(t, iv.Resamples, got[name].Resamples, name)
	}

	for _, tc := range []struct {
		name  string
		parts []Replicates
	}{
		{"gap", []Replicates{parts[0], parts[2]}},
		{"overlap", []Replicates{parts[0], parts[0], parts[1], parts[2]}},
		{"short", parts[:2]},
		{"other metrics", []Replicates{{From: 0, Metrics: []string{"accuracy"}, Values: make([][]float64, 120)}}},
	} {
		_, err := b.Intervals(MetricsCalculator{}, in, tc.parts)
		assert.ErrorIs(t, err, ErrReplicates, tc.name)
	}
	// A metric undefined on a resample is NaN: JSON carries it, and the
	// infinities, as it carries every finite value, exactly.
	odd := Replicates{From: 3, Metrics: []string{"a", "b", "c", "d"}, Values: [][]float64{{math.NaN(), math.Inf(1), math.Inf(-1), math.Nextafter(0.3, 1)}}}
	raw, err := json.Marshal(odd)
	require.NoError(t, err)
	assert.JSONEq(t, `{"from":3,"metrics":["a","b","c","d"],"values":[[null,"+Inf","-Inf",0.30000000000000004]]}`, string(raw))
	var back Replicates
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.True(t, math.IsNaN(back.Values[0][0]))
	assert.Equal(t, odd.Values[0][1:], back.Values[0][1:])

	_, err = b.Replicates(ctx, MetricsCalculator{}, in, 100, 121)
	assert.ErrorIs(t, err, ErrInvalidRequest)
	_, err = b.Replicates(ctx, MetricsCalculator{}, in, 5, 5)
	assert.ErrorIs(t, err, ErrInvalidRequest)
}

// TestPairedReplicateRangesCombine: the paired bootstrap of a comparison
// computed in ranges apart (as a heavy evaluation's fold jobs compute it),
// sent through JSON and combined by CompareReplicates, gives exactly
// Compare's result, for two classes and for three; ranges that do not fit
// together, or a range outside the replicates, are refused.
func TestPairedReplicateRangesCombine(t *testing.T) {
	ctx := context.Background()
	d := synthetic(240, 9)
	m := logisticModel{mid: 0.5}
	good, err := m.PredictProba(ctx, d.X, d.Rows)
	require.NoError(t, err)
	noisy := make([]float64, len(good))
	r := rand.New(rand.NewPCG(3, 3))
	for i := range d.Rows {
		v := min(max(good[2*i+1]+0.4*(r.Float64()-0.5), 0), 1)
		noisy[2*i], noisy[2*i+1] = 1-v, v
	}
	multi := calculateInput(3)
	multi.Y, multi.Proba = multi.Y[:600], multi.Proba[:1800]
	// perturbed adds noise of the given scale to the three-class
	// probabilities and renormalises them.
	perturbed := func(scale float64) []float64 {
		out := make([]float64, len(multi.Proba))
		for i := range multi.Y {
			var sum float64
			for j := range 3 {
				out[3*i+j] = multi.Proba[3*i+j] + scale*r.Float64()
				sum += out[3*i+j]
			}
			for j := range 3 {
				out[3*i+j] /= sum
			}
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		y        []int
		classes  []string
		positive int
		cands    []Candidate
	}{
		{"two classes", d.Y, d.Classes, 1, []Candidate{{Name: "champion", Proba: good}, {Name: "challenger", Proba: noisy, Threshold: 0.3}}},
		{"three classes, three models", multi.Y, multi.Classes, -1, []Candidate{{Name: "a", Proba: multi.Proba}, {Name: "b", Proba: perturbed(0.3)}, {Name: "c", Proba: perturbed(3)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Comparator{Bootstrap: Bootstrap{Resamples: 90, Seed: 5}}
			want, err := c.Compare(ctx, tc.y, tc.classes, tc.positive, "hash", tc.cands)
			require.NoError(t, err)
			var parts []Replicates
			for _, rg := range [][2]int{{0, 31}, {31, 32}, {32, 90}} {
				p, err := c.PairedReplicates(ctx, tc.y, tc.classes, tc.positive, tc.cands, rg[0], rg[1])
				require.NoError(t, err)
				require.Len(t, p.Values, rg[1]-rg[0])
				raw, err := json.Marshal(p)
				require.NoError(t, err)
				var back Replicates
				require.NoError(t, json.Unmarshal(raw, &back))
				parts = append(parts, back)
			}
			assert.Equal(t, len(tc.cands)*len(pairedMetrics(len(tc.classes))), len(parts[0].Metrics))
			got, err := c.CompareReplicates(ctx, tc.y, tc.classes, tc.positive, "hash", tc.cands, parts)
			require.NoError(t, err)
			// %#v prints every float in full (shortest round-trip form), NaN
			// included: equal strings are equal figures, bit for bit.
			assert.Equal(t, fmt.Sprintf("%#v", *want), fmt.Sprintf("%#v", *got))
			var paired int
			for _, pt := range got.Tests {
				if pt.Test == TestPairedBootstrap {
					paired++
					assert.False(t, math.IsNaN(pt.PValue), "%s %s-%s", pt.Metric, pt.ModelA, pt.ModelB)
				}
			}
			assert.Equal(t, len(tc.cands)*(len(tc.cands)-1)/2*len(pairedMetrics(len(tc.classes))), paired)

			for _, bad := range []struct {
				name  string
				parts []Replicates
			}{
				{"gap", []Replicates{parts[0], parts[2]}},
				{"short", parts[:2]},
				{"other models", []Replicates{{From: 0, Metrics: []string{"auc_pr/x"}, Values: make([][]float64, 90)}}},
			} {
				_, err := c.CompareReplicates(ctx, tc.y, tc.classes, tc.positive, "hash", tc.cands, bad.parts)
				assert.ErrorIs(t, err, ErrReplicates, bad.name)
			}
			_, err = c.PairedReplicates(ctx, tc.y, tc.classes, tc.positive, tc.cands, 80, 91)
			assert.ErrorIs(t, err, ErrInvalidRequest)
			_, err = c.PairedReplicates(ctx, tc.y, tc.classes, tc.positive, tc.cands[:1], 0, 10)
			assert.ErrorIs(t, err, ErrPaired)
		})
	}
}
