package training

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/tracking"
)

const trainerHTRU2CSV = "../../../events/data/htru2.csv"

// trainerBlobs returns rows rows of classes Gaussian blobs in features
// dimensions; noise mislabels that fraction of rows at random.
func trainerBlobs(rows, features, classes int, noise float64, seed uint64) Examples {
	rng := rand.New(rand.NewPCG(seed, 77))
	e := Examples{X: make([]float64, rows*features), Y: make([]int, rows), Rows: rows, Features: features}
	for i := range rows {
		k := i % classes
		for j := range features {
			centre := 0.0
			if j%classes == k {
				centre = 1.6
			}
			e.X[i*features+j] = centre + rng.NormFloat64()
		}
		if rng.Float64() < noise {
			k = rng.IntN(classes)
		}
		e.Y[i] = k
	}
	return e
}

// trainerConfig returns a small, fast, normalised configuration.
func trainerConfig(t *testing.T, edit func(*TrainingConfig)) TrainingConfig {
	t.Helper()
	c := TrainingConfig{Epochs: 8, HiddenLayers: []int{16, 8}, BatchSize: 32, LearningRate: 0.01}
	if edit != nil {
		edit(&c)
	}
	c, err := c.Normalize()
	require.NoError(t, err)
	return c
}

func trainerInput(t *testing.T, edit func(*TrainingConfig)) TrainInput {
	return TrainInput{JobID: "job-1", Config: trainerConfig(t, edit), Classes: 2, ClassWeights: []float64{0.8, 1.4},
		Train: trainerBlobs(600, 5, 2, 0.1, 1), Validation: trainerBlobs(200, 5, 2, 0.1, 2)}
}

// withoutTimes drops the wall-clock field so histories of different runs
// compare equal.
func withoutTimes(h []EpochStats) []EpochStats {
	h = slices.Clone(h)
	for i := range h {
		h[i].Seconds, h[i].Resources = 0, nil
	}
	return h
}

func TestTrainIsDeterministic(t *testing.T) {
	ctx := context.Background()
	in := trainerInput(t, nil)
	a, err := ModelTrainer{}.Train(ctx, in)
	require.NoError(t, err)
	b, err := ModelTrainer{}.Train(ctx, in)
	require.NoError(t, err)
	require.Equal(t, a.Net.Params(), b.Net.Params())
	require.Equal(t, withoutTimes(a.History), withoutTimes(b.History))

	in.Config.Seed++
	c, err := ModelTrainer{}.Train(ctx, in)
	require.NoError(t, err)
	require.NotEqual(t, a.Net.Params(), c.Net.Params(), "another seed trains another network")
}

// TestTrainResumeMatchesUninterrupted stops a run after epoch k (the
// recorder cancels the context on that epoch's progress event), resumes it
// from the checkpoint, and expects exactly the uninterrupted run's weights
// and history.
func TestTrainResumeMatchesUninterrupted(t *testing.T) {
	cases := []struct {
		name  string
		store func(t *testing.T) Checkpointer
		edit  func(*TrainingConfig)
		stop  int
	}{
		{"memory, early stopping off", func(*testing.T) Checkpointer { return &MemoryCheckpointer{} },
			func(c *TrainingConfig) { c.EarlyStop.Enabled = new(bool) }, 3},
		{"dir, early stopping on", func(t *testing.T) Checkpointer { return DirCheckpointer{Dir: t.TempDir()} },
			nil, 5},
		{"memory, adam with l2 and step schedule", func(*testing.T) Checkpointer { return &MemoryCheckpointer{} },
			func(c *TrainingConfig) {
				c.Optimizer, c.Regularization, c.Schedule.Kind = "adam", 0.01, "step"
				c.Schedule.StepSize = 2
			}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			in := trainerInput(t, c.edit)
			want, err := ModelTrainer{}.Train(ctx, in)
			require.NoError(t, err)

			store := c.store(t)
			stopCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			stopper := tracking.RecorderFunc(func(_ context.Context, e tracking.Event) error {
				if e.Kind == tracking.Progress && e.Step == c.stop {
					cancel()
				}
				return nil
			})
			_, err = ModelTrainer{Recorder: stopper, Checkpoints: store}.Train(stopCtx, in)
			require.ErrorIs(t, err, context.Canceled)
			require.ErrorContains(t, err, "job-1")

			events := &tracking.Memory{}
			got, err := ModelTrainer{Recorder: events, Checkpoints: store}.Train(ctx, in)
			require.NoError(t, err)
			assert.Equal(t, c.stop, got.ResumedFrom)
			assert.Equal(t, 0, want.ResumedFrom)
			require.Equal(t, want.Net.Params(), got.Net.Params())
			require.Equal(t, withoutTimes(want.History), withoutTimes(got.History))
			assert.Equal(t, want.BestEpoch, got.BestEpoch)
			assert.Equal(t, want.StopReason, got.StopReason)
			progress := 0
			for _, e := range events.Events() {
				if e.Kind == tracking.Progress {
					progress++
					assert.Greater(t, e.Step, c.stop)
				}
			}
			assert.Equal(t, want.EpochsRun-c.stop, progress, "only the remaining epochs run")

			// A finished job's checkpoint gives the same result again
			// without training.
			again, err := ModelTrainer{Checkpoints: store}.Train(ctx, in)
			require.NoError(t, err)
			require.Equal(t, want.Net.Params(), again.Net.Params())
			assert.Equal(t, want.EpochsRun, again.ResumedFrom)
		})
	}
}

