package evaluation

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/orrery-ml/orrery/shared/fault"
)

// ErrAnalysis means an analysis was asked for something its input cannot
// give: a target rate outside (0, 1], a binary analysis of a multi-class
// input, too few rows or classes for a calibration fit.
var ErrAnalysis = fault.New(fault.Invalid, "evaluation: invalid analysis request")

// PerformanceAnalyzer answers the questions that follow the headline
// metrics: which threshold, how well calibrated, how fast, and where the
// model is weak. Its zero value uses the defaults named on each field.
type PerformanceAnalyzer struct {
	// FPRTargets are the false-positive rates to find thresholds for
	// (default 0.01 and 0.05).
	FPRTargets []float64
	// RecallTargets are the recalls (completeness) to find thresholds for
	// (default 0.95 and 0.99).
	RecallTargets []float64
	// CalibrationBins is the number of equal-width reliability bins
	// (default 10).
	CalibrationBins int
	// CurvePoints caps the points of the threshold curves kept for plots
	// (default 200).
	CurvePoints int
}

// ThresholdPoint is the operating point of one binary decision threshold:
// predicting positive iff p(positive) >= Threshold.
type ThresholdPoint struct {
	// Method is f1, youden, fixed_fpr or fixed_recall.
	Method string `json:"method"`
	// Target is the false-positive rate or recall asked for (fixed_*).
	Target    float64 `json:"target,omitempty"`
	Threshold float64 `json:"threshold"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	FPR       float64 `json:"fpr"`
	F1        float64 `json:"f1"`
	// Reachable is false when no threshold meets Target; the point is then
	// the closest one.
	Reachable bool `json:"reachable"`
}

// ThresholdAnalysis lists candidate thresholds and the curves they lie on.
type ThresholdAnalysis struct {
	F1       ThresholdPoint   `json:"f1"`
	Youden   ThresholdPoint   `json:"youden"`
	AtFPR    []ThresholdPoint `json:"at_fpr"`
	AtRecall []ThresholdPoint `json:"at_recall"`
	// Curve samples the operating points over all distinct thresholds,
	// from the highest threshold down (for threshold plots).
	Curve []ThresholdPoint `json:"curve"`
}

// Named returns the point of a method: "f1", "youden", "fpr:<target>" or
// "recall:<target>" (target as written in the request, e.g. "fpr:0.01").
func (a ThresholdAnalysis) Named(name string) (ThresholdPoint, bool) {
	switch name {
	case "f1":
		return a.F1, true
	case "youden":
		return a.Youden, true
	}
	for _, p := range a.AtFPR {
		if name == "fpr:"+strconv.FormatFloat(p.Target, 'g', -1, 64) {
			return p, true
		}
	}
	for _, p := range a.AtRecall {
		if name == "recall:"+strconv.FormatFloat(p.Target, 'g', -1, 64) {
			return p, true
		}
	}
	return ThresholdPoint{}, false
}

func (a PerformanceAnalyzer) fprTargets() []float64 {
	if len(a.FPRTargets) == 0 {
		return []float64{0.01, 0.05}
	}
	return a.FPRTargets
}

func (a PerformanceAnalyzer) recallTargets() []float64 {
	if len(a.RecallTargets) == 0 {
		return []float64{0.95, 0.99}
	}
	return a.RecallTargets
}

// point returns the operating point at curve index i.
func (c curve) point(method string, i int) ThresholdPoint {
	tp, fp := float64(c.tp[i]), float64(c.fp[i])
	p := ThresholdPoint{Method: method, Threshold: c.thr[i], Reachable: true,
		Precision: ratio(tp, tp+fp), Recall: ratio(tp, float64(c.pos)), FPR: ratio(fp, float64(c.neg)),
		F1: ratio(2*tp, tp+fp+float64(c.pos))}
	return p
}

// Thresholds analyses the binary decision threshold of labels y (1 =
// positive) and positive-class scores: the F1-optimal threshold
// (BestF1Threshold), Youden's J (YoudenThreshold), for each FPR target the
// threshold of highest recall whose false-positive rate is at most the
// target, and for each recall target the highest threshold whose recall
// reaches it. Errors wrap ErrAnalysis (targets outside (0, 1], y lacking a
// class) or ErrPaired (lengths, NaN scores).
func (a PerformanceAnalyzer) Thresholds(y []int, score []float64) (ThresholdAnalysis, error) {
	c, ok := binaryCurveOf(y, score)
	if !ok {
		return ThresholdAnalysis{}, fmt.Errorf("threshold analysis of %d labels and %d scores: %w", len(y), len(score), ErrPaired)
	}
	if c.pos == 0 || c.neg == 0 {
		return ThresholdAnalysis{}, fmt.Errorf("threshold analysis: %d positives and %d negatives, need both: %w", c.pos, c.neg, ErrAnalysis)
	}
	var out ThresholdAnalysis
	f1Thr, _ := BestF1Threshold(y, score)
	out.F1 = c.point("f1", c.index(f1Thr))
	out.Youden = c.point("youden", c.index(YoudenThreshold(y, score)))
	for _, t := range a.fprTargets() {
		if !(t > 0 && t <= 1) {
			return ThresholdAnalysis{}, fmt.Errorf("false-positive rate target %v is not in (0, 1]: %w", t, ErrAnalysis)
		}
		best := -1
		for i := range c.thr {
			if float64(c.fp[i])/float64(c.neg) > t {
				break
			}
			best = i
		}
		p := ThresholdPoint{Method: "fixed_fpr"}
		if best >= 0 {
			p = c.point("fixed_fpr", best)
		} else {
			// Even the highest score lets too many negatives through:
			// the nearest rule predicts nothing positive.
			p.Threshold = math.Nextafter(c.thr[0], math.Inf(1))
			p.Reachable = false
		}
		p.Target = t
		out.AtFPR = append(out.AtFPR, p)
	}
	for _, t := range a.recallTargets() {
		if !(t > 0 && t <= 1) {
			return ThresholdAnalysis{}, fmt.Errorf("recall target %v is not in (0, 1]: %w", t, ErrAnalysis)
		}
		i := len(c.thr) - 1
		for j := range c.thr {
			if float64(c.tp[j])/float64(c.pos) >= t {
				i = j
				break
			}
		}
		p := c.point("fixed_recall", i)
		p.Target = t
		out.AtRecall = append(out.AtRecall, p)
	}
	limit := a.CurvePoints
	if limit <= 0 {
		limit = 200
	}
	step := max(1, len(c.thr)/limit)
	for i := 0; i < len(c.thr); i += step {
		out.Curve = append(out.Curve, c.point("curve", i))
	}
	return out, nil
}

// index returns the curve index of threshold t (a score value).
func (c curve) index(t float64) int {
	i, found := slices.BinarySearchFunc(c.thr, t, func(a, b float64) int { return cmp.Compare(b, a) })
	if !found && i >= len(c.thr) {
		return len(c.thr) - 1
	}
	return i
}

// CalibrationBin is one bin of a reliability curve.
type CalibrationBin struct {
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
	Count int     `json:"count"`
	// MeanPredicted is the mean positive-class probability in the bin,
	// FractionPositive the observed share of positives.
	MeanPredicted    float64 `json:"mean_predicted"`
	FractionPositive float64 `json:"fraction_positive"`
}

// Calibration describes how well probabilities match frequencies.
type Calibration struct {
	// Bins are the non-empty equal-width bins, as scikit-learn's
	// calibration_curve(y, p, n_bins, strategy='uniform') returns them.
	Bins []CalibrationBin `json:"bins"`
	// ECE is the expected calibration error Σ_b (n_b / n)·|acc_b − conf_b|
	// over the bins (Naeini, Cooper & Hauskrecht 2015, "Obtaining well
	// calibrated probabilities using Bayesian binning"); MCE the largest
	// |acc_b − conf_b|.
	ECE        float64 `json:"ece"`
	MCE        float64 `json:"mce"`
	BrierScore float64 `json:"brier_score"`
}

// Calibration computes the reliability curve, ECE, MCE and Brier score of
// positive-class probabilities p for labels y (1 = positive). A probability
// on a bin edge belongs to the lower bin, as numpy.searchsorted puts it.
// Errors wrap ErrPaired or ErrProbability.
func (a PerformanceAnalyzer) Calibration(y []int, p []float64) (Calibration, error) {
	if len(y) == 0 || len(y) != len(p) {
		return Calibration{}, fmt.Errorf("calibration of %d labels and %d probabilities: %w", len(y), len(p), ErrPaired)
	}
	bins := a.CalibrationBins
	if bins <= 0 {
		bins = 10
	}
	// numpy.linspace(0, 1, bins+1): edge i is i·(1/bins), the last exactly 1.
	step := 1 / float64(bins)
	edges := make([]float64, bins+1)
	for i := range edges {
		edges[i] = float64(i) * step
	}
	edges[bins] = 1
	sums, trues, counts := make([]float64, bins), make([]float64, bins), make([]int, bins)
	var brier float64
	for i, v := range p {
		if math.IsNaN(v) || v < 0 || v > 1 {
			return Calibration{}, fmt.Errorf("calibration: row %d probability %v: %w", i, v, ErrProbability)
		}
		// searchsorted(edges[1:-1], v, side='left'): inner edges below v.
		b, _ := slices.BinarySearch(edges[1:bins], v)
		sums[b] += v
		counts[b]++
		if y[i] == 1 {
			trues[b]++
		}
		d := float64(min(max(y[i], 0), 1)) - v
		brier += d * d
	}
	var out Calibration
	n := float64(len(y))
	for b := range bins {
		if counts[b] == 0 {
			continue
		}
		cnt := float64(counts[b])
		bin := CalibrationBin{Lower: edges[b], Upper: edges[b+1], Count: counts[b],
			MeanPredicted: sums[b] / cnt, FractionPositive: trues[b] / cnt}
		gap := math.Abs(bin.FractionPositive - bin.MeanPredicted)
		out.ECE += cnt / n * gap
		out.MCE = max(out.MCE, gap)
		out.Bins = append(out.Bins, bin)
	}
	out.BrierScore = brier / n
	return out, nil
}

// Calibrator maps a positive-class probability to a calibrated one.
type Calibrator interface {
	// Calibrate returns the calibrated probability of p.
	Calibrate(p float64) float64
}

// Calibration methods.
const (
	CalibrationPlatt    = "platt"
	CalibrationIsotonic = "isotonic"
)

// FitCalibrator fits a Platt or isotonic calibrator on held-out labels y
// (1 = positive) and probabilities p. Errors wrap ErrAnalysis (unknown
// method, a single class) or ErrPaired.
func FitCalibrator(method string, y []int, p []float64) (Calibrator, error) {
	if len(y) == 0 || len(y) != len(p) {
		return nil, fmt.Errorf("fit %s calibrator on %d labels and %d probabilities: %w", method, len(y), len(p), ErrPaired)
	}
	var pos int
	for _, v := range y {
		if v == 1 {
			pos++
		}
	}
	if pos == 0 || pos == len(y) {
		return nil, fmt.Errorf("fit %s calibrator: %d positives of %d rows, need both classes: %w", method, pos, len(y), ErrAnalysis)
	}
	switch method {
	case CalibrationPlatt:
		return FitPlatt(y, p), nil
	case CalibrationIsotonic:
		return FitIsotonic(y, p), nil
	}
	return nil, fmt.Errorf("calibration method %q is not %s or %s: %w", method, CalibrationPlatt, CalibrationIsotonic, ErrAnalysis)
}

// Platt is a fitted sigmoid 1 / (1 + exp(A·f + B)) of the score f.
type Platt struct {
	A float64 `json:"a"`
	B float64 `json:"b"`
}

// Calibrate applies the sigmoid.
func (s Platt) Calibrate(f float64) float64 {
	z := s.A*f + s.B
	if z >= 0 {
		e := math.Exp(-z)
		return e / (1 + e)
	}
	return 1 / (1 + math.Exp(z))
}

// FitPlatt fits Platt's sigmoid (Platt 1999, "Probabilistic outputs for
// support vector machines") to scores f and labels y (1 = positive) with his
// smoothed targets (N₊+1)/(N₊+2) and 1/(N₋+2), by Newton's method with
// backtracking as in Lin, Lin & Weng 2007, "A note on Platt's probabilistic
// outputs for support vector machines", Machine Learning 68:267. This is
// the fit of scikit-learn's CalibratedClassifierCV(method='sigmoid'), which
// stops its L-BFGS at a gradient of 1e-6; Newton converges further.
func FitPlatt(y []int, f []float64) Platt {
	var prior1 float64
	for _, v := range y {
		if v == 1 {
			prior1++
		}
	}
	prior0 := float64(len(y)) - prior1
	hi, lo := (prior1+1)/(prior1+2), 1/(prior0+2)
	target := make([]float64, len(y))
	for i, v := range y {
		target[i] = lo
		if v == 1 {
			target[i] = hi
		}
	}
	objective := func(a, b float64) float64 {
		var sum float64
		for i, x := range f {
			z := a*x + b
			// −[t log p + (1−t) log(1−p)] with p = 1/(1+e^z), stably.
			if z >= 0 {
				sum += (target[i]-1)*z + math.Log1p(math.Exp(-z)) + z
			} else {
				sum += (target[i]-1)*z + math.Log1p(math.Exp(z))
			}
		}
		return sum
	}
	a, b := 0.0, math.Log((prior0+1)/(prior1+1))
	fval := objective(a, b)
	const sigma = 1e-12
	for range 100 {
		var h11, h22, h21, g1, g2 float64
		for i, x := range f {
			p := Platt{a, b}.Calibrate(x)
			q := 1 - p
			d2 := p * q
			h11 += x * x * d2
			h22 += d2
			h21 += x * d2
			d1 := target[i] - p
			g1 += x * d1
			g2 += d1
		}
		if math.Abs(g1) < 1e-12 && math.Abs(g2) < 1e-12 {
			break
		}
		h11 += sigma
		h22 += sigma
		det := h11*h22 - h21*h21
		da := -(h22*g1 - h21*g2) / det
		db := -(-h21*g1 + h11*g2) / det
		gd := g1*da + g2*db
		step := 1.0
		improved := false
		for step >= 1e-10 {
			na, nb := a+step*da, b+step*db
			nf := objective(na, nb)
			if nf < fval+1e-4*step*gd {
				a, b, fval, improved = na, nb, nf, true
				break
			}
			step /= 2
		}
		if !improved {
			break
		}
	}
	return Platt{A: a, B: b}
}

// Isotonic is a fitted non-decreasing step-and-line function: the
// pool-adjacent-violators solution at the distinct training scores,
// interpolated linearly between them and clipped outside them.
type Isotonic struct {
	X []float64 `json:"x"`
	Y []float64 `json:"y"`
}

// Calibrate interpolates the fitted values (numpy.interp).
func (s Isotonic) Calibrate(p float64) float64 {
	n := len(s.X)
	if n == 0 {
		return p
	}
	if p <= s.X[0] {
		return s.Y[0]
	}
	if p >= s.X[n-1] {
		return s.Y[n-1]
	}
	i, _ := slices.BinarySearch(s.X, p) // s.X[i-1] < p <= s.X[i]
	if s.X[i] == p {
		return s.Y[i]
	}
	x0, x1, y0, y1 := s.X[i-1], s.X[i], s.Y[i-1], s.Y[i]
	return y0 + (p-x0)*(y1-y0)/(x1-x0)
}

// FitIsotonic fits isotonic regression of labels y (1 = positive) on scores
// p by pool adjacent violators (Ayer et al. 1955; Zadrozny & Elkan 2002,
// "Transforming classifier scores into accurate multiclass probability
// estimates"), as scikit-learn's IsotonicRegression(out_of_bounds='clip')
// does: equal scores are first merged into one point with their mean label
// and summed weight.
func FitIsotonic(y []int, p []float64) Isotonic {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(p[a], p[b]) })
	type block struct{ x, sum, w float64 }
	var pts []block
	for _, i := range idx {
		v := 0.0
		if y[i] == 1 {
			v = 1
		}
		if n := len(pts); n > 0 && pts[n-1].x == p[i] {
			pts[n-1].sum += v
			pts[n-1].w++
			continue
		}
		pts = append(pts, block{x: p[i], sum: v, w: 1})
	}
	// Pool adjacent violators over the merged points.
	type pool struct {
		sum, w     float64
		start, end int
	}
	var st []pool
	for i, b := range pts {
		cur := pool{sum: b.sum, w: b.w, start: i, end: i + 1}
		for len(st) > 0 && st[len(st)-1].sum/st[len(st)-1].w >= cur.sum/cur.w {
			top := st[len(st)-1]
			st = st[:len(st)-1]
			cur = pool{sum: top.sum + cur.sum, w: top.w + cur.w, start: top.start, end: cur.end}
		}
		st = append(st, cur)
	}
	out := Isotonic{X: make([]float64, len(pts)), Y: make([]float64, len(pts))}
	for _, pl := range st {
		for i := pl.start; i < pl.end; i++ {
			out.X[i] = pts[i].x
			out.Y[i] = pl.sum / pl.w
		}
	}
	return out
}

// Latency summarises prediction timings.
type Latency struct {
	// Per-row figures come from predicting one row per call, per-batch
	// ones from BatchSize rows per call; milliseconds.
	RowP50Ms   float64 `json:"row_p50_ms"`
	RowP95Ms   float64 `json:"row_p95_ms"`
	RowP99Ms   float64 `json:"row_p99_ms"`
	BatchSize  int     `json:"batch_size"`
	BatchP50Ms float64 `json:"batch_p50_ms"`
	BatchP95Ms float64 `json:"batch_p95_ms"`
	BatchP99Ms float64 `json:"batch_p99_ms"`
	// RowsPerSecond is the throughput of batched prediction.
	RowsPerSecond float64 `json:"rows_per_second"`
	// ModelBytes is the size of the model's files, Parameters the number of
	// weights (both 0 when the caller did not say).
	ModelBytes int64 `json:"model_bytes,omitempty"`
	Parameters int   `json:"parameters,omitempty"`
}

// MeasureLatency times p on the rows of x (rows × features, row-major):
// up to rowCalls single-row predictions and up to batchCalls predictions of
// batchSize rows (cycling over the data). It returns ctx's or the
// predictor's error.
func MeasureLatency(ctx context.Context, p Predictor, x []float64, rows, rowCalls, batchSize, batchCalls int) (Latency, error) {
	if p == nil {
		return Latency{}, fmt.Errorf("measure latency: %w", ErrNilPredictor)
	}
	if rows <= 0 || len(x)%rows != 0 {
		return Latency{}, fmt.Errorf("measure latency: %d values for %d rows: %w", len(x), rows, ErrInvalidDataset)
	}
	d := len(x) / rows
	batchSize = max(1, min(batchSize, rows))
	time1 := func(lo, n int) (float64, error) {
		start := time.Now()
		if _, err := p.PredictProba(ctx, x[lo*d:(lo+n)*d], n); err != nil {
			return 0, fmt.Errorf("measure latency: %w", err)
		}
		return float64(time.Since(start).Nanoseconds()) / 1e6, nil
	}
	var rowMs, batchMs []float64
	for i := range rowCalls {
		ms, err := time1(i%rows, 1)
		if err != nil {
			return Latency{}, err
		}
		rowMs = append(rowMs, ms)
	}
	var batchTotal float64
	for i := range batchCalls {
		lo := (i * batchSize) % (rows - batchSize + 1)
		ms, err := time1(lo, batchSize)
		if err != nil {
			return Latency{}, err
		}
		batchMs = append(batchMs, ms)
		batchTotal += ms
	}
	l := Latency{BatchSize: batchSize}
	l.RowP50Ms, l.RowP95Ms, l.RowP99Ms = Percentile(rowMs, 50), Percentile(rowMs, 95), Percentile(rowMs, 99)
	l.BatchP50Ms, l.BatchP95Ms, l.BatchP99Ms = Percentile(batchMs, 50), Percentile(batchMs, 95), Percentile(batchMs, 99)
	if batchTotal > 0 {
		l.RowsPerSecond = float64(batchCalls*batchSize) / (batchTotal / 1000)
	}
	return l, nil
}

// Percentile returns the q-th percentile (0–100) of v by linear
// interpolation between order statistics (numpy.percentile's default),
// ignoring NaN values; NaN when none is left.
func Percentile(v []float64, q float64) float64 {
	s := make([]float64, 0, len(v))
	for _, x := range v {
		if !math.IsNaN(x) {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		return math.NaN()
	}
	slices.Sort(s)
	pos := q / 100 * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	frac := pos - float64(lo)
	return s[lo] + frac*(s[hi]-s[lo])
}

// SliceResult is how the model does on one slice of the rows.
type SliceResult struct {
	// Slice is the column value or bin label.
	Slice     string `json:"slice"`
	Rows      int    `json:"rows"`
	Positives int    `json:"positives"`
	// Metrics of the slice (AUCs NaN where the slice holds one class).
	Accuracy  float64 `json:"accuracy"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1Score   float64 `json:"f1_score"`
	AUCROC    float64 `json:"auc_roc"`
	AUCPR     float64 `json:"auc_pr"`
}

