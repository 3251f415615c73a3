package training_test

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store/filestore"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"

	// The Parquet and FITS readers of dataset.Read.
	_ "github.com/orrery-ml/orrery/shared/dataset/parquetfits"
)

// drain pushes rows 0..n-1 (row i is the single value i) through a buffer
// of capacity rows and returns the order they came out in.
func drain(t *testing.T, n, capacity int, seed uint64) []int {
	t.Helper()
	b, err := training.NewShuffleBuffer(capacity, 1, rand.New(rand.NewPCG(seed, 1)))
	require.NoError(t, err)
	var out []int
	emit := func(x []float64, y int) error {
		require.Equal(t, float64(y), x[0], "a row keeps its label")
		out = append(out, y)
		return nil
	}
	for i := range n {
		require.NoError(t, b.Push([]float64{float64(i)}, i, emit))
	}
	require.NoError(t, b.Drain(emit))
	assert.Zero(t, b.Len())
	return out
}

func TestShuffleBufferEmitsEveryRowOnceDeterministically(t *testing.T) {
	for _, tc := range []struct{ n, capacity int }{{1000, 64}, {50, 64}, {64, 64}, {1, 1}, {300, 1}} {
		got := drain(t, tc.n, tc.capacity, 7)
		sorted := slices.Sorted(slices.Values(got))
		want := make([]int, tc.n)
		for i := range want {
			want[i] = i
		}
		require.Equal(t, want, sorted, "n=%d capacity=%d: every row exactly once", tc.n, tc.capacity)
		assert.Equal(t, got, drain(t, tc.n, tc.capacity, 7), "the same seed gives the same order")
		if tc.n > 10 && tc.capacity > 1 {
			assert.NotEqual(t, got, drain(t, tc.n, tc.capacity, 8), "another seed, another order")
			assert.NotEqual(t, want, got, "shuffled")
		}
	}
	_, err := training.NewShuffleBuffer(0, 3, rand.New(rand.NewPCG(1, 1)))
	assert.ErrorIs(t, err, training.ErrInvalidConfig)
}

func TestQuantileSketchStaysWithinItsRankBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 200_000
	all := make([]float64, 0, n)
	q := training.NewQuantileSketch(0.001)
	for len(all) < n {
		batch := make([]float64, 1+rng.IntN(5000))
		for i := range batch {
			// A skewed distribution with ties.
			batch[i] = math.Round(math.Exp(rng.NormFloat64())*100) / 100
		}
		all = append(all, batch...)
		q.AddBatch(slices.Clone(batch))
	}
	slices.Sort(all)
	total := len(all)
	require.Equal(t, total, q.Count())
	bound := int(math.Ceil(q.Epsilon() * float64(total)))
	for _, phi := range []float64{0, 0.01, 0.25, 0.5, 0.75, 0.99, 1} {
		v := q.Quantile(phi)
		// The ranks v holds in the sorted data (ties span a range).
		lo, _ := slices.BinarySearch(all, v)
		hi := lo
		for hi < total && all[hi] == v {
			hi++
		}
		want := int(phi * float64(total))
		assert.True(t, want >= lo-bound && want <= hi+bound, "phi %v: value %v has ranks [%d, %d], want %d ± %d", phi, v, lo, hi, want, bound)
	}
	t.Logf("%d tuples for %d values", q.Size(), total)
	assert.Less(t, q.Size(), 20_000, "the summary stays small: %d tuples for %d values", q.Size(), total)
}

// streamFixture writes a Parquet file of rows rows in row groups of group
// rows: four features (x3 missing in 5% of rows), a binary class that
// depends on x0 and x1.
func streamFixture(t *testing.T, rows, group int) string {
	t.Helper()
	type row struct {
		X0    float64  `parquet:"x0"`
		X1    float64  `parquet:"x1"`
		X2    float64  `parquet:"x2"`
		X3    *float64 `parquet:"x3,optional"`
		Label string   `parquet:"label"`
	}
	path := filepath.Join(t.TempDir(), "stream.parquet")
	f, err := os.Create(path)
	require.NoError(t, err)
	w := parquet.NewGenericWriter[row](f, parquet.MaxRowsPerRowGroup(int64(group)))
	rng := rand.New(rand.NewPCG(11, 12))
	batch := make([]row, 0, group)
	for i := range rows {
		x0, x1, x2 := rng.NormFloat64(), rng.NormFloat64()*3+1, rng.ExpFloat64()
		r := row{X0: x0, X1: x1, X2: x2, Label: "star"}
		if rng.Float64() >= 0.05 {
			v := rng.NormFloat64() + 10
			r.X3 = &v
		}
		if 2*x0+x1/3+0.5*rng.NormFloat64() > 1.5 {
			r.Label = "pulsar"
		}
		batch = append(batch, r)
		if len(batch) == group || i == rows-1 {
			_, err := w.Write(batch)
			require.NoError(t, err)
			require.NoError(t, w.Flush())
			batch = batch[:0]
		}
	}
	require.NoError(t, w.Close())
	require.NoError(t, f.Close())
	return path
}

