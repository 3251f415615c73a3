package training

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/nn"
)

// BatchSource deals the training split's mini-batches to the trainer: the
// port through which ModelTrainer reads its training rows, whether they
// are held in memory (Examples, the default) or streamed from a file
// (StreamSource).
type BatchSource interface {
	// Batches calls fn with every mini-batch of the epoch in order: x is
	// rows × features row-major (preprocessed, finite), y the rows' class
	// indices, w their sample weights (nil: every row weighs 1), at most
	// batch rows, each training row exactly once per epoch. The slices are
	// valid only during the call. rng is the epoch's generator (the
	// in-memory source draws its permutation from it). A cancelled ctx,
	// an error of the source or of fn stops it and is returned.
	Batches(ctx context.Context, epoch, batch int, rng *rand.Rand, fn func(x []float64, y []int, w []float64) error) error
	// Fingerprint identifies the rows and their order rules, for the
	// checkpoint's data hash: another file, split or buffer gives another.
	Fingerprint() string
}

// memorySource is the BatchSource of Examples held in memory: each epoch a
// permutation of all rows drawn from the epoch's generator.
type memorySource struct {
	e    Examples
	perm []int
	xb   []float64
	yb   []int
	wb   []float64
}

func (m *memorySource) Fingerprint() string { return "" }

func (m *memorySource) Batches(ctx context.Context, _ int, batch int, rng *rand.Rand, fn func(x []float64, y []int, w []float64) error) error {
	tr, f := m.e, m.e.Features
	if len(m.perm) != tr.Rows {
		m.perm = make([]int, tr.Rows)
		m.xb, m.yb = make([]float64, batch*f), make([]int, batch)
		if tr.W != nil {
			m.wb = make([]float64, batch)
		}
	}
	perm := m.perm
	for i := range perm {
		perm[i] = i
	}
	rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	for lo := 0; lo < tr.Rows; lo += batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows := min(batch, tr.Rows-lo)
		for k, idx := range perm[lo : lo+rows] {
			copy(m.xb[k*f:(k+1)*f], tr.X[idx*f:(idx+1)*f])
			m.yb[k] = tr.Y[idx]
			if m.wb != nil {
				m.wb[k] = tr.W[idx]
			}
		}
		var w []float64
		if m.wb != nil {
			w = m.wb[:rows]
		}
		if err := fn(m.xb[:rows*f], m.yb[:rows], w); err != nil {
			return err
		}
	}
	return nil
}

// DefaultShuffleRows is the shuffle buffer of a StreamSource when the
// configuration gives none: 2^18 rows (20 MiB at 10 features), the size of
// one row group as dataset.WriteParquet writes them.
const DefaultShuffleRows = 1 << 18

// StreamSource is the BatchSource of a Parquet file's training split,
// read one row group at a time: each epoch it visits the row groups in an
// order drawn from (Seed, epoch), keeps the rows HashSplit puts in train,
// preprocesses them with Prep and passes them through a ShuffleBuffer of
// ShuffleRows rows into mini-batches. Its memory is the buffer, one row
// group and one batch, whatever the file's size.
type StreamSource struct {
	Stream      *dataset.ParquetStream
	Split       HashSplit
	Prep        nn.Preprocessing
	ShuffleRows int
	Seed        int64

	buf   *ShuffleBuffer
	chunk dataset.Chunk
	rowOf []int
}

func (s *StreamSource) capacity() int {
	if s.ShuffleRows < 1 {
		return DefaultShuffleRows
	}
	return s.ShuffleRows
}

// Fingerprint is the file's hash with the split and the buffer.
func (s *StreamSource) Fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "stream %s split %v/%v/%d shuffle %d seed %d", s.Stream.Hash, s.Split.Validation, s.Split.Test, s.Split.Seed, s.ShuffleRows, s.Seed)
	return hex.EncodeToString(h.Sum(nil))
}