// Slices scores in separately for every distinct key (keys[i] names row
// i's slice), slices in order of first appearance. Errors are Calculate's,
// or wrap ErrLengthMismatch when keys do not cover the rows.
func (c MetricsCalculator) Slices(in Input, keys []string) ([]SliceResult, error) {
	if len(keys) != len(in.Y) {
		return nil, fmt.Errorf("slice analysis: %d keys for %d rows: %w", len(keys), len(in.Y), ErrLengthMismatch)
	}
	if err := c.validate(in); err != nil {
		return nil, fmt.Errorf("slice analysis: %w", err)
	}
	k := len(in.Classes)
	var order []string
	rows := map[string][]int{}
	for i, key := range keys {
		if _, ok := rows[key]; !ok {
			order = append(order, key)
		}
		rows[key] = append(rows[key], i)
	}
	out := make([]SliceResult, 0, len(order))
	for _, key := range order {
		sub := subsetInput(in, rows[key])
		m := MetricsCalculator{}.calculate(withThreshold0(sub))
		r := SliceResult{Slice: key, Rows: len(sub.Y), Accuracy: m.Accuracy, Precision: m.Precision,
			Recall: m.Recall, F1Score: m.F1Score, AUCROC: m.AUCROC, AUCPR: m.AUCPR}
		if k == 2 {
			for _, v := range sub.Y {
				r.Positives += v
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// withThreshold0 applies the default binary threshold.
func withThreshold0(in Input) Input {
	if len(in.Classes) == 2 && in.Threshold == 0 {
		in.Threshold = DefaultThreshold
	}
	return in
}

// subsetInput returns the rows idx of in.
func subsetInput(in Input, idx []int) Input {
	k := len(in.Classes)
	out := Input{Classes: in.Classes, Positive: in.Positive, Threshold: in.Threshold,
		Y: make([]int, len(idx)), Proba: make([]float64, 0, len(idx)*k)}
	for j, i := range idx {
		out.Y[j] = in.Y[i]
		out.Proba = append(out.Proba, in.Proba[i*k:(i+1)*k]...)
	}
	return out
}

// BinLabels assigns each value to one of up to bins quantile bins of v and
// returns a label per value ("[lo, hi)", the last bin closed, "missing" for
// NaN), for slice analysis by a numeric feature. Edges are
// Percentile(v, 100·i/bins); repeated edges are merged.
func BinLabels(v []float64, bins int) []string {
	bins = max(1, bins)
	edges := []float64{}
	for i := 0; i <= bins; i++ {
		e := Percentile(v, 100*float64(i)/float64(bins))
		if len(edges) == 0 || e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	out := make([]string, len(v))
	format := func(x float64) string { return strconv.FormatFloat(x, 'g', 4, 64) }
	for i, x := range v {
		if math.IsNaN(x) || len(edges) == 0 {
			out[i] = "missing"
			continue
		}
		if len(edges) == 1 {
			out[i] = "[" + format(edges[0]) + "]"
			continue
		}
		b, _ := slices.BinarySearch(edges, x)
		// edges[b-1] < x <= edges[b]; a value equal to an inner edge opens
		// the next bin.
		if b < len(edges) && edges[b] == x {
			b++
		}
		b = min(max(b, 1), len(edges)-1)
		closing := ")"
		if b == len(edges)-1 {
			closing = "]"
		}
		out[i] = "[" + format(edges[b-1]) + ", " + format(edges[b]) + closing
	}
	return out
}
