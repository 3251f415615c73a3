package training

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/tracking"
)

// epochStats returns epoch's statistics with v as the value of metric and
// the opposite trend in the other two, so reading the wrong metric changes
// the decisions.
func epochStats(metric string, epoch int, v float64) EpochStats {
	s := EpochStats{Epoch: epoch, ValLoss: -v, ValAUCPR: -v, ValAUCROC: -v}
	switch metric {
	case "val_loss":
		s.ValLoss = v
	case "val_auc_roc":
		s.ValAUCROC = v
	default:
		s.ValAUCPR = v
	}
	return s
}

type earlyStopCase struct {
	name   string
	es     EarlyStopping
	epochs int
	values []float64
	// improved holds Observe's answer for each value; training stops after
	// the last one.
	improved    []bool
	reason      string
	bestEpoch   int // EarlyStopper.BestEpoch at the end
	outEpoch    int // the epoch Outcome returns the weights of
	restoreBest bool
}

func earlyStopCases() []earlyStopCase {
	nan := math.NaN()
	off := false
	es := func(metric string, patience int, minDelta float64) EarlyStopping {
		return EarlyStopping{Metric: metric, Patience: patience, MinDelta: minDelta}
	}
	return []earlyStopCase{
		{name: "max metric stops after patience epochs without improvement", es: es("val_auc_pr", 2, 0), epochs: 10,
			values: []float64{0.5, 0.625, 0.625, 0.5}, improved: []bool{true, true, false, false},
			reason: StopEarlyStopping, bestEpoch: 2, outEpoch: 2, restoreBest: true},
		{name: "min metric", es: es("val_loss", 2, 0), epochs: 10,
			values: []float64{1, 0.75, 0.875, 0.5, 0.625, 0.5}, improved: []bool{true, true, false, true, false, false},
			reason: StopEarlyStopping, bestEpoch: 4, outEpoch: 4, restoreBest: true},
		{name: "val_auc_roc is read", es: es("val_auc_roc", 1, 0), epochs: 10,
			values: []float64{0.5, 0.75, 0.25}, improved: []bool{true, true, false},
			reason: StopEarlyStopping, bestEpoch: 2, outEpoch: 2, restoreBest: true},
		{name: "max metric must beat the best by more than min_delta", es: es("val_auc_pr", 3, 0.25), epochs: 4,
			values: []float64{0.5, 0.75, 0.625, 0.875}, improved: []bool{true, false, false, true},
			reason: StopMaxEpochs, bestEpoch: 4, outEpoch: 4, restoreBest: true},
		{name: "min metric must beat the best by more than min_delta", es: es("val_loss", 3, 0.25), epochs: 4,
			values: []float64{1, 0.75, 0.875, 0.5}, improved: []bool{true, false, false, true},
			reason: StopMaxEpochs, bestEpoch: 4, outEpoch: 4, restoreBest: true},
		{name: "min_delta 0 takes any strict improvement, not a tie", es: es("val_loss", 1, 0), epochs: 5,
			values: []float64{1, 0.999999, 0.999999}, improved: []bool{true, true, false},
			reason: StopEarlyStopping, bestEpoch: 2, outEpoch: 2, restoreBest: true},
		{name: "patience 1 stops at the first epoch without improvement", es: es("val_auc_pr", 1, 0), epochs: 10,
			values: []float64{0.5, 0.625, 0.75, 0.75}, improved: []bool{true, true, true, false},
			reason: StopEarlyStopping, bestEpoch: 3, outEpoch: 3, restoreBest: true},
		{name: "patience n waits n epochs", es: es("val_auc_pr", 4, 0), epochs: 10,
			values: []float64{0.5, 0.25, 0.25, 0.25, 0.25}, improved: []bool{true, false, false, false, false},
			reason: StopEarlyStopping, bestEpoch: 1, outEpoch: 1, restoreBest: true},
		{name: "NaN metric is no improvement, and the first number improves", es: es("val_auc_pr", 2, 0), epochs: 10,
			values: []float64{nan, 0.5, nan, nan}, improved: []bool{false, true, false, false},
			reason: StopEarlyStopping, bestEpoch: 2, outEpoch: 2, restoreBest: true},
		{name: "NaN after the best does not reset patience", es: es("val_loss", 3, 0), epochs: 10,
			values: []float64{1, nan, 0.5, nan, 0.75, nan}, improved: []bool{true, false, true, false, false, false},
			reason: StopEarlyStopping, bestEpoch: 3, outEpoch: 3, restoreBest: true},
		{name: "only NaN: the last weights", es: es("val_auc_pr", 3, 0), epochs: 2,
			values: []float64{nan, nan}, improved: []bool{false, false},
			reason: StopMaxEpochs, bestEpoch: 0, outEpoch: 2, restoreBest: false},
		{name: "early stopping wins over max epochs on the last epoch", es: es("val_auc_pr", 2, 0), epochs: 3,
			values: []float64{0.5, 0.25, 0.25}, improved: []bool{true, false, false},
			reason: StopEarlyStopping, bestEpoch: 1, outEpoch: 1, restoreBest: true},
		{name: "max epochs without early stop returns the best weights", es: es("val_auc_pr", 5, 0), epochs: 3,
			values: []float64{0.5, 0.75, 0.25}, improved: []bool{true, true, false},
			reason: StopMaxEpochs, bestEpoch: 2, outEpoch: 2, restoreBest: true},
		{name: "disabled runs every epoch and returns the last weights", es: EarlyStopping{Enabled: &off, Metric: "val_auc_pr", Patience: 1}, epochs: 4,
			values: []float64{0.5, 0.75, 0.25, 0.25}, improved: []bool{true, true, false, false},
			reason: StopMaxEpochs, bestEpoch: 2, outEpoch: 4, restoreBest: false},
	}
}

