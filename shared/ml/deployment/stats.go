package deployment

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// ScoreBins is the number of equal bins on [0, 1] of the positive-class
// score histogram each version's traffic keeps (the serving contract).
const ScoreBins = 20

// VersionStats is one model version's traffic on an endpoint over a window,
// in the shape the serving side keeps it (serving.Traffic's snapshot; on
// AWS the predict function's EMF metrics read back with GetMetricData).
type VersionStats struct {
	// Requests counts the requests routed to the version; Errors those that
	// failed (5xx and model failures); SchemaViolations those refused for
	// missing, extra or non-numeric features.
	Requests, Errors, SchemaViolations int64
	// P99LatencyMS is the p99 of the requests' latency, in milliseconds.
	P99LatencyMS float64
	// Positives counts the predictions of the positive class (binary
	// models).
	Positives int64
	// ScoreHistogram counts the predictions' positive-class probability in
	// ScoreBins equal bins on [0, 1] (the last bin includes 1).
	ScoreHistogram [ScoreBins]int64
}

// Predictions is the number of predictions the histogram counts.
func (v VersionStats) Predictions() int64 {
	var n int64
	for _, c := range v.ScoreHistogram {
		n += c
	}
	return n
}

// ScoreBin is the histogram bin of a positive-class probability.
func ScoreBin(p float64) int {
	switch {
	case !(p > 0): // NaN and below
		return 0
	case p >= 1:
		return ScoreBins - 1
	}
	return min(ScoreBins-1, int(p*ScoreBins))
}

// Drift is the population stability index of one score histogram against
// another, with its chance level.
type Drift struct {
	// PSI is Σ_i (p_i − q_i)·ln(p_i / q_i) over the bins, p the new
	// version's shares and q the live version's.
	PSI float64 `json:"psi"`
	// Critical is the PSI that two samples of these sizes from one
	// distribution exceed with probability DriftAlpha:
	// (1/n + 1/m)·χ²_{k−1}(1 − DriftAlpha), k the bins either sample fills.
	Critical float64 `json:"critical"`
	// New and Live are the sample sizes n and m; Bins is k.
	New  int64 `json:"new_predictions"`
	Live int64 `json:"live_predictions"`
	Bins int   `json:"bins"`
}

// Significant reports whether the PSI exceeds its chance level.
func (d Drift) Significant() bool { return d.PSI > d.Critical }

// DriftAlpha is the false-alarm rate of Drift.Significant.
const DriftAlpha = 0.01

// PSI is the population stability index of the score histogram next
// against base (Siddiqi, "Credit Risk Scorecards", Wiley 2006, ch. 8:
// Σ (actual% − expected%)·ln(actual% / expected%) over score bands; the
// same as the symmetrised Kullback–Leibler divergence, Jeffreys' J). Each
// bin count gets 0.5 added before the shares are taken (Haldane–Anscombe),
// so that a bin empty in one sample and not the other contributes a finite
// amount. Its chance level follows Yurdakul & Naranjo, "Statistical
// properties of the population stability index", Journal of Risk Model
// Validation 14(4), 2020: for two samples of sizes n and m from one
// distribution over k bins, PSI ≈ (1/n + 1/m)·χ²_{k−1}.
func PSI(next, base [ScoreBins]int64) Drift {
	var n, m int64
	k := 0
	for i := range next {
		n += next[i]
		m += base[i]
		if next[i] > 0 || base[i] > 0 {
			k++
		}
	}
	d := Drift{New: n, Live: m, Bins: k}
	if n == 0 || m == 0 {
		return d
	}
	const add = 0.5
	nn := float64(n) + add*ScoreBins
	mm := float64(m) + add*ScoreBins
	for i := range next {
		p := (float64(next[i]) + add) / nn
		q := (float64(base[i]) + add) / mm
		d.PSI += (p - q) * math.Log(p/q)
	}
	df := max(1, k-1)
	d.Critical = (1/float64(n) + 1/float64(m)) * distuv.ChiSquared{K: float64(df)}.Quantile(1-DriftAlpha)
	return d
}

// Interval is a confidence interval of a proportion.
type Interval struct {
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
	// Estimate is the proportion observed, N the trials.
	Estimate   float64 `json:"estimate"`
	N          int64   `json:"n"`
	Confidence float64 `json:"confidence"`
}

// Wilson returns the Wilson score interval of k successes in n trials at
// the given confidence (Wilson, "Probable inference, the law of succession,
// and statistical inference", JASA 22, 1927; Agresti & Coull, "Approximate
// is better than 'exact' for interval estimation of binomial proportions",
// The American Statistician 52, 1998): (p̂ + z²/2n ± z·√(p̂(1−p̂)/n +
// z²/4n²)) / (1 + z²/n). n = 0 gives [0, 1].
func Wilson(k, n int64, confidence float64) Interval {
	iv := Interval{Lower: 0, Upper: 1, N: n, Confidence: confidence}
	if n <= 0 {
		return iv
	}
	z := distuv.UnitNormal.Quantile(1 - (1-confidence)/2)
	p := float64(k) / float64(n)
	nf := float64(n)
	den := 1 + z*z/nf
	centre := (p + z*z/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / den
	iv.Estimate = p
	iv.Lower, iv.Upper = max(0, centre-half), min(1, centre+half)
	return iv
}
