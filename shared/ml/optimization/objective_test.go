package optimization_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// epochTrainer is a fake backend: it "trains" Config.Epochs epochs, each
// scoring val_auc_pr 0.5+0.1·epoch, emitting the events a real backend
// emits (StageStarted, one Progress per epoch with the validation metrics,
// a checkpoint after each), and stops at the next epoch once its context is
// cancelled. Net stays nil: no network is built.
type epochTrainer struct {
	rec  tracking.Recorder
	ckpt training.Checkpointer

	mu      sync.Mutex
	trained int    // epochs trained
	jobID   string // the job id Train was given
	lr      float64
}

func aucPR(epoch int) float64  { return 0.5 + 0.1*float64(epoch) }
func aucROC(epoch int) float64 { return 0.6 + 0.05*float64(epoch) }
func valLoss(epoch int) float64 {
	return 1 / float64(epoch+1)
}

func (f *epochTrainer) Train(ctx context.Context, in training.TrainInput) (*training.TrainResult, error) {
	f.mu.Lock()
	f.jobID, f.lr = in.JobID, in.Config.LearningRate
	f.mu.Unlock()
	epochs := in.Config.Epochs
	_ = f.rec.Record(ctx, tracking.Event{JobID: in.JobID, Kind: tracking.StageStarted, Stage: training.StageTrain, Total: epochs})
	res := &training.TrainResult{StopReason: training.StopMaxEpochs}
	for e := 1; e <= epochs; e++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("train job %s on fake: epoch %d: %w", in.JobID, e, err)
		}
		f.mu.Lock()
		f.trained++
		f.mu.Unlock()
		res.History = append(res.History, training.EpochStats{Epoch: e, ValAUCPR: aucPR(e), ValAUCROC: aucROC(e), ValLoss: valLoss(e)})
		if f.ckpt != nil {
			if err := f.ckpt.SaveCheckpoint(ctx, in.JobID, []byte{byte(e)}); err != nil {
				return nil, err
			}
		}
		_ = f.rec.Record(ctx, tracking.Event{JobID: in.JobID, Kind: tracking.Progress, Stage: training.StageTrain, Step: e,
			Total: epochs, Metrics: map[string]float64{"loss": valLoss(e), "val_loss": valLoss(e), "val_auc_pr": aucPR(e),
				"val_auc_roc": aucROC(e), "lr": in.Config.LearningRate}})
	}
	res.EpochsRun, res.BestEpoch = epochs, epochs
	return res, nil
}

// memCheckpoints keeps checkpoints in memory.
type memCheckpoints struct {
	mu   sync.Mutex
	data map[string][]byte
}

func (m *memCheckpoints) SaveCheckpoint(_ context.Context, jobID string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		m.data = map[string][]byte{}
	}
	m.data[jobID] = data
	return nil
}

func (m *memCheckpoints) LoadCheckpoint(_ context.Context, jobID string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.data[jobID]
	return d, ok, nil
}

// separableData is rows rows of two informative features, labels 0/1.
func separableData(rows int) *optimization.TrainingData {
	rng := rand.New(rand.NewPCG(3, 5))
	ex := func(n int) training.Examples {
		e := training.Examples{X: make([]float64, 2*n), Y: make([]int, n), Rows: n, Features: 2}
		for i := range n {
			y := i % 2
			shift := float64(2*y-1) * 1.2
			e.X[2*i], e.X[2*i+1], e.Y[i] = rng.NormFloat64()+shift, rng.NormFloat64()-shift, y
		}
		return e
	}
	return &optimization.TrainingData{Train: ex(rows), Validation: ex(rows / 4), Classes: 2, Features: []string{"a", "b"}}
}

func objectiveBase(epochs int) training.TrainingConfig {
	base := training.Defaults()
	base.DatasetPath, base.TargetColumn = "tiny.csv", "class"
	base.Epochs, base.HiddenLayers, base.BatchSize = epochs, []int{4}, 32
	off := false
	base.EarlyStop.Enabled = &off
	return base
}

type reported struct {
	step   int
	values []float64
}

