package training_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/filestore"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// countingTrainer is a backend other than the default: ModelTrainer behind
// the Trainer port, counting its calls.
type countingTrainer struct {
	inner training.ModelTrainer
	calls *int
}

func (c countingTrainer) Train(ctx context.Context, in training.TrainInput) (*training.TrainResult, error) {
	*c.calls++
	return c.inner.Train(ctx, in)
}

// counting returns a NewTrainerFunc of countingTrainer.
func counting(calls *int) training.NewTrainerFunc {
	return func(rec tracking.Recorder, ckpt training.Checkpointer) (training.Trainer, error) {
		return countingTrainer{inner: training.ModelTrainer{Recorder: rec, Checkpoints: ckpt}, calls: calls}, nil
	}
}

func TestNetworkMACs(t *testing.T) {
	assert.Equal(t, 8*64+64*64+64, training.NetworkMACs([]int{8, 64, 64, 1}))
	assert.Equal(t, 10*256+256*256+256, training.NetworkMACs([]int{10, 256, 256, 1}))
	assert.Zero(t, training.NetworkMACs([]int{5}))
}

func TestTrainingPipelineTrainsWithThePluggedTrainer(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on HTRU2")
	}
	errBackend := errors.New("no device")
	calls := 0
	for _, tc := range []struct {
		name        string
		backend     string
		newTrainer  training.NewTrainerFunc
		wantBackend string
		wantErr     error
		wantCalls   int
		large       *training.LargeNetworks
		wantReason  string
	}{
		{name: "default is ModelTrainer", wantBackend: training.BackendGonum},
		{name: "a backend name without its trainer is ignored", backend: "torch", wantBackend: training.BackendGonum},
		{name: "plugged trainer", backend: "counting", wantBackend: "counting", wantCalls: 1,
			newTrainer: func(rec tracking.Recorder, ckpt training.Checkpointer) (training.Trainer, error) {
				return countingTrainer{inner: training.ModelTrainer{Recorder: rec, Checkpoints: ckpt}, calls: &calls}, nil
			}},
		// HTRU2's features after preprocessing (9) through 8 hidden units
		// to 1 output: 80 multiply-adds per sample.
		{name: "a large network goes to the large backend", wantBackend: "counting", wantCalls: 1,
			large:      &training.LargeNetworks{Backend: "counting", NewTrainer: counting(&calls), MinMACs: 80},
			wantReason: "80 multiply-adds per sample, at least 80"},
		{name: "a small network stays on gonum", wantBackend: training.BackendGonum,
			large:      &training.LargeNetworks{Backend: "counting", NewTrainer: counting(&calls), MinMACs: 81},
			wantReason: "80 multiply-adds per sample, below the 81"},
		{name: "no threshold means LargeNetworkMACs", wantBackend: training.BackendGonum,
			large:      &training.LargeNetworks{Backend: "counting", NewTrainer: counting(&calls)},
			wantReason: fmt.Sprintf("below the %d", training.LargeNetworkMACs())},
		{name: "backend that cannot start", backend: "broken", wantErr: errBackend,
			newTrainer: func(tracking.Recorder, training.Checkpointer) (training.Trainer, error) { return nil, errBackend }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls = 0
			ctx := context.Background()
			dir := t.TempDir()
			files, err := filestore.New(filepath.Join(dir, "artifacts"))
			require.NoError(t, err)
			db, err := sqlitestore.Open(ctx, filepath.Join(dir, "orrery.db"))
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			p := &training.TrainingPipeline{Jobs: db, Models: db, Artifacts: files,
				Backend: tc.backend, NewTrainer: tc.newTrainer, Large: tc.large}
			cfg := training.Defaults()
			cfg.DatasetPath, cfg.TargetColumn, cfg.PositiveClass = "../../../events/data/htru2.csv", "class", "1"
			cfg.Epochs, cfg.HiddenLayers = 2, []int{8}

			res, err := pipeline.RunTraining(ctx, p, cfg)
			if tc.wantErr != nil {
				// The failure crossed the state machine as a name and a
				// cause: its text and code survive, not the Go value.
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr.Error())
				assert.Equal(t, fault.CodeOf(tc.wantErr), fault.CodeOf(err))
				assert.Contains(t, err.Error(), tc.backend+" backend")
				jobs, lerr := db.ListJobs(ctx, 0)
				require.NoError(t, lerr)
				require.Len(t, jobs, 1)
				assert.Equal(t, store.Failed, jobs[0].Status)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantCalls, calls)
			assert.Equal(t, tc.wantBackend, res.Training.Backend)
			if tc.wantReason != "" {
				assert.Contains(t, res.Training.BackendReason, tc.wantReason)
			}
			m, err := db.GetModel(ctx, res.ModelID)
			require.NoError(t, err)
			model, err := nn.LoadDir(filepath.Join(files.Root(), m.ArtifactKey))
			require.NoError(t, err)
			assert.Equal(t, tc.wantBackend, model.Manifest.Backend, "the manifest names the backend that trained")
			rc, err := files.Get(ctx, training.CheckpointKey(res.JobID, tc.wantBackend))
			require.NoError(t, err, "checkpoint under the backend's own key")
			rc.Close()
		})
	}
}