func TestTrainRefusesForeignCheckpoint(t *testing.T) {
	ctx := context.Background()
	store := &MemoryCheckpointer{}
	in := trainerInput(t, func(c *TrainingConfig) { c.Epochs = 2 })
	_, err := ModelTrainer{Checkpoints: store}.Train(ctx, in)
	require.NoError(t, err)

	other := in
	other.Config.LearningRate = 0.02
	_, err = ModelTrainer{Checkpoints: store}.Train(ctx, other)
	require.ErrorIs(t, err, ErrCheckpointMismatch)
	require.ErrorContains(t, err, "different configuration")

	other = in
	other.Train.X = slices.Clone(in.Train.X)
	other.Train.X[7] += 1e-9
	_, err = ModelTrainer{Checkpoints: store}.Train(ctx, other)
	require.ErrorIs(t, err, ErrCheckpointMismatch)
	require.ErrorContains(t, err, "different training or validation data")

	require.NoError(t, store.SaveCheckpoint(ctx, in.JobID, []byte("not a checkpoint")))
	_, err = ModelTrainer{Checkpoints: store}.Train(ctx, in)
	require.ErrorIs(t, err, ErrCheckpointMismatch)
}

// trainerValLoss recomputes the validation loss of a network as Train does.
func trainerValLoss(t *testing.T, net *nn.Network, in TrainInput) float64 {
	t.Helper()
	loss := nn.BinaryCrossEntropy
	if net.Spec.Outputs > 1 {
		loss = nn.CrossEntropy
	}
	v := in.Validation
	total, norm, err := loss.Sum(net.Logits(v.X, v.Rows, nil), net.Spec.Outputs, v.Y, in.ClassWeights)
	require.NoError(t, err)
	return total / norm
}