// observeAll feeds values from epoch first+1 on and returns the answers.
func observeAll(t *testing.T, s *EarlyStopper, metric string, first int, values []float64) []EarlyStopStep {
	t.Helper()
	var steps []EarlyStopStep
	for i, v := range values {
		step, err := s.Observe(epochStats(metric, first+i+1, v))
		require.NoError(t, err, "epoch %d", first+i+1)
		steps = append(steps, step)
	}
	return steps
}

func TestEarlyStopper(t *testing.T) {
	for _, tc := range earlyStopCases() {
		t.Run(tc.name, func(t *testing.T) {
			require.Len(t, tc.improved, len(tc.values))
			s, err := NewEarlyStopper(tc.es, tc.epochs)
			require.NoError(t, err)
			steps := observeAll(t, s, tc.es.Metric, 0, tc.values)
			for i, step := range steps {
				last := i == len(steps)-1
				assert.Equal(t, tc.improved[i], step.Improved, "epoch %d improved", i+1)
				assert.Equal(t, last, step.Stop, "epoch %d stop", i+1)
			}
			assert.True(t, s.Done())
			assert.Equal(t, tc.bestEpoch, s.BestEpoch())
			epoch, restore, reason := s.Outcome()
			assert.Equal(t, tc.outEpoch, epoch)
			assert.Equal(t, tc.restoreBest, restore)
			assert.Equal(t, tc.reason, reason)
			assert.Equal(t, tc.reason, s.State().StopReason)

			_, err = s.Observe(epochStats(tc.es.Metric, len(tc.values)+1, 1))
			require.ErrorContains(t, err, "after training ended")
		})
	}
}