// Batches streams the epoch's training rows (see StreamSource). A
// non-finite value after preprocessing (an infinite cell) is an error
// wrapping ErrInvalidExamples naming its row.
func (s *StreamSource) Batches(ctx context.Context, epoch, batch int, _ *rand.Rand, fn func(x []float64, y []int, w []float64) error) error {
	f := len(s.Stream.FeatureNames)
	if f != s.Prep.Features() {
		return fmt.Errorf("%w: the preprocessing has %d features, %s has %d", ErrFeatureMismatch, s.Prep.Features(), s.Stream.Source, f)
	}
	// Its own generator, apart from the dropout masks' one.
	rng := rand.New(rand.NewPCG(uint64(s.Seed)^0x5eed5eed5eed5eed, uint64(epoch)))
	capacity := s.capacity()
	if s.buf == nil || s.buf.cap != capacity || s.buf.features != f {
		var err error
		if s.buf, err = NewShuffleBuffer(capacity, f, rng); err != nil {
			return err
		}
	}
	s.buf.Reset(rng)
	xb, yb := make([]float64, batch*f), make([]int, batch)
	k := 0
	emit := func(x []float64, y int) error {
		copy(xb[k*f:(k+1)*f], x)
		yb[k] = y
		k++
		if k < batch {
			return nil
		}
		k = 0
		return fn(xb, yb, nil)
	}
	for _, g := range rng.Perm(s.Stream.RowGroups()) {
		if err := s.Stream.ReadRowGroup(ctx, g, &s.chunk); err != nil {
			return err
		}
		c := &s.chunk
		// The chunk's training rows, moved to its front, preprocessed.
		n := 0
		rowOf := s.rowOf[:0]
		for i := range c.Rows {
			if s.Split.Part(c.FirstRow+i) != PartTrain {
				continue
			}
			copy(c.X[n*f:(n+1)*f], c.X[i*f:(i+1)*f])
			c.Y[n] = c.Y[i]
			rowOf = append(rowOf, c.FirstRow+i)
			n++
		}
		s.rowOf = rowOf
		x := c.X[:n*f]
		s.Prep.Apply(x)
		for i := range n {
			if err := ctx.Err(); err != nil && i%4096 == 0 {
				return err
			}
			row := x[i*f : (i+1)*f]
			for j, v := range row {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Errorf("%w: %s row %d feature %q is %v after preprocessing (an infinite value?)",
						ErrInvalidExamples, s.Stream.Source, rowOf[i]+1, s.Stream.FeatureNames[j], v)
				}
			}
			if err := s.buf.Push(row, c.Y[i], emit); err != nil {
				return err
			}
		}
	}
	if err := s.buf.Drain(emit); err != nil {
		return err
	}
	if k > 0 {
		return fn(xb[:k*f], yb[:k], nil)
	}
	return nil
}

// StreamStats accumulates, in one pass over a stream of rows, what
// DataPreprocessor.Fit computes from a training split held in memory: per
// feature the count of missing values, the mean and M2 of the finite
// present values (Welford's algorithm, Knuth TAOCP vol. 2, 4.2.2) and a
// Greenwald–Khanna QuantileSketch of them for the median; and the rows of
// each class.
type StreamStats struct {
	features    int
	missing     [][]float64
	n           []int
	mean, m2    []float64
	absent      []int
	sketch      []*QuantileSketch
	batch       [][]float64
	Rows        int
	ClassCounts []int
}

// MedianEpsilon is the rank error of the streamed medians: the imputation
// value is within ±0.1 % of the rows (in rank) of the exact median.
const MedianEpsilon = 0.001

// NewStreamStats returns empty statistics of features features and classes
// classes; missing (nil, or one list per feature) are catalog sentinels
// counted as missing, as nn.Preprocessing.Apply treats them.
func NewStreamStats(features, classes int, missing [][]float64) *StreamStats {
	s := &StreamStats{features: features, missing: missing, n: make([]int, features), mean: make([]float64, features),
		m2: make([]float64, features), absent: make([]int, features), sketch: make([]*QuantileSketch, features),
		ClassCounts: make([]int, classes)}
	for j := range s.sketch {
		s.sketch[j] = NewQuantileSketch(MedianEpsilon)
	}
	return s
}

// Add adds rows (x row-major, rows × features) with classes y. The
// features are independent: one goroutine per core takes every k-th.
func (s *StreamStats) Add(x []float64, y []int) {
	f := s.features
	s.Rows += len(y)
	for _, c := range y {
		s.ClassCounts[c]++
	}
	workers := max(1, min(runtime.GOMAXPROCS(0), f))
	if len(s.batch) != workers {
		s.batch = make([][]float64, workers)
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for j := w; j < f; j += workers {
				s.batch[w] = s.addFeature(j, x, len(y), s.batch[w])
			}
		})
	}
	wg.Wait()
}

