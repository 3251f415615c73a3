package evaluation

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/orrery-ml/orrery/shared/fault"
)

// ErrPaired means two models' predictions cannot be compared row by row:
// different lengths, no rows, or labels outside {0, 1}.
var ErrPaired = fault.New(fault.Invalid, "evaluation: predictions are not paired")

// DeLongResult is the outcome of DeLong's test for two correlated ROC AUCs.
type DeLongResult struct {
	AUC1 float64 `json:"auc_1"`
	AUC2 float64 `json:"auc_2"`
	// Variance is the estimated variance of AUC1 − AUC2.
	Variance float64 `json:"variance"`
	Z        float64 `json:"z"`
	// PValue is two-sided: 2·Φ(−|z|). It is 1 when both curves are identical
	// (zero variance, equal AUCs).
	PValue float64 `json:"p_value"`
}

// DeLong compares the ROC AUCs of two scores of the same rows (DeLong,
// DeLong & Clarke-Pearson 1988, "Comparing the areas under two or more
// correlated receiver operating characteristic curves: a nonparametric
// approach", Biometrics 44:837), computing the structural components with
// the mid-rank algorithm of Sun & Xu 2014, "Fast implementation of DeLong's
// algorithm", IEEE Signal Processing Letters 21:1389, in O(n log n).
// Covariances use the unbiased (n − 1) normaliser, as the paper does.
// y holds 1 for positives and 0 for negatives. Errors wrap ErrPaired, or
// ErrClasses when y lacks either class.
func DeLong(y []int, score1, score2 []float64) (DeLongResult, error) {
	if len(y) == 0 || len(score1) != len(y) || len(score2) != len(y) {
		return DeLongResult{}, fmt.Errorf("delong: %d labels, %d and %d scores: %w", len(y), len(score1), len(score2), ErrPaired)
	}
	var pos, neg []int
	for i, v := range y {
		switch v {
		case 1:
			pos = append(pos, i)
		case 0:
			neg = append(neg, i)
		default:
			return DeLongResult{}, fmt.Errorf("delong: row %d has label %d, want 0 or 1: %w", i, v, ErrPaired)
		}
		if math.IsNaN(score1[i]) || math.IsNaN(score2[i]) {
			return DeLongResult{}, fmt.Errorf("delong: row %d has a NaN score: %w", i, ErrNotFinite)
		}
	}
	m, n := len(pos), len(neg)
	if m < 2 || n < 2 {
		return DeLongResult{}, fmt.Errorf("delong: %d positives and %d negatives, need two of each: %w", m, n, ErrClasses)
	}
	v10a, v01a, auc1 := placements(pos, neg, score1)
	v10b, v01b, auc2 := placements(pos, neg, score2)
	s10 := covariance2(v10a, v10b)
	s01 := covariance2(v01a, v01b)
	// Var(A1 − A2) = [S10_11 + S10_22 − 2 S10_12]/m + [S01 likewise]/n.
	variance := (s10[0]+s10[2]-2*s10[1])/float64(m) + (s01[0]+s01[2]-2*s01[1])/float64(n)
	r := DeLongResult{AUC1: auc1, AUC2: auc2, Variance: variance}
	diff := auc1 - auc2
	switch {
	case variance <= 0 && diff == 0:
		r.Z, r.PValue = 0, 1
	case variance <= 0:
		r.Z, r.PValue = math.Copysign(math.Inf(1), diff), 0
	default:
		r.Z = diff / math.Sqrt(variance)
		r.PValue = math.Erfc(math.Abs(r.Z) / math.Sqrt2)
	}
	return r, nil
}

// placements returns the structural components of one score: for each
// positive the fraction of negatives it outranks (ties count one half), for
// each negative the fraction of positives that outrank it, and the AUC.
func placements(pos, neg []int, score []float64) (v10, v01 []float64, auc float64) {
	m, n := len(pos), len(neg)
	x := make([]float64, m)
	for i, r := range pos {
		x[i] = score[r]
	}
	yv := make([]float64, n)
	for j, r := range neg {
		yv[j] = score[r]
	}
	z := append(slices.Clone(x), yv...)
	tx, ty, tz := midranks(x), midranks(yv), midranks(z)
	v10, v01 = make([]float64, m), make([]float64, n)
	var sum float64
	for i := range m {
		v10[i] = (tz[i] - tx[i]) / float64(n)
		sum += tz[i]
	}
	for j := range n {
		v01[j] = 1 - (tz[m+j]-ty[j])/float64(m)
	}
	auc = sum/float64(m)/float64(n) - float64(m+1)/(2*float64(n))
	return v10, v01, auc
}