// TestTrainEarlyStopping overfits noisy labels so that the validation loss
// turns up, and checks that training stops and returns the best epoch's
// weights — and that with early stopping off it runs every epoch and returns
// the last.
func TestTrainEarlyStopping(t *testing.T) {
	ctx := context.Background()
	in := trainerInput(t, func(c *TrainingConfig) {
		c.Epochs, c.HiddenLayers, c.LearningRate, c.BatchSize = 60, []int{64, 64}, 0.02, 16
		c.EarlyStop = EarlyStopping{Metric: "val_loss", Patience: 3}
		c.Schedule.Kind = "constant"
		c.DropoutRate = 0
	})
	in.Train = trainerBlobs(150, 5, 2, 0.3, 3)

	res, err := ModelTrainer{}.Train(ctx, in)
	require.NoError(t, err)
	require.Equal(t, StopEarlyStopping, res.StopReason)
	require.Less(t, res.EpochsRun, 60)
	require.Equal(t, res.BestEpoch+3, res.EpochsRun, "stops after patience epochs without improvement")
	best := res.History[res.BestEpoch-1].ValLoss
	for _, h := range res.History {
		require.GreaterOrEqual(t, h.ValLoss, best)
	}
	require.Equal(t, best, trainerValLoss(t, res.Net, in), "the best epoch's weights are returned")
	require.Greater(t, res.History[len(res.History)-1].ValLoss, best)

	in.Config.EarlyStop.Enabled = new(bool)
	in.Config.Epochs = res.EpochsRun + 2
	all, err := ModelTrainer{}.Train(ctx, in)
	require.NoError(t, err)
	require.Equal(t, StopMaxEpochs, all.StopReason)
	require.Equal(t, in.Config.Epochs, all.EpochsRun)
	require.Equal(t, all.EpochsRun, all.BestEpoch)
	require.Equal(t, all.History[len(all.History)-1].ValLoss, trainerValLoss(t, all.Net, in), "the last weights are returned")
}

// TestTrainLearns trains each optimizer, logistic regression, and a
// three-class softmax network, and expects validation quality far above
// chance.
func TestTrainLearns(t *testing.T) {
	cases := []struct {
		name    string
		classes int
		edit    func(*TrainingConfig)
		minAUC  float64
	}{
		{"sgd", 2, func(c *TrainingConfig) { c.Optimizer, c.LearningRate = "sgd", 0.1 }, 0.9},
		{"momentum", 2, func(c *TrainingConfig) { c.Optimizer, c.LearningRate = "momentum", 0.02 }, 0.9},
		{"adam gelu", 2, func(c *TrainingConfig) { c.Optimizer, c.Activation = "adam", "gelu" }, 0.9},
		{"adamw tanh", 2, func(c *TrainingConfig) { c.Activation = "tanh" }, 0.9},
		{"rmsprop sigmoid", 2, func(c *TrainingConfig) { c.Optimizer, c.Activation, c.LearningRate = "rmsprop", "sigmoid", 0.003 }, 0.9},
		{"logistic regression", 2, func(c *TrainingConfig) { c.ModelType, c.HiddenLayers = ModelLogisticRegression, nil }, 0.9},
		{"binary softmax", 2, func(c *TrainingConfig) { c.LossFunction = "cross_entropy" }, 0.9},
		{"three classes", 3, nil, 0.9},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := trainerInput(t, c.edit)
			in.Classes, in.ClassWeights = c.classes, nil
			in.Train = trainerBlobs(900, 6, c.classes, 0.05, 4)
			in.Validation = trainerBlobs(300, 6, c.classes, 0.05, 5)
			res, err := ModelTrainer{}.Train(context.Background(), in)
			require.NoError(t, err)
			last := res.History[len(res.History)-1]
			assert.Less(t, last.TrainLoss, res.History[0].TrainLoss)
			assert.Greater(t, res.History[res.BestEpoch-1].ValAUCROC, c.minAUC)

			if c.name == "logistic regression" {
				assert.Empty(t, res.Spec.Hidden)
				assert.Equal(t, nn.ModelLogisticRegression, res.Spec.ModelType)
			}
			if c.classes == 3 {
				assert.Equal(t, 3, res.Spec.Outputs)
				p := res.Net.PredictProba(in.Validation.X, in.Validation.Rows, nil)
				correct := 0
				for i, y := range in.Validation.Y {
					row := p[i*3 : i*3+3]
					if slices.Index(row, slices.Max(row)) == y {
						correct++
					}
				}
				acc := float64(correct) / float64(in.Validation.Rows)
				assert.Greater(t, acc, 0.75, "accuracy (chance is 1/3)")
			}
		})
	}
}