// TestEarlyStopperResume interrupts every case after every epoch, resumes
// a new EarlyStopper from the state, and expects the uninterrupted answers.
func TestEarlyStopperResume(t *testing.T) {
	for _, tc := range earlyStopCases() {
		t.Run(tc.name, func(t *testing.T) {
			whole, err := NewEarlyStopper(tc.es, tc.epochs)
			require.NoError(t, err)
			want := observeAll(t, whole, tc.es.Metric, 0, tc.values)
			for k := range len(tc.values) {
				first, err := NewEarlyStopper(tc.es, tc.epochs)
				require.NoError(t, err)
				got := observeAll(t, first, tc.es.Metric, 0, tc.values[:k])
				resumed, err := NewEarlyStopper(tc.es, tc.epochs)
				require.NoError(t, err)
				require.NoError(t, resumed.Resume(first.State()), "after epoch %d", k)
				got = append(got, observeAll(t, resumed, tc.es.Metric, k, tc.values[k:])...)
				assert.Equal(t, want, got, "interrupted after epoch %d", k)
				assert.Equal(t, whole.State(), resumed.State(), "interrupted after epoch %d", k)
			}
		})
	}
}

func TestNewEarlyStopperRefuses(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name   string
		es     EarlyStopping
		epochs int
		field  string
	}{
		{"no metric", EarlyStopping{Patience: 3}, 10, "early_stopping.metric"},
		{"unknown metric", EarlyStopping{Metric: "accuracy", Patience: 3}, 10, "early_stopping.metric"},
		{"patience 0", EarlyStopping{Metric: "val_loss", Patience: 0}, 10, "early_stopping.patience"},
		{"negative patience", EarlyStopping{Metric: "val_loss", Patience: -1}, 10, "early_stopping.patience"},
		{"negative min_delta", EarlyStopping{Metric: "val_loss", Patience: 3, MinDelta: -1e-3}, 10, "early_stopping.min_delta"},
		{"NaN min_delta", EarlyStopping{Metric: "val_loss", Patience: 3, MinDelta: nan}, 10, "early_stopping.min_delta"},
		{"no epochs", EarlyStopping{Metric: "val_loss", Patience: 3}, 0, "epochs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewEarlyStopper(tc.es, tc.epochs)
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.ErrorContains(t, err, tc.field+":")
		})
	}
	// A normalised configuration is always accepted.
	cfg, err := TrainingConfig{}.Normalize()
	require.NoError(t, err)
	_, err = NewEarlyStopper(cfg.EarlyStop, cfg.Epochs)
	require.NoError(t, err)
}

func TestEarlyStopperObserveOutOfOrder(t *testing.T) {
	s, err := NewEarlyStopper(EarlyStopping{Metric: "val_loss", Patience: 2}, 10)
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		epoch int
	}{{"skips an epoch", 2}, {"repeats none", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Observe(epochStats("val_loss", tc.epoch, 1))
			require.ErrorContains(t, err, "observed after epoch 0")
			assert.Equal(t, EarlyStopState{}, s.State(), "a refused epoch changes nothing")
		})
	}
	_, err = s.Observe(epochStats("val_loss", 1, 1))
	require.NoError(t, err)
	_, err = s.Observe(epochStats("val_loss", 1, 1))
	require.ErrorContains(t, err, "epoch 1 observed after epoch 1")
}

func TestEarlyStopperResumeRefuses(t *testing.T) {
	es := EarlyStopping{Metric: "val_loss", Patience: 3}
	good := EarlyStopState{Epoch: 4, Best: 0.5, BestEpoch: 2, Bad: 2}
	for _, tc := range []struct {
		name   string
		change func(*EarlyStopState)
		want   string
	}{
		{"epoch beyond the maximum", func(s *EarlyStopState) { s.Epoch, s.Bad = 11, 9 }, "outside [0, 10]"},
		{"negative epoch", func(s *EarlyStopState) { s.Epoch = -1 }, "outside [0, 10]"},
		{"best epoch after the last", func(s *EarlyStopState) { s.BestEpoch, s.Bad = 5, -1 }, "best epoch 5"},
		{"NaN best", func(s *EarlyStopState) { s.Best = math.NaN() }, "NaN"},
		{"count that does not match", func(s *EarlyStopState) { s.Bad = 1 }, "1 epochs without improvement"},
		{"more bad epochs than the patience", func(s *EarlyStopState) {
			s.Epoch, s.Bad, s.Done, s.StopReason = 6, 4, true, StopEarlyStopping
		}, "more than the patience"},
		{"done without a reason", func(s *EarlyStopState) { s.Done = true }, "the rule gives"},
		{"stopped early too soon", func(s *EarlyStopState) { s.Done, s.StopReason = true, StopEarlyStopping }, "the rule gives"},
		{"not stopped at the patience", func(s *EarlyStopState) { s.Epoch, s.Bad = 5, 3 }, "the rule gives"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewEarlyStopper(es, 10)
			require.NoError(t, err)
			require.NoError(t, s.Resume(good))
			st := good
			tc.change(&st)
			err = s.Resume(st)
			require.ErrorIs(t, err, ErrCheckpointMismatch)
			assert.ErrorContains(t, err, tc.want)
			assert.Equal(t, good, s.State(), "a refused state changes nothing")
		})
	}
}

