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
	// Count each class's rows, checking every label.
	counts := make([]int, len(d.Classes))
	for i, c := range d.Y {
		if c < 0 || c >= len(counts) {
			return nil, nil, nil, fmt.Errorf("dataset: row %d has class index %d, but there are %d classes", i, c, len(d.Classes))
		}
		counts[c]++
	}
	// One generator for all classes, consumed in class order: deterministic
	// for a given seed and data set.
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))
	dest := make([]uint8, d.Rows)
	if d.Rows <= math.MaxInt32 {
		err = drawSplit[int32](d, counts, validation, test, rng, dest)
	} else {
		err = drawSplit[int](d, counts, validation, test, rng, dest)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	var sizes [3]int
	for _, to := range dest {
		sizes[to]++
	}
	train, val, tst = make([]int, 0, sizes[toTrain]), make([]int, 0, sizes[toValidation]), make([]int, 0, sizes[toTest])
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

// Where drawSplit sends a row.
const (
	toTrain = iota
	toValidation
	toTest
)

// drawSplit marks in dest where each row of d goes (toTrain, toValidation,
// toTest): for each class in order, its rows (counts[c] of them) are
// shuffled with rng and the first round(n·test) go to test, the next
// round(n·validation) to validation. The rows are listed as T, int32 when
// they fit: the shuffle's random swaps are its cost, and half the bytes
// are half the cache misses.
func drawSplit[T int32 | int](d *Dataset, counts []int, validation, test float64, rng *rand.Rand, dest []uint8) error {
	// Each class's rows, in one array sized by the count: appending row
	// by row to a list per class grew and copied them as they went.
	byClass := make([][]T, len(d.Classes))
	all := make([]T, d.Rows)
	for c, at := 0, 0; c < len(counts); c++ {
		byClass[c], at = all[at:at:at+counts[c]], at+counts[c]
	}
	for i, c := range d.Y {
		byClass[c] = append(byClass[c], T(i))
	}
	for c, rows := range byClass {
		n := len(rows)
		if n < minSplitRows {
			return fmt.Errorf("%w: class %q of target %q has %d rows; a stratified split needs at least %d",
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
		fisherYates(rng, rows) // the class's own list, shuffled where it is
		for _, i := range rows[:nTest] {
			dest[i] = toTest
		}
		for _, i := range rows[nTest : nTest+nVal] {
			dest[i] = toValidation
		}
	}
	return nil
}

// fisherYates shuffles s with the draws of rng.Shuffle(len(s), swap) —
// for i from len(s)-1 down to 1, swap i with rng.Uint64N(i+1) — without
// a call of swap per element (TestFisherYatesIsShuffle holds it to
// rand.Rand.Shuffle).
func fisherYates[T int32 | int](rng *rand.Rand, s []T) {
	for i := len(s) - 1; i > 0; i-- {
		j := int(rng.Uint64N(uint64(i + 1)))
		s[i], s[j] = s[j], s[i]
	}
}

// partitionInPlace moves the rows train, then val, then tst (disjoint,
// covering every row, each increasing) to the front of d in that order and
// returns the three as views of d. It is two stable partitions in place
// (moveToTail): the test rows to the end, then, in what is left, the
// validation rows to its end. Each reads and writes in increasing or
// decreasing order, which the hardware prefetches; following the
// permutation's cycles instead makes every step's source a dependent
// random load (about 2 s of a 10M x 10 split, five times in an `orrery
// train`). The extra memory is the rows set aside by the larger of the two
// partitions: the test rows that lie before the test block's place (with
// the default fractions of 0.2 and 0.15, about 16 % of the rows; a
// single copy of the held-out rows would need 35 %).
func (d *Dataset) partitionInPlace(train, val, tst []int) Split {
	n, nf := d.Rows, d.Features()
	if n != len(train)+len(val)+len(tst) || len(d.X) != n*nf || len(d.Y) != n || len(d.RowIDs) != n ||
		(d.Weights != nil && len(d.Weights) != n) {
		// Not the consistent data set the views need: copies, as
		// StratifiedSplit makes them (Subset skips what is out of range).
		return Split{Train: d.Subset(train), Validation: d.Subset(val), Test: d.Subset(tst)}
	}
	const (
		inTrain = iota
		inValidation
		inTest
	)
	group := make([]uint8, n)
	for _, i := range val {
		group[i] = inValidation
	}
	for _, i := range tst {
		group[i] = inTest
	}
	d.moveToTail(group, n, inTest)
	d.moveToTail(group, n-len(tst), inValidation)
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

// moveToTail reorders the first hi rows of d (and group, which holds each
// row's group) so that the rows of group tail come last and the others
// first, each in the order they had: a stable partition in place.
//
// With S tail rows, the boundary is b = hi − S. The tail rows before b are
// copied aside, in order; the other rows are moved forward in one sweep
// (the k-th comes from a row at or after k, so a row is only written over
// one already moved or set aside); the tail rows at or after b are moved
// back in one sweep from the end (each goes at or after where it is, and
// what was there has been moved); and the rows set aside go in at b.
func (d *Dataset) moveToTail(group []uint8, hi int, tail uint8) {
	nf := d.Features()
	s := 0
	for _, g := range group[:hi] {
		if g == tail {
			s++
		}
	}
	b := hi - s
	aside := 0
	for _, g := range group[:b] {
		if g == tail {
			aside++
		}
	}
	if aside == 0 {
		return // the tail rows are already the last ones
	}
	sideX, sideY, sideID := make([]float64, 0, aside*nf), make([]int, 0, aside), make([]int, 0, aside)
	var sideW []float64
	if d.Weights != nil {
		sideW = make([]float64, 0, aside)
	}
	for i, g := range group[:b] {
		if g == tail {
			sideX = append(sideX, d.X[i*nf:(i+1)*nf]...)
			sideY, sideID = append(sideY, d.Y[i]), append(sideID, d.RowIDs[i])
			if d.Weights != nil {
				sideW = append(sideW, d.Weights[i])
			}
		}
	}
	move := func(to, from int) {
		copy(d.X[to*nf:(to+1)*nf], d.X[from*nf:(from+1)*nf])
		d.Y[to], d.RowIDs[to], group[to] = d.Y[from], d.RowIDs[from], group[from]
		if d.Weights != nil {
			d.Weights[to] = d.Weights[from]
		}
	}
	w := 0
	for i := range hi {
		if group[i] != tail {
			if w != i {
				move(w, i)
			}
			w++
		}
	}
	// Only rows before b were written, so the tail rows from b on are
	// where they were.
	to := hi - 1
	for i := hi - 1; i >= b; i-- {
		if group[i] == tail {
			if to != i {
				move(to, i)
			}
			to--
		}
	}
	copy(d.X[b*nf:(b+aside)*nf], sideX)
	copy(d.Y[b:b+aside], sideY)
	copy(d.RowIDs[b:b+aside], sideID)
	if d.Weights != nil {
		copy(d.Weights[b:b+aside], sideW)
	}
	for i := b; i < b+aside; i++ {
		group[i] = tail
	}
}