func TestScheduledRate(t *testing.T) {
	cfg := func(kind string, warmup int) TrainingConfig {
		c := Defaults()
		c.LearningRate, c.Epochs = 0.1, 12
		c.Schedule = Schedule{Kind: kind, WarmupEpochs: warmup, StepSize: 4, Gamma: 0.5, MinLR: 0.001}
		return c
	}
	cases := []struct {
		name  string
		cfg   TrainingConfig
		epoch int
		want  float64
	}{
		{"constant", cfg("constant", 0), 9, 0.1},
		{"warmup starts at a tenth", cfg("constant", 3), 1, 0.01},
		{"warmup ramps linearly", cfg("constant", 3), 2, 0.04},
		{"after warmup", cfg("constant", 3), 4, 0.1},
		{"step before the first drop", cfg("step", 0), 4, 0.1},
		{"step after one drop", cfg("step", 0), 5, 0.05},
		{"step after two drops", cfg("step", 0), 9, 0.025},
		{"exponential", cfg("exponential", 0), 3, 0.025},
		{"cosine starts at lr", cfg("cosine", 0), 1, 0.1},
		{"cosine half way", cfg("cosine", 0), 7, 0.001 + 0.099/2},
		{"cosine after warmup", cfg("cosine", 2), 3, 0.1},
		{"cosine last epoch", cfg("cosine", 2), 12, 0.001 + 0.099*(1+math.Cos(math.Pi*9/10))/2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.InDelta(t, c.want, LearningRate(c.cfg, c.epoch), 1e-15)
		})
	}
}

func TestTrainRejectsBadInput(t *testing.T) {
	cases := []struct {
		name string
		edit func(*TrainInput)
		ckpt Checkpointer
		want string
		is   error
	}{
		{"no train rows", func(in *TrainInput) { in.Train = Examples{Features: 5} }, nil, "train split has no rows", ErrInvalidExamples},
		{"feature mismatch", func(in *TrainInput) {
			in.Validation = trainerBlobs(10, 4, 2, 0, 1)
		}, nil, "validation split has 4 features, train has 5", ErrInvalidExamples},
		{"size mismatch", func(in *TrainInput) { in.Train.X = in.Train.X[:10] }, nil, "10 values", ErrInvalidExamples},
		{"label out of range", func(in *TrainInput) { in.Train.Y[3] = 2 }, nil, "row 3 has label 2", ErrInvalidExamples},
		{"NaN feature", func(in *TrainInput) { in.Train.X[11] = math.NaN() }, nil, "row 2 feature 1 is NaN", ErrInvalidExamples},
		{"one validation class", func(in *TrainInput) { clear(in.Validation.Y) }, nil, "validation split has 1 distinct classes", ErrInvalidExamples},
		{"one class", func(in *TrainInput) { in.Classes = 1 }, nil, "1 classes", ErrInvalidExamples},
		{"class weights", func(in *TrainInput) { in.ClassWeights = []float64{1, 2, 3} }, nil, "3 class weights for 2 classes", ErrInvalidExamples},
		{"binary loss for three classes", func(in *TrainInput) {
			in.Classes, in.ClassWeights = 3, nil
			in.Config.LossFunction = "binary_cross_entropy"
		}, nil, "needs 2 classes", ErrInvalidConfig},
		{"bad config", func(in *TrainInput) { in.Config.Optimizer = "lbfgs" }, nil, "optimizer", ErrInvalidConfig},
		{"checkpoints need a job id", func(in *TrainInput) { in.JobID = "" }, &MemoryCheckpointer{}, "job id", ErrInvalidExamples},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := trainerInput(t, nil)
			in.Train.X, in.Train.Y = slices.Clone(in.Train.X), slices.Clone(in.Train.Y)
			in.Validation.Y = slices.Clone(in.Validation.Y)
			c.edit(&in)
			_, err := ModelTrainer{Checkpoints: c.ckpt}.Train(context.Background(), in)
			require.ErrorIs(t, err, c.is)
			require.ErrorContains(t, err, c.want)
		})
	}
}

func TestTrainDiverges(t *testing.T) {
	in := trainerInput(t, func(c *TrainingConfig) { c.Optimizer, c.LearningRate = "sgd", 10 })
	in.Train.X = slices.Clone(in.Train.X)
	for i := range in.Train.X {
		in.Train.X[i] *= 1e150
	}
	_, err := ModelTrainer{}.Train(context.Background(), in)
	require.ErrorIs(t, err, ErrDiverged)
}