// midranks returns the 1-based rank of each value, tied values sharing the
// mean of their ranks.
func midranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(v[a], v[b]) })
	out := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && v[idx[j]] == v[idx[i]] {
			j++
		}
		rank := float64(i+j+1) / 2 // mean of ranks i+1 .. j
		for k := i; k < j; k++ {
			out[idx[k]] = rank
		}
		i = j
	}
	return out
}

// covariance2 returns [var(a), cov(a, b), var(b)] with the n − 1 normaliser.
func covariance2(a, b []float64) [3]float64 {
	n := float64(len(a))
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= n
	mb /= n
	var saa, sab, sbb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		saa += da * da
		sab += da * db
		sbb += db * db
	}
	return [3]float64{saa / (n - 1), sab / (n - 1), sbb / (n - 1)}
}

// McNemarResult is the outcome of McNemar's test on two classifiers'
// correctness over the same rows.
type McNemarResult struct {
	// Table is [[both correct, only 1 correct], [only 2 correct, both
	// wrong]].
	Table [2][2]int `json:"table"`
	// Exact is true for the exact binomial test, false for the chi-square
	// test with continuity correction.
	Exact     bool    `json:"exact"`
	Statistic float64 `json:"statistic"`
	PValue    float64 `json:"p_value"`
}

// McNemarExactBelow is the number of discordant rows under which McNemar
// uses the exact binomial test rather than the chi-square approximation.
const McNemarExactBelow = 25

// McNemar compares two classifiers' accuracy on the same rows (McNemar 1947,
// "Note on the sampling error of the difference between correlated
// proportions or percentages", Psychometrika 12:153). correct1[i] and
// correct2[i] say whether each classifier got row i right. With b and c the
// two discordant counts it uses, as statsmodels'
// contingency_tables.mcnemar does, the exact two-sided binomial test
// (statistic min(b, c), p = min(1, 2·P[Bin(b+c, ½) ≤ min(b, c)])) when
// b + c < McNemarExactBelow, and otherwise the chi-square test with
// continuity correction (statistic (|b − c| − 1)² / (b + c), one degree of
// freedom). Without discordant rows the p-value is 1. Errors wrap ErrPaired.
func McNemar(correct1, correct2 []bool) (McNemarResult, error) {
	if len(correct1) == 0 || len(correct1) != len(correct2) {
		return McNemarResult{}, fmt.Errorf("mcnemar: %d and %d rows: %w", len(correct1), len(correct2), ErrPaired)
	}
	var t [2][2]int
	for i := range correct1 {
		a, b := 1, 1
		if correct1[i] {
			a = 0
		}
		if correct2[i] {
			b = 0
		}
		t[a][b]++
	}
	return McNemarTable(t, t[0][1]+t[1][0] < McNemarExactBelow), nil
}

// McNemarTable runs McNemar's test on a 2×2 table of paired outcomes,
// exact (binomial) or by the continuity-corrected chi-square, as
// statsmodels' mcnemar(table, exact, correction=True).
func McNemarTable(t [2][2]int, exact bool) McNemarResult {
	b, c := t[0][1], t[1][0]
	r := McNemarResult{Table: t, Exact: exact}
	if b+c == 0 {
		r.PValue = 1
		return r
	}
	if exact {
		k := min(b, c)
		r.Statistic = float64(k)
		r.PValue = min(1, 2*binomialCDFHalf(k, b+c))
		return r
	}
	d := math.Abs(float64(b-c)) - 1
	r.Statistic = d * d / float64(b+c)
	r.PValue = math.Erfc(math.Sqrt(r.Statistic / 2)) // chi-square(1) survival
	return r
}

// binomialCDFHalf returns P[X ≤ k] for X ~ Binomial(n, ½), summing the terms
// in log space.
func binomialCDFHalf(k, n int) float64 {
	lgN, _ := math.Lgamma(float64(n + 1))
	var sum float64
	for i := 0; i <= k; i++ {
		a, _ := math.Lgamma(float64(i + 1))
		b, _ := math.Lgamma(float64(n - i + 1))
		sum += math.Exp(lgN - a - b - float64(n)*math.Ln2)
	}
	return min(sum, 1)
}