// TestTrainingObjectiveCustomTrainer: with NewTrainer set, the objective
// trains with that trainer (given the objective's checkpointer and the
// trial's job id and params), reports each Progress event's validation
// metrics as the trial's intermediate values, returns the best epoch's
// values, and names the backend in the outcome's Attrs; when the pruner
// says stop, the trainer's context is cancelled and it trains no further
// epoch.
func TestTrainingObjectiveCustomTrainer(t *testing.T) {
	const epochs = 5
	trial := optimization.Trial{Number: 7, Params: optimization.Params{"learning_rate": 0.02}}
	setup := func(t *testing.T) (*epochTrainer, *memCheckpoints, optimization.TrainingObjective) {
		ckpt := &memCheckpoints{}
		fake := &epochTrainer{}
		obj := optimization.TrainingObjective{Data: separableData(40), Base: objectiveBase(epochs), StudyID: "hpo-x",
			Checkpoints: ckpt, Backend: "fake",
			Objectives: []string{optimization.ObjectiveAUCPR, optimization.ObjectiveAUCROC, optimization.ObjectiveValLoss},
			NewTrainer: func(rec tracking.Recorder, c training.Checkpointer) (training.Trainer, error) {
				fake.rec, fake.ckpt = rec, c
				return fake, nil
			}}
		return fake, ckpt, obj
	}

	t.Run("complete", func(t *testing.T) {
		fake, ckpt, obj := setup(t)
		var got []reported
		out, err := obj.Evaluate(t.Context(), trial, func(_ context.Context, step int, values []float64) error {
			got = append(got, reported{step, values})
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, epochs, fake.trained)
		assert.Equal(t, "hpo-x-t7", fake.jobID, "the trial's job id keys its checkpoint")
		assert.Equal(t, 0.02, fake.lr, "the trial's params reach the trainer")
		_, found, _ := ckpt.LoadCheckpoint(t.Context(), "hpo-x-t7")
		assert.True(t, found, "the objective's checkpointer reached the trainer")
		require.Len(t, got, epochs, "one report per Progress event; StageStarted is not one")
		for i, r := range got {
			e := i + 1
			assert.Equal(t, e, r.step)
			assert.Equal(t, []float64{aucPR(e), aucROC(e), valLoss(e)}, r.values)
		}
		assert.Equal(t, []float64{aucPR(epochs), aucROC(epochs), valLoss(epochs)}, out.Values, "the best epoch's values")
		assert.Equal(t, float64(epochs), out.Cost)
		assert.Equal(t, "fake", out.Attrs["backend"])
		assert.Equal(t, epochs, out.Attrs["epochs_run"])
	})

	t.Run("pruned", func(t *testing.T) {
		fake, _, obj := setup(t)
		var steps []int
		out, err := obj.Evaluate(t.Context(), trial, func(_ context.Context, step int, _ []float64) error {
			steps = append(steps, step)
			if step == 2 {
				return optimization.ErrPruned
			}
			return nil
		})
		require.ErrorIs(t, err, optimization.ErrPruned)
		assert.Equal(t, []int{1, 2}, steps)
		assert.Equal(t, 2, fake.trained, "the cancelled trainer stopped before epoch 3")
		assert.Equal(t, []float64{aucPR(2), aucROC(2), valLoss(2)}, out.Values, "the last reported values")
		assert.Equal(t, 2.0, out.Cost)
		assert.Equal(t, "fake", out.Attrs["backend"])
	})

	t.Run("pruned in an optimizer", func(t *testing.T) {
		_, _, obj := setup(t)
		// A pruner that stops every trial after its third epoch.
		o := &optimization.HyperparameterOptimizer{Sampler: optimization.RandomSearchOptimizer{}, Pruner: pruneAt(3),
			Budget: optimization.Budget{Trials: 1}}
		s := &optimization.Study{ID: "hpo-x", Directions: obj.Directions(), Seed: 3, Space: optimization.Space{
			Dimensions: []optimization.Dimension{{Name: "learning_rate", Kind: optimization.Float, Low: 0.01, High: 0.1}}}}
		_, err := o.Optimize(t.Context(), s, obj)
		require.NoError(t, err)
		require.Len(t, s.Trials, 1)
		tr := s.Trials[0]
		assert.Equal(t, store.TrialPruned, tr.State)
		require.Len(t, tr.Intermediate, 3)
		assert.Equal(t, 3, tr.Intermediate[2].Step)
	})

	t.Run("trainer cannot be made", func(t *testing.T) {
		_, _, obj := setup(t)
		errNoDevice := errors.New("no such device")
		obj.NewTrainer = func(tracking.Recorder, training.Checkpointer) (training.Trainer, error) { return nil, errNoDevice }
		out, err := obj.Evaluate(t.Context(), trial, func(context.Context, int, []float64) error { return nil })
		require.ErrorIs(t, err, errNoDevice)
		assert.Contains(t, err.Error(), "fake")
		assert.Equal(t, "fake", out.Attrs["backend"])
	})

	t.Run("latency needs a network", func(t *testing.T) {
		_, _, obj := setup(t)
		obj.Objectives = []string{optimization.ObjectiveAUCPR, optimization.ObjectiveLatencyMS}
		_, err := obj.Evaluate(t.Context(), trial, func(context.Context, int, []float64) error { return nil })
		require.Error(t, err)
		assert.Contains(t, err.Error(), "no network")
	})
}

// TestTrainingObjectiveDefaultTrainer: without NewTrainer the objective
// trains with training.ModelTrainer and says so ("gonum"), even when a
// Backend name is set alone.
func TestTrainingObjectiveDefaultTrainer(t *testing.T) {
	obj := optimization.TrainingObjective{Data: separableData(200), Base: objectiveBase(3), StudyID: "hpo-g",
		Backend: "torch", Objectives: []string{optimization.ObjectiveAUCPR, optimization.ObjectiveLatencyMS}}
	var steps []int
	out, err := obj.Evaluate(t.Context(), optimization.Trial{Number: 0, Params: optimization.Params{}},
		func(_ context.Context, step int, _ []float64) error {
			steps = append(steps, step)
			return nil
		})
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 3}, steps)
	assert.Equal(t, training.BackendGonum, out.Attrs["backend"])
	require.Len(t, out.Values, 2)
	assert.Greater(t, out.Values[0], 0.8, "validation AUC-PR of separable data")
	assert.Greater(t, out.Values[1], 0.0, "latency of the trained network")
}

// pruneAt prunes every trial once it has reported step n.
type pruneAt int

func (p pruneAt) ShouldPrune(s *optimization.Study, number int) bool {
	tr := s.Trial(number)
	return tr != nil && len(tr.Intermediate) > 0 && tr.Intermediate[len(tr.Intermediate)-1].Step >= int(p)
}
