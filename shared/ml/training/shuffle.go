package training

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Split parts of HashSplit.
const (
	PartTrain = iota
	PartValidation
	PartTest
)

// HashSplit assigns a row to train, validation or test by a hash of its
// row number and the seed, so a streaming pass can tell a row's part
// without an index array of all rows: the same row, seed and fractions
// always give the same part. It is not stratified: each part's class
// shares match the file's only up to sampling noise (binomial, relative
// error about 1/√(rows of the class in the part)).
type HashSplit struct {
	Validation, Test float64
	Seed             int64
}

// Part returns PartTrain, PartValidation or PartTest for the 0-based row.
func (h HashSplit) Part(row int) int {
	// SplitMix64's finaliser (Steele, Lea and Flood, "Fast splittable
	// pseudorandom number generators", OOPSLA 2014) of row and seed: the
	// top 53 bits are a uniform fraction in [0, 1).
	z := uint64(row) + uint64(h.Seed)*0x9e3779b97f4a7c15 + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	u := float64(z>>11) / (1 << 53)
	switch {
	case u < h.Test:
		return PartTest
	case u < h.Test+h.Validation:
		return PartValidation
	}
	return PartTrain
}

// ShuffleBuffer is a bounded shuffle of a stream of rows (the shuffle
// buffer of tf.data's Dataset.shuffle): it holds at most Capacity rows;
// once full, each row pushed takes the place of a row drawn uniformly
// from the buffer, which is emitted. Drain emits what is left in a random
// order. Every row pushed is emitted exactly once, and the order depends
// only on the rows' order and the generator, so a seed gives the same
// order every time. A row can move back by at most Capacity positions
// from where it entered (forward, any distance); the streaming source
// also visits the row groups in a seeded random order, which mixes the
// file at the larger scale.
type ShuffleBuffer struct {
	features int
	rng      *rand.Rand
	x        []float64
	y        []int
	n, cap   int
}

// NewShuffleBuffer returns an empty buffer of capacity rows of features
// values, drawing from rng.
func NewShuffleBuffer(capacity, features int, rng *rand.Rand) (*ShuffleBuffer, error) {
	if capacity < 1 || features < 1 || capacity > math.MaxInt32/features {
		return nil, fmt.Errorf("%w: shuffle buffer of %d rows of %d features", ErrInvalidConfig, capacity, features)
	}
	return &ShuffleBuffer{features: features, rng: rng, x: make([]float64, capacity*features), y: make([]int, capacity), cap: capacity}, nil
}

// Reset empties the buffer and makes it draw from rng from now on.
func (b *ShuffleBuffer) Reset(rng *rand.Rand) { b.n, b.rng = 0, rng }

// Len is the number of rows held.
func (b *ShuffleBuffer) Len() int { return b.n }

// Push adds the row (x, y); when the buffer is full it first emits a row
// drawn from it (whose slice is valid only during the call). An error
// from emit is returned.
func (b *ShuffleBuffer) Push(x []float64, y int, emit func(x []float64, y int) error) error {
	f := b.features
	if b.n < b.cap {
		copy(b.x[b.n*f:(b.n+1)*f], x)
		b.y[b.n] = y
		b.n++
		return nil
	}
	j := b.rng.IntN(b.cap)
	slot := b.x[j*f : (j+1)*f]
	if err := emit(slot, b.y[j]); err != nil {
		return err
	}
	copy(slot, x)
	b.y[j] = y
	return nil
}

// Drain emits every row held, in a random order, and empties the buffer.
func (b *ShuffleBuffer) Drain(emit func(x []float64, y int) error) error {
	f := b.features
	for b.n > 0 {
		j := b.rng.IntN(b.n)
		last := b.n - 1
		if err := emit(b.x[j*f:(j+1)*f], b.y[j]); err != nil {
			return err
		}
		// The last row takes the emitted one's place.
		copy(b.x[j*f:(j+1)*f], b.x[last*f:(last+1)*f])
		b.y[j] = b.y[last]
		b.n--
	}
	return nil
}