func TestParquetStreamReadsWhatReadReads(t *testing.T) {
	ctx := context.Background()
	path := streamFixture(t, 2500, 700)
	opts := dataset.SelectOptions{Target: "label", Positive: "pulsar"}
	table, err := dataset.Read(ctx, path)
	require.NoError(t, err)
	d, err := table.Select(opts)
	require.NoError(t, err)

	s, err := dataset.OpenParquetStream(ctx, path, opts)
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, table.Hash, s.Hash)
	assert.Equal(t, d.FeatureNames, s.FeatureNames)
	assert.Equal(t, d.Classes, s.Classes)
	assert.Equal(t, d.ClassCounts(), s.ClassCounts)
	require.Equal(t, 4, s.RowGroups())
	var c dataset.Chunk
	var x []float64
	var y []int
	for g := range s.RowGroups() {
		require.NoError(t, s.ReadRowGroup(ctx, g, &c))
		assert.Equal(t, len(y), c.FirstRow)
		x, y = append(x, c.X...), append(y, c.Y...)
	}
	assert.Equal(t, d.Y, y)
	require.Len(t, x, len(d.X))
	for i := range x {
		if !(math.IsNaN(x[i]) && math.IsNaN(d.X[i])) {
			require.Equal(t, d.X[i], x[i], "cell %d", i)
		}
	}
	_, err = dataset.OpenParquetStream(ctx, path, dataset.SelectOptions{Target: "nope"})
	assert.ErrorIs(t, err, dataset.ErrMissingColumn)
}

func TestStreamStatsMatchTheInMemoryFit(t *testing.T) {
	ctx := context.Background()
	path := streamFixture(t, 20_000, 3000)
	opts := dataset.SelectOptions{Target: "label", Positive: "pulsar"}
	table, err := dataset.Read(ctx, path)
	require.NoError(t, err)
	d, err := table.Select(opts)
	require.NoError(t, err)
	want, err := training.DataPreprocessor{}.Fit(d)
	require.NoError(t, err)

	s, err := dataset.OpenParquetStream(ctx, path, opts)
	require.NoError(t, err)
	defer s.Close()
	// Every row in train: the statistics of the whole file.
	_, st, err := training.StreamParts(ctx, s, training.HashSplit{}, nil, true)
	require.NoError(t, err)
	assert.Equal(t, d.Rows, st.Rows)
	assert.Equal(t, d.ClassCounts(), st.ClassCounts)
	got, err := st.Preprocessing()
	require.NoError(t, err)
	nf := d.Features()
	for j := range nf {
		var col []float64
		for i := range d.Rows {
			if v := d.X[i*nf+j]; !math.IsNaN(v) {
				col = append(col, v)
			}
		}
		slices.Sort(col)
		// The median to ±ε·n in rank.
		bound := int(math.Ceil(training.MedianEpsilon*float64(len(col)))) + 1
		mid := len(col) / 2
		assert.GreaterOrEqual(t, got.Impute[j], col[max(0, mid-bound)], "feature %d median", j)
		assert.LessOrEqual(t, got.Impute[j], col[min(len(col)-1, mid+bound)], "feature %d median", j)
		// Mean and scale: Welford is exact up to rounding where nothing
		// is missing; with missing values they move with the median by
		// missing/n of its error.
		tol := 1e-9 * math.Max(1, math.Abs(want.Mean[j]))
		if len(col) < d.Rows {
			tol = float64(d.Rows-len(col)) / float64(d.Rows) * (col[min(len(col)-1, mid+bound)] - col[max(0, mid-bound)])
		}
		assert.InDelta(t, want.Mean[j], got.Mean[j], tol+1e-12, "feature %d mean", j)
		assert.InDelta(t, want.Scale[j], got.Scale[j], tol+1e-9*want.Scale[j], "feature %d scale", j)
	}
}

func TestHashSplitIsDeterministicWithItsFractions(t *testing.T) {
	h := training.HashSplit{Validation: 0.2, Test: 0.1, Seed: 5}
	var counts [3]int
	const n = 100_000
	for i := range n {
		p := h.Part(i)
		require.Equal(t, p, h.Part(i))
		counts[p]++
	}
	assert.InDelta(t, 0.7, float64(counts[training.PartTrain])/n, 0.01)
	assert.InDelta(t, 0.2, float64(counts[training.PartValidation])/n, 0.01)
	assert.InDelta(t, 0.1, float64(counts[training.PartTest])/n, 0.01)
	other := training.HashSplit{Validation: 0.2, Test: 0.1, Seed: 6}
	same := 0
	for i := range 1000 {
		if h.Part(i) == other.Part(i) {
			same++
		}
	}
	assert.Less(t, same, 800, "another seed, another split")
}