// TestTrainFollowsEarlyStopper replays a ModelTrainer run's history through
// an EarlyStopper: the run stopped where the rule says, with its best epoch.
func TestTrainFollowsEarlyStopper(t *testing.T) {
	in := overfittingInput(t)
	res, err := ModelTrainer{}.Train(context.Background(), in)
	require.NoError(t, err)
	require.Equal(t, StopEarlyStopping, res.StopReason, "the fixture stops early")

	s, err := NewEarlyStopper(in.Config.EarlyStop, in.Config.Epochs)
	require.NoError(t, err)
	for _, st := range res.History {
		require.False(t, s.Done(), "the rule stopped before epoch %d", st.Epoch)
		_, err := s.Observe(st)
		require.NoError(t, err)
	}
	epoch, restore, reason := s.Outcome()
	assert.True(t, s.Done())
	assert.True(t, restore)
	assert.Equal(t, res.BestEpoch, epoch)
	assert.Equal(t, res.StopReason, reason)
}

// TestTrainResumesMidPatience interrupts an early-stopping run after its
// best epoch, while it waits out its patience, and expects the resumed run
// to stop at the same epoch with the same weights.
func TestTrainResumesMidPatience(t *testing.T) {
	ctx := context.Background()
	in := overfittingInput(t)
	want, err := ModelTrainer{}.Train(ctx, in)
	require.NoError(t, err)
	require.Equal(t, StopEarlyStopping, want.StopReason)
	stop := want.BestEpoch + 1
	require.Less(t, stop, want.EpochsRun, "the interruption falls inside the patience")

	store := &MemoryCheckpointer{}
	stopCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopper := tracking.RecorderFunc(func(_ context.Context, e tracking.Event) error {
		if e.Kind == tracking.Progress && e.Step == stop {
			cancel()
		}
		return nil
	})
	_, err = ModelTrainer{Recorder: stopper, Checkpoints: store}.Train(stopCtx, in)
	require.ErrorIs(t, err, context.Canceled)

	got, err := ModelTrainer{Checkpoints: store}.Train(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, stop, got.ResumedFrom)
	require.Equal(t, want.Net.Params(), got.Net.Params())
	require.Equal(t, withoutTimes(want.History), withoutTimes(got.History))
	assert.Equal(t, want.BestEpoch, got.BestEpoch)
	assert.Equal(t, want.EpochsRun, got.EpochsRun)
	assert.Equal(t, StopEarlyStopping, got.StopReason)
}

// overfittingInput is a run whose validation loss turns up on noisy labels,
// so early stopping ends it (as in TestTrainEarlyStopping).
func overfittingInput(t *testing.T) TrainInput {
	in := trainerInput(t, func(c *TrainingConfig) {
		c.Epochs, c.HiddenLayers, c.LearningRate, c.BatchSize = 60, []int{64, 64}, 0.02, 16
		c.EarlyStop = EarlyStopping{Metric: "val_loss", Patience: 3}
		c.Schedule.Kind = "constant"
		c.DropoutRate = 0
	})
	in.Train = trainerBlobs(150, 5, 2, 0.3, 3)
	return in
}
