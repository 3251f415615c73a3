package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"
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
	if !(validation > 0 && validation < 1) || !(test > 0 && test < 1) || !(validation+test < 1) {
		return Split{}, fmt.Errorf("%w: validation %v and test %v must each be in (0, 1) with a sum below 1",
			ErrInvalidFraction, validation, test)
	}
	if d == nil || d.Rows == 0 {
		return Split{}, fmt.Errorf("%w: cannot split an empty data set", ErrTooFewRows)
	}
	if len(d.Y) != d.Rows {
		return Split{}, fmt.Errorf("dataset: data set has %d rows but %d labels", d.Rows, len(d.Y))
	}
	byClass := make([][]int, len(d.Classes))
	for i, c := range d.Y {
		if c < 0 || c >= len(byClass) {
			return Split{}, fmt.Errorf("dataset: row %d has class index %d, but there are %d classes", i, c, len(d.Classes))
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
			return Split{}, fmt.Errorf("%w: class %q of target %q has %d rows; a stratified split needs at least %d",
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
	var train, val, tst []int
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
	return Split{Train: d.Subset(train), Validation: d.Subset(val), Test: d.Subset(tst)}, nil
}
