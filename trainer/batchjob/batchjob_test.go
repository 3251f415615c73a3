package batchjob

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store/filestore"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// gonum is the pure-Go backend, as trainer/main.go wires it.
func gonum(rec tracking.Recorder, ckpt training.Checkpointer) (Trainer, error) {
	return training.ModelTrainer{Recorder: rec, Checkpoints: ckpt}, nil
}

// fixture is a runner over an embedded home directory (home/orrery.db and
// home/artifacts, as Stores.Home names them).
type fixture struct {
	runner *Runner
	home   string
	files  *filestore.Store
	db     *sqlitestore.DB
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	stores := Stores{Home: t.TempDir()}
	files, err := filestore.New(stores.ArtifactsDir())
	require.NoError(t, err)
	db, err := sqlitestore.Open(context.Background(), stores.DBPath())
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return fixture{runner: &Runner{Jobs: db, Models: db, Artifacts: files, Backend: BackendGonum, NewTrainer: gonum},
		home: stores.Home, files: files, db: db}
}

func htru2Config(epochs int) *training.TrainingConfig {
	cfg := training.Defaults()
	cfg.DatasetPath, cfg.TargetColumn, cfg.PositiveClass = "../../events/data/htru2.csv", "class", "1"
	cfg.Epochs, cfg.HiddenLayers = epochs, []int{16}
	off := false
	cfg.EarlyStop.Enabled = &off
	return &cfg
}

func TestCheckpointKeysPerBackend(t *testing.T) {
	assert.Equal(t, "checkpoints/j/latest.ckpt", Checkpoints{Backend: BackendGonum}.key("j"))
	assert.Equal(t, "checkpoints/j/torch.ckpt", Checkpoints{Backend: BackendTorch}.key("j"))
	assert.Equal(t, "checkpoints/studies/s/s-t1.ckpt", Checkpoints{Backend: BackendGonum, Dir: TrialCheckpointDir("s")}.key("s-t1"))
}