// addFeature adds feature j of the rows to its statistics, using batch as
// the sketch's scratch (returned for the next call).
func (s *StreamStats) addFeature(j int, x []float64, rows int, batch []float64) []float64 {
	f := s.features
	batch = batch[:0]
	n, mean, m2 := s.n[j], s.mean[j], s.m2[j]
	for i := range rows {
		v := x[i*f+j]
		if math.IsNaN(v) || (s.missing != nil && sentinel(v, s.missing[j])) {
			s.absent[j]++
			continue
		}
		if math.IsInf(v, 0) {
			continue
		}
		n++
		d := v - mean
		mean += d / float64(n)
		m2 += d * (v - mean)
		batch = append(batch, v)
	}
	s.n[j], s.mean[j], s.m2[j] = n, mean, m2
	s.sketch[j].AddBatch(batch)
	return batch
}

func sentinel(v float64, sentinels []float64) bool {
	for _, m := range sentinels {
		if v == m || float32(v) == float32(m) {
			return true
		}
	}
	return false
}

// Preprocessing is the transform of DataPreprocessor.Fit from the
// statistics: the median (to ±MedianEpsilon in rank) imputes the missing
// values, and the mean and standard deviation are those of the imputed
// column — the present values' combined with the missing count's copies of
// the median by the pairwise update of Chan, Golub and LeVeque ("Updating
// formulae and a pairwise algorithm for computing sample variances", 1979).
func (s *StreamStats) Preprocessing() (nn.Preprocessing, error) {
	f := s.features
	p := nn.Preprocessing{Impute: make([]float64, f), Mean: make([]float64, f), Scale: make([]float64, f)}
	for j := range f {
		med := s.sketch[j].Quantile(0.5)
		na, mean, m2 := float64(s.n[j]), s.mean[j], s.m2[j]
		if nb := float64(s.absent[j]); nb > 0 {
			n := na + nb
			d := med - mean
			mean += d * nb / n
			m2 += d * d * na * nb / n
			na = n
		}
		std := 0.0
		if na > 0 {
			std = math.Sqrt(m2 / na)
		}
		if std == 0 || math.IsNaN(std) || math.IsInf(std, 0) {
			std = 1
		}
		p.Impute[j], p.Mean[j], p.Scale[j] = med, mean, std
	}
	if err := p.Check(); err != nil {
		return nn.Preprocessing{}, fmt.Errorf("fit streamed preprocessing: %w", err)
	}
	return p, nil
}

// StreamParts reads, in one pass over stream, the rows split puts in each
// of parts (PartValidation, PartTest, ...) into a Dataset per part, rows in
// file order with their 1-based RowIDs; and the statistics (nil unless
// stats is true) of the training rows. It is how the streaming stages
// hold only what they need.
func StreamParts(ctx context.Context, stream *dataset.ParquetStream, split HashSplit, missing [][]float64, stats bool, parts ...int) (map[int]*dataset.Dataset, *StreamStats, error) {
	f := len(stream.FeatureNames)
	out := make(map[int]*dataset.Dataset, len(parts))
	for _, p := range parts {
		d := &dataset.Dataset{FeatureNames: stream.FeatureNames, Classes: stream.Classes, Positive: stream.Positive,
			Target: stream.Target, Skipped: stream.Skipped}
		// Sized for the part's expected share and a little over, so the
		// appends do not double the largest buffer at the end.
		frac := map[int]float64{PartValidation: split.Validation, PartTest: split.Test, PartTrain: 1 - split.Validation - split.Test}[p]
		want := int(float64(stream.Rows)*frac*1.01) + 1024
		d.X, d.Y, d.RowIDs = make([]float64, 0, want*f), make([]int, 0, want), make([]int, 0, want)
		out[p] = d
	}
	var st *StreamStats
	if stats {
		st = NewStreamStats(f, len(stream.Classes), missing)
	}
	var c dataset.Chunk
	var tx []float64
	var ty []int
	for g := range stream.RowGroups() {
		if err := stream.ReadRowGroup(ctx, g, &c); err != nil {
			return nil, nil, err
		}
		tx, ty = tx[:0], ty[:0]
		for i := range c.Rows {
			part := split.Part(c.FirstRow + i)
			row := c.X[i*f : (i+1)*f]
			if part == PartTrain && st != nil {
				tx, ty = append(tx, row...), append(ty, c.Y[i])
				continue
			}
			d, ok := out[part]
			if !ok {
				continue
			}
			d.X = append(d.X, row...)
			d.Y = append(d.Y, c.Y[i])
			d.RowIDs = append(d.RowIDs, c.FirstRow+i+1)
			d.Rows++
		}
		if st != nil {
			st.Add(tx, ty)
		}
	}
	return out, st, nil
}
