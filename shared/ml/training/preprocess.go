package training

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/nn"
)

// ErrFeatureMismatch is wrapped when data and a fitted transform disagree on
// the number of features.
var ErrFeatureMismatch = fault.New(fault.Invalid, "training: feature count mismatch")

// DataPreprocessor fits the feature transform (median imputation, then
// standardisation) on the training split, and applies it to any split.
type DataPreprocessor struct{}

// Fit learns, from the training split only, for each feature: the imputation
// value (the median of the non-missing training values, as numpy.median; 0
// when there are none), and the mean and population standard deviation of the
// imputed training values (a standard deviation of 0 becomes 1, so that a
// constant feature maps to 0). Infinite values are left out of the statistics;
// validation reports them as errors. The error wraps ErrInvalidData when train
// is nil, has no rows or is inconsistent.
func (DataPreprocessor) Fit(train *dataset.Dataset) (nn.Preprocessing, error) {
	if train == nil || train.Rows == 0 {
		return nn.Preprocessing{}, fmt.Errorf("fit preprocessing: %w: the training split has no rows", ErrInvalidData)
	}
	nf := train.Features()
	if len(train.X) != train.Rows*nf {
		return nn.Preprocessing{}, fmt.Errorf("fit preprocessing: %w: training split has %d values for %d rows of %d features",
			ErrInvalidData, len(train.X), train.Rows, nf)
	}
	p := nn.Preprocessing{Impute: make([]float64, nf), Mean: make([]float64, nf), Scale: make([]float64, nf)}
	// Features are fitted in parallel, one per goroutine at a time, each
	// with its own buffers: a feature's statistics are computed exactly as
	// alone, so the transform does not depend on the number of cores.
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(nf, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			values := make([]float64, 0, train.Rows)
			var scratch []float64
			for {
				j := int(next.Add(1) - 1)
				if j >= nf {
					return
				}
				values = values[:0]
				for i := range train.Rows {
					if v := train.X[i*nf+j]; !math.IsNaN(v) {
						values = append(values, v)
					}
				}
				var med float64
				med, scratch = medianInto(scratch, values)
				p.Impute[j], p.Mean[j], p.Scale[j] = standardise(values, train.Rows-len(values), med)
			}
		})
	}
	wg.Wait()
	if err := p.Check(); err != nil {
		return nn.Preprocessing{}, fmt.Errorf("fit preprocessing: %w", err)
	}
	return p, nil
}

// standardise returns a feature's imputation value med and the mean and
// population standard deviation of its imputed training values: the
// values present, plus `missing` copies of med. A standard deviation of
// 0 (or not finite) becomes 1.
func standardise(values []float64, missing int, med float64) (impute, mean, std float64) {
	// Welford's algorithm (Knuth TAOCP vol. 2, 4.2.2).
	var n, m2 float64
	push := func(v float64) {
		n++
		d := v - mean
		mean += d / n
		m2 += d * (v - mean)
	}
	for _, v := range values {
		if !math.IsInf(v, 0) {
			push(v)
		}
	}
	for range missing {
		push(med)
	}
	if n > 0 {
		std = math.Sqrt(m2 / n)
	}
	if std == 0 || math.IsNaN(std) || math.IsInf(std, 0) {
		std = 1
	}
	return med, mean, std
}

// median returns the median of the finite values in v (the mean of the two
// middle values for an even count), or 0 when there are none. v is not
// modified.
func median(v []float64) float64 {
	m, _ := medianInto(nil, v)
	return m
}

// medianInto is median using scratch (grown as needed, and returned for
// the next call) for the finite values, which it reorders by selection —
// Hoare's FIND (CACM 4(7), 1961: Algorithm 65) with a median-of-three
// pivot — in expected linear time instead of a sort.
func medianInto(scratch, v []float64) (float64, []float64) {
	finite := scratch[:0]
	for _, x := range v {
		if !math.IsInf(x, 0) {
			finite = append(finite, x)
		}
	}
	n := len(finite)
	if n == 0 {
		return 0, finite
	}
	hi := selectKth(finite, n/2)
	if n%2 == 1 {
		return hi, finite
	}
	// Selection leaves the n/2 smallest values before index n/2: the
	// other middle value is their largest.
	lo := finite[0]
	for _, x := range finite[1 : n/2] {
		lo = max(lo, x)
	}
	return (lo + hi) / 2, finite
}

// selectKth reorders v so that v[k] is the value a sort would put there,
// with no larger value before it and no smaller one after, and returns it.
// v holds no NaN.
func selectKth(v []float64, k int) float64 {
	lo, hi := 0, len(v)-1
	for hi > lo {
		if hi-lo < 16 {
			slices.Sort(v[lo : hi+1])
			break
		}
		mid := lo + (hi-lo)/2
		// Median of three as the pivot, left at v[mid].
		if v[mid] < v[lo] {
			v[mid], v[lo] = v[lo], v[mid]
		}
		if v[hi] < v[lo] {
			v[hi], v[lo] = v[lo], v[hi]
		}
		if v[hi] < v[mid] {
			v[hi], v[mid] = v[mid], v[hi]
		}
		pivot := v[mid]
		i, j := lo, hi
		for i <= j {
			for v[i] < pivot {
				i++
			}
			for v[j] > pivot {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		// v[lo..j] <= pivot <= v[i..hi], and v[j+1..i-1] == pivot.
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return v[k]
		}
	}
	return v[k]
}

// Transform returns a transformed copy of d's X (d is not modified). The error
// wraps ErrFeatureMismatch when d's feature count differs from p's, and
// reports a malformed p.
func (t DataPreprocessor) Transform(p nn.Preprocessing, d *dataset.Dataset) ([]float64, error) {
	if err := t.check(p, d); err != nil {
		return nil, err
	}
	x := slices.Clone(d.X)
	p.Apply(x)
	return x, nil
}

// TransformInPlace is Transform writing d.X itself: for a caller that owns d
// and needs only the transformed values, one design matrix less. On an
// error d is unchanged.
func (t DataPreprocessor) TransformInPlace(p nn.Preprocessing, d *dataset.Dataset) error {
	if err := t.check(p, d); err != nil {
		return err
	}
	p.Apply(d.X)
	return nil
}

// check is what Transform checks of p and d.
func (DataPreprocessor) check(p nn.Preprocessing, d *dataset.Dataset) error {
	if err := p.Check(); err != nil {
		return fmt.Errorf("transform: %w", err)
	}
	if d == nil {
		return fmt.Errorf("transform: %w: nil data set", ErrInvalidData)
	}
	if d.Features() != p.Features() {
		return fmt.Errorf("transform: %w: the preprocessing expects %d features, data set with target %q has %d",
			ErrFeatureMismatch, p.Features(), d.Target, d.Features())
	}
	if len(d.X) != d.Rows*d.Features() {
		return fmt.Errorf("transform: %w: %d values for %d rows of %d features", ErrInvalidData, len(d.X), d.Rows, d.Features())
	}
	return nil
}
