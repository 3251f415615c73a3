package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// minSplitRows is the fewest rows a class needs to appear in each of train,
// validation and test.
const minSplitRows = 3

// StratifiedSplit partitions d into train, validation and test sets that keep
// each class's share. validation and test are fractions in (0, 1) whose sum
// is below 1; otherwise the error wraps ErrInvalidFraction.
//
// For each class c with n_c rows, the class's row indices are shuffled with a
// PCG generator seeded from seed; the first round(n_c*test) go to test, the
// next round(n_c*validation) to validation and the rest to train. Each subset
// gets at least one row of every class and train keeps at least one; a class
// with fewer than 3 rows gives an error wrapping ErrTooFewRows. Every subset
// lists its rows in their original order. The same seed gives the same split.
func StratifiedSplit(d *Dataset, validation, test float64, seed int64) (Split, error) {
	train, val, tst, err := stratifiedRows(d, validation, test, seed)
	if err != nil {
		return Split{}, err
	}
	return Split{Train: d.Subset(train), Validation: d.Subset(val), Test: d.Subset(tst)}, nil
}

// StratifiedSplitInPlace is StratifiedSplit without copying the rows: it
// reorders d's rows in place — the training rows first, then validation,
// then test, each in their original order — and returns subsets that are
// views of d's storage (X, Y, RowIDs, Weights), equal row for row to
// StratifiedSplit's. d keeps every row, with its RowIDs, in the new order;
// writing a subset's X writes d's. It is for callers that need only the
// split afterwards: the copies were a full second design matrix at the
// peak of a training job's memory.
func StratifiedSplitInPlace(d *Dataset, validation, test float64, seed int64) (Split, error) {
	train, val, tst, err := stratifiedRows(d, validation, test, seed)
	if err != nil {
		return Split{}, err
	}
	return d.partitionInPlace(train, val, tst), nil
}

// stratifiedRows draws the rows of each subset of StratifiedSplit, each
// list in increasing order.
func stratifiedRows(d *Dataset, validation, test float64, seed int64) (train, val, tst []int, err error) {
	if !(validation > 0 && validation < 1) || !(test > 0 && test < 1) || !(validation+test < 1) {
		return nil, nil, nil, fmt.Errorf("%w: validation %v and test %v must each be in (0, 1) with a sum below 1",
			ErrInvalidFraction, validation, test)
	}
	if d == nil || d.Rows == 0 {
		return nil, nil, nil, fmt.Errorf("%w: cannot split an empty data set", ErrTooFewRows)
	}
	if len(d.Y) != d.Rows {
		return nil, nil, nil, fmt.Errorf("dataset: data set has %d rows but %d labels", d.Rows, len(d.Y))
	}
	byClass := make([][]int, len(d.Classes))
	for i, c := range d.Y {
		if c < 0 || c >= len(byClass) {
			return nil, nil, nil, fmt.Errorf("dataset: row %d has class index %d, but there are %d classes", i, c, len(d.Classes))
		}
		byClass[c] = append(byClass[c], i)
	}
	// One generator for all classes, consumed in class order: deterministic
	// for a given seed and data set.
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))
	const (
		toTrain = iota
		toValidation
		toTest
	)
	dest := make([]uint8, d.Rows)
	for c, rows := range byClass {
		n := len(rows)
		if n < minSplitRows {
			return nil, nil, nil, fmt.Errorf("%w: class %q of target %q has %d rows; a stratified split needs at least %d",
				ErrTooFewRows, d.Classes[c], d.Target, n, minSplitRows)
		}
		nTest := max(1, int(math.Round(float64(n)*test)))
		nVal := max(1, int(math.Round(float64(n)*validation)))
		// Leave at least one training row, taking from the larger share.
		for nTest+nVal > n-1 {
			if nTest >= nVal {
				nTest--
			} else {
				nVal--
			}
		}
		shuffled := append([]int(nil), rows...)
		rng.Shuffle(n, func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		for _, i := range shuffled[:nTest] {
			dest[i] = toTest
		}
		for _, i := range shuffled[nTest : nTest+nVal] {
			dest[i] = toValidation
		}
	}
	for i, to := range dest {
		switch to {
		case toTest:
			tst = append(tst, i)
		case toValidation:
			val = append(val, i)
		default:
			train = append(train, i)
		}
	}
	return train, val, tst, nil
}

// partitionInPlace moves the rows train, then val, then tst (disjoint,
// covering every row, each increasing) to the front of d in that order and
// returns the three as views of d. The permutation is applied in place by
// following its cycles (each row moved once, through one row of scratch),
// so the only extra memory is the 4-byte source index of each row and a
// bit per row.
func (d *Dataset) partitionInPlace(train, val, tst []int) Split {
	n, nf := d.Rows, d.Features()
	if n != len(train)+len(val)+len(tst) || len(d.X) != n*nf || len(d.Y) != n || len(d.RowIDs) != n ||
		(d.Weights != nil && len(d.Weights) != n) || n > math.MaxInt32 {
		// Not the consistent data set the views need: copies, as
		// StratifiedSplit makes them (Subset skips what is out of range).
		return Split{Train: d.Subset(train), Validation: d.Subset(val), Test: d.Subset(tst)}
	}
	// src[k] is the row that lands at position k.
	src := make([]int32, 0, n)
	for _, part := range [][]int{train, val, tst} {
		for _, i := range part {
			src = append(src, int32(i))
		}
	}
	done := make([]uint64, (n+63)/64)
	row := make([]float64, nf)
	for start := range n {
		if done[start/64]&(1<<(start%64)) != 0 || int(src[start]) == start {
			continue
		}
		// Position start is overwritten first: its row waits aside.
		copy(row, d.X[start*nf:(start+1)*nf])
		y, id := d.Y[start], d.RowIDs[start]
		var w float64
		if d.Weights != nil {
			w = d.Weights[start]
		}
		k := start
		for {
			done[k/64] |= 1 << (k % 64)
			from := int(src[k])
			if from == start {
				break
			}
			copy(d.X[k*nf:(k+1)*nf], d.X[from*nf:(from+1)*nf])
			d.Y[k], d.RowIDs[k] = d.Y[from], d.RowIDs[from]
			if d.Weights != nil {
				d.Weights[k] = d.Weights[from]
			}
			k = from
		}
		copy(d.X[k*nf:(k+1)*nf], row)
		d.Y[k], d.RowIDs[k] = y, id
		if d.Weights != nil {
			d.Weights[k] = w
		}
	}
	view := func(lo, hi int) *Dataset {
		v := &Dataset{
			FeatureNames: slices.Clone(d.FeatureNames),
			X:            d.X[lo*nf : hi*nf : hi*nf],
			Rows:         hi - lo,
			Y:            d.Y[lo:hi:hi],
			Classes:      slices.Clone(d.Classes),
			Positive:     d.Positive,
			Target:       d.Target,
			RowIDs:       d.RowIDs[lo:hi:hi],
			Skipped:      slices.Clone(d.Skipped),
		}
		if d.Weights != nil {
			v.Weights = d.Weights[lo:hi:hi]
		}
		return v
	}
	a, b := len(train), len(train)+len(val)
	return Split{Train: view(0, a), Validation: view(a, b), Test: view(b, n)}
}