func TestTrainEvents(t *testing.T) {
	ctx := context.Background()
	in := trainerInput(t, func(c *TrainingConfig) { c.Epochs, c.EarlyStop.Enabled = 4, new(bool) })
	mem := &tracking.Memory{}
	failing := tracking.RecorderFunc(func(context.Context, tracking.Event) error { return errors.New("tracker down") })
	res, err := ModelTrainer{Recorder: tracking.Multi(mem, failing)}.Train(ctx, in)
	require.NoError(t, err, "a failing recorder does not stop training")
	require.Len(t, res.Warnings, 1)
	assert.Contains(t, res.Warnings[0], "tracker down")

	events := mem.Events()
	require.Len(t, events, 6)
	assert.Equal(t, tracking.StageStarted, events[0].Kind)
	assert.Equal(t, "train", events[0].Stage)
	assert.Equal(t, 4, events[0].Total)
	assert.Equal(t, "epoch", events[0].Unit)
	for i, e := range events[1:5] {
		assert.Equal(t, tracking.Progress, e.Kind)
		assert.Equal(t, i+1, e.Step)
		assert.Equal(t, "job-1", e.JobID)
		for _, k := range []string{"loss", "val_loss", "val_auc_pr", "val_auc_roc", "lr"} {
			assert.Contains(t, e.Metrics, k)
		}
		assert.Equal(t, res.History[i].ValAUCPR, e.Metrics["val_auc_pr"])
		if i < 3 {
			assert.Positive(t, e.ETASeconds)
		}
	}
	assert.Equal(t, tracking.StageFinished, events[5].Kind)
	assert.Equal(t, StopMaxEpochs, events[5].Message)

	// A cancelled context ends the stage with the error recorded.
	mem = &tracking.Memory{}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = ModelTrainer{Recorder: mem}.Train(cancelled, in)
	require.ErrorIs(t, err, context.Canceled)
	last := mem.Events()[len(mem.Events())-1]
	assert.Equal(t, tracking.StageFinished, last.Kind)
	assert.Contains(t, last.Err, "canceled")
}

func TestDirCheckpointer(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ckpt")
	d := DirCheckpointer{Dir: dir}
	_, found, err := d.LoadCheckpoint(ctx, "job-9")
	require.NoError(t, err)
	require.False(t, found)
	require.NoError(t, d.SaveCheckpoint(ctx, "job-9", []byte("one")))
	require.NoError(t, d.SaveCheckpoint(ctx, "job-9", []byte("two")))
	data, found, err := d.LoadCheckpoint(ctx, "job-9")
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, "two", string(data))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary files left")
	require.Equal(t, "job-9.ckpt", entries[0].Name())
	for _, bad := range []string{"", "..", "a/b"} {
		require.Error(t, d.SaveCheckpoint(ctx, bad, nil), "job id %q", bad)
	}

	var m MemoryCheckpointer
	buf := []byte("abc")
	require.NoError(t, m.SaveCheckpoint(ctx, "j", buf))
	buf[0] = 'x'
	data, found, err = m.LoadCheckpoint(ctx, "j")
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, "abc", string(data), "the stored copy is independent")
}

// trainerReadHTRU2 reads the bundled HTRU2 CSV: 8 features and the 0/1
// label column "class".
func trainerReadHTRU2(t *testing.T) (x []float64, y []int) {
	t.Helper()
	f, err := os.Open(trainerHTRU2CSV)
	require.NoError(t, err)
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Equal(t, "class", records[0][8])
	for _, rec := range records[1:] {
		for _, s := range rec[:8] {
			v, err := strconv.ParseFloat(s, 64)
			require.NoError(t, err)
			x = append(x, v)
		}
		label, err := strconv.Atoi(rec[8])
		require.NoError(t, err)
		y = append(y, label)
	}
	return x, y
}