// TestStreamedTrainingMatchesInMemory trains the same Parquet file (several
// row groups) through the whole pipeline streamed and in memory: the models
// are of similar quality on their test splits.
func TestStreamedTrainingMatchesInMemory(t *testing.T) {
	ctx := context.Background()
	path := streamFixture(t, 12_000, 1500)
	auc := map[bool]float64{}
	for _, streamed := range []bool{false, true} {
		dir := t.TempDir()
		files, err := filestore.New(filepath.Join(dir, "artifacts"))
		require.NoError(t, err)
		db, err := sqlitestore.Open(ctx, filepath.Join(dir, "orrery.db"))
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		p := &training.TrainingPipeline{Jobs: db, Models: db, Artifacts: files}
		cfg := training.Defaults()
		cfg.DatasetPath, cfg.TargetColumn, cfg.PositiveClass = path, "label", "pulsar"
		cfg.Epochs, cfg.HiddenLayers, cfg.Streaming, cfg.ShuffleRows = 4, []int{16}, streamed, 2000
		res, err := pipeline.RunTraining(ctx, p, cfg)
		require.NoError(t, err, "streaming %v", streamed)
		auc[streamed] = res.Metrics.AUCROC
		if streamed {
			require.NotNil(t, res.Validation)
			require.NotNil(t, res.Validation.Split)
			assert.Equal(t, training.SplitHash, res.Validation.Split.Method)
			assert.Equal(t, "streamed training runs on the pure-Go engine", res.Training.BackendReason)
		}
	}
	t.Logf("test ROC AUC: in memory %.4f, streamed %.4f", auc[false], auc[true])
	assert.Greater(t, auc[false], 0.9)
	assert.InDelta(t, auc[false], auc[true], 0.02, "test ROC AUC in memory %v, streamed %v", auc[false], auc[true])
}

func TestStreamingRefusesWhatItCannotTrain(t *testing.T) {
	cfg := training.Defaults()
	cfg.DatasetPath, cfg.TargetColumn, cfg.Streaming = "x.csv", "label", true
	_, err := cfg.Streams()
	assert.ErrorIs(t, err, training.ErrInvalidConfig)
	cfg.DatasetPath, cfg.GroupColumn = "x.parquet", "object"
	_, err = cfg.Normalize()
	assert.ErrorIs(t, err, training.ErrInvalidConfig)
	assert.ErrorContains(t, err, "group_column")
}

// TestStreamSourceDealsEachTrainingRowOncePerEpoch reads a file of several
// row groups through StreamSource: every training row of the hash split
// comes once an epoch, in an order fixed by the seed and the epoch.
func TestStreamSourceDealsEachTrainingRowOncePerEpoch(t *testing.T) {
	ctx := context.Background()
	path := streamFixture(t, 3000, 400)
	s, err := dataset.OpenParquetStream(ctx, path, dataset.SelectOptions{Target: "label", Positive: "pulsar"})
	require.NoError(t, err)
	defer s.Close()
	split := training.HashSplit{Validation: 0.2, Test: 0.1, Seed: 3}
	// Identity preprocessing, so a row is recognised by its values (x0 is
	// a continuous draw: distinct in every row).
	prep := nnIdentity(len(s.FeatureNames))
	src := &training.StreamSource{Stream: s, Split: split, Prep: prep, ShuffleRows: 500, Seed: 9}
	want := 0
	for i := range s.Rows {
		if split.Part(i) == training.PartTrain {
			want++
		}
	}
	epoch := func(e int) []float64 {
		var x0 []float64
		err := src.Batches(ctx, e, 64, nil, func(x []float64, y []int, w []float64) error {
			assert.Nil(t, w)
			assert.LessOrEqual(t, len(y), 64)
			for i := range y {
				x0 = append(x0, x[i*len(s.FeatureNames)])
			}
			return nil
		})
		require.NoError(t, err)
		return x0
	}
	first := epoch(1)
	require.Len(t, first, want)
	distinct := map[float64]bool{}
	for _, v := range first {
		distinct[v] = true
	}
	assert.Len(t, distinct, want, "no row twice")
	assert.Equal(t, first, epoch(1), "the same epoch, the same order")
	second := epoch(2)
	assert.NotEqual(t, first, second, "another epoch, another order")
	assert.ElementsMatch(t, first, second)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, src.Batches(cancelled, 1, 64, nil, func([]float64, []int, []float64) error { return nil }), context.Canceled)
}

func nnIdentity(features int) nn.Preprocessing {
	p := nn.Preprocessing{Impute: make([]float64, features), Mean: make([]float64, features), Scale: make([]float64, features)}
	for j := range p.Scale {
		p.Scale[j] = 1
	}
	return p
}

func TestQuantileSketchOfLargeBatchesSortsThem(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	batch := make([]float64, 10_000)
	for i := range batch {
		batch[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(20)-10))
	}
	batch[0], batch[1], batch[2] = math.Copysign(0, -1), 0, -math.MaxFloat64
	want := slices.Clone(batch)
	slices.Sort(want)
	q := training.NewQuantileSketch(0.001)
	q.AddBatch(batch)
	assert.Equal(t, want, batch, "AddBatch leaves the batch sorted")
	assert.Equal(t, want[0], q.Quantile(0))
	assert.Equal(t, want[len(want)-1], q.Quantile(1))
}