// trainerSplit splits rows 65/15/20 within each class (a stratified
// shuffle) and standardises all three parts with the train split's mean and
// standard deviation.
func trainerSplit(x []float64, y []int, features int, seed uint64) (train, val, test Examples) {
	rng := rand.New(rand.NewPCG(seed, 5))
	byClass := map[int][]int{}
	for i, c := range y {
		byClass[c] = append(byClass[c], i)
	}
	var parts [3][]int
	for c := range 2 {
		idx := byClass[c]
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		a, b := len(idx)*65/100, len(idx)*80/100
		parts[0] = append(parts[0], idx[:a]...)
		parts[1] = append(parts[1], idx[a:b]...)
		parts[2] = append(parts[2], idx[b:]...)
	}
	mean, std := make([]float64, features), make([]float64, features)
	for _, i := range parts[0] {
		for j := range features {
			mean[j] += x[i*features+j]
		}
	}
	for j := range mean {
		mean[j] /= float64(len(parts[0]))
	}
	for _, i := range parts[0] {
		for j := range features {
			d := x[i*features+j] - mean[j]
			std[j] += d * d
		}
	}
	for j := range std {
		std[j] = math.Sqrt(std[j] / float64(len(parts[0])))
	}
	build := func(rows []int) Examples {
		e := Examples{Rows: len(rows), Features: features}
		for _, i := range rows {
			for j := range features {
				e.X = append(e.X, (x[i*features+j]-mean[j])/std[j])
			}
			e.Y = append(e.Y, y[i])
		}
		return e
	}
	return build(parts[0]), build(parts[1]), build(parts[2])
}

// trainerF1 returns the F1 score of predicting positive at score >= thr.
func trainerF1(y []int, score []float64, thr float64) float64 {
	var tp, fp, fn float64
	for i, s := range score {
		switch {
		case s >= thr && y[i] == 1:
			tp++
		case s >= thr:
			fp++
		case y[i] == 1:
			fn++
		}
	}
	if tp == 0 {
		return 0
	}
	return 2 * tp / (2*tp + fp + fn)
}

// TestTrainHTRU2Quality trains the default configuration on the bundled
// HTRU2 pulsar data and holds it to the quality bar: test ROC AUC >= 0.97,
// and F1 >= 0.86 at the threshold that maximises F1 on the validation split.
func TestTrainHTRU2Quality(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on HTRU2 (seconds)")
	}
	x, y := trainerReadHTRU2(t)
	require.Len(t, y, 17898)
	train, val, test := trainerSplit(x, y, 8, 1)
	var pos float64
	for _, v := range train.Y {
		pos += float64(v)
	}
	n := float64(train.Rows)
	weights := []float64{n / (2 * (n - pos)), n / (2 * pos)} // "balanced"
	cfg, err := Defaults().Normalize()
	require.NoError(t, err)

	start := time.Now()
	res, err := ModelTrainer{}.Train(context.Background(), TrainInput{JobID: "htru2", Config: cfg, Classes: 2,
		ClassWeights: weights, Train: train, Validation: val})
	require.NoError(t, err)
	elapsed := time.Since(start)

	score := func(e Examples) []float64 {
		p := res.Net.PredictProba(e.X, e.Rows, nil)
		s := make([]float64, e.Rows)
		for i := range s {
			s[i] = p[2*i+1]
		}
		return s
	}
	valScore, testScore := score(val), score(test)
	bestThr, bestF1 := 0.5, -1.0
	for _, thr := range valScore {
		if f := trainerF1(val.Y, valScore, thr); f > bestF1 {
			bestThr, bestF1 = thr, f
		}
	}
	auc := evaluation.BinaryAUCROC(test.Y, testScore)
	f1 := trainerF1(test.Y, testScore, bestThr)
	t.Logf("HTRU2 defaults: %d epochs (best %d, %s) in %v (%.0f ms/epoch); test ROC AUC %.4f, AP %.4f, F1 %.4f at validation threshold %.3f",
		res.EpochsRun, res.BestEpoch, res.StopReason, elapsed.Round(time.Millisecond),
		float64(elapsed.Milliseconds())/float64(res.EpochsRun), auc, evaluation.AveragePrecision(test.Y, testScore), f1, bestThr)
	assert.GreaterOrEqual(t, auc, 0.97)
	assert.GreaterOrEqual(t, f1, 0.86)
}

// ExampleModelTrainer_Train trains the default MLP on two Gaussian blobs,
// checkpointing in memory and printing progress events as they come.
func ExampleModelTrainer_Train() {
	cfg, err := TrainingConfig{Epochs: 3, HiddenLayers: []int{16}}.Normalize()
	if err != nil {
		fmt.Println(err)
		return
	}
	printer := tracking.RecorderFunc(func(_ context.Context, e tracking.Event) error {
		if e.Kind == tracking.Progress {
			fmt.Printf("epoch %d/%d val_auc_roc > 0.9: %v\n", e.Step, e.Total, e.Metrics["val_auc_roc"] > 0.9)
		}
		return nil
	})
	trainer := ModelTrainer{Recorder: printer, Checkpoints: &MemoryCheckpointer{}}
	res, err := trainer.Train(context.Background(), TrainInput{JobID: "example", Config: cfg, Classes: 2,
		Train: trainerBlobs(500, 4, 2, 0, 1), Validation: trainerBlobs(200, 4, 2, 0, 2)})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.StopReason, res.EpochsRun, res.Spec.Hidden)
	// Output:
	// epoch 1/3 val_auc_roc > 0.9: true
	// epoch 2/3 val_auc_roc > 0.9: true
	// epoch 3/3 val_auc_roc > 0.9: true
	// max_epochs 3 [16]
}

// BenchmarkModelTrainerEpoch runs ModelTrainer.Train for one epoch of the
// default configuration on HTRU2-sized data (11,634 training and 2,685
// validation rows of 8 features, the 65/15 split), validation included.
func BenchmarkModelTrainerEpoch(b *testing.B) {
	cfg, err := TrainingConfig{Epochs: 1}.Normalize()
	require.NoError(b, err)
	in := TrainInput{Config: cfg, Classes: 2, ClassWeights: []float64{0.55, 5.4},
		Train: trainerBlobs(11634, 8, 2, 0.05, 1), Validation: trainerBlobs(2685, 8, 2, 0.05, 2)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (ModelTrainer{}).Train(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(in.Train.Rows)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
}

// TestValidationScorerRanksOnce: the scorer's figures, from one ranking,
// are AveragePrecision's and BinaryAUCROC's to the bit, binary and
// multi-class (one-vs-rest macro averages), and NaN for a NaN score.
func TestValidationScorerRanksOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, outputs := range []int{1, 3} {
		const rows = 5000
		c := max(outputs, 2)
		logits, y := make([]float64, rows*outputs), make([]int, rows)
		for i := range y {
			y[i] = rng.IntN(c)
			for k := range outputs {
				logits[i*outputs+k] = math.Round(rng.NormFloat64()*20) / 10 // ties
			}
		}
		loss := nn.BinaryCrossEntropy
		if outputs > 1 {
			loss = nn.CrossEntropy
		}
		var v ValidationScorer
		_, pr, roc, err := v.Score(loss, logits, outputs, y, nil)
		require.NoError(t, err)
		probs := make([]float64, rows*c)
		nn.Probabilities(logits, outputs, probs)
		var wantPR, wantROC float64
		for k := range c {
			if c == 2 && k == 0 {
				continue
			}
			score, onehot := make([]float64, rows), make([]int, rows)
			for i := range score {
				score[i] = probs[i*c+k]
				if y[i] == k {
					onehot[i] = 1
				}
			}
			wantPR += evaluation.AveragePrecision(onehot, score)
			wantROC += evaluation.BinaryAUCROC(onehot, score)
		}
		if c > 2 {
			wantPR, wantROC = wantPR/float64(c), wantROC/float64(c)
		}
		assert.Equal(t, math.Float64bits(wantPR), math.Float64bits(pr), "outputs %d", outputs)
		assert.Equal(t, math.Float64bits(wantROC), math.Float64bits(roc), "outputs %d", outputs)
	}
	var v ValidationScorer
	_, pr, roc, err := v.Score(nn.BinaryCrossEntropy, []float64{0.1, math.NaN(), 0.3}, 1, []int{0, 1, 1}, nil)
	if err == nil {
		assert.True(t, math.IsNaN(pr) && math.IsNaN(roc))
	}
}
