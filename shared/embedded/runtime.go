package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store/filestore"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// EnvHome names the environment variable that sets the home directory.
const EnvHome = config.EnvHome

// DefaultHome is the home directory used when neither --home nor ORRERY_HOME
// is given.
const DefaultHome = ".orrery"

// Home returns flagValue, else $ORRERY_HOME, else DefaultHome.
func Home(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if v := os.Getenv(EnvHome); v != "" {
		return v
	}
	return DefaultHome
}

// Runtime is an open home directory.
type Runtime struct {
	Home      string
	DB        *sqlitestore.DB
	Artifacts *filestore.Store
	Pipeline  *training.TrainingPipeline

	servingOnce sync.Once
	serving     *Serving
}

// Layout of a home directory.
const (
	dbFile       = "orrery.db"
	artifactsDir = "artifacts"
	samplesDir   = "samples"
)

// Open opens (creating if needed) the home directory and wires the pipeline;
// rec receives progress events (nil: none).
func Open(ctx context.Context, home string, rec tracking.Recorder) (*Runtime, error) {
	if home == "" {
		return nil, errors.New("embedded: empty home directory")
	}
	abs, err := filepath.Abs(home)
	if err != nil {
		return nil, fmt.Errorf("embedded: home %s: %w", home, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("embedded: create home %s: %w", abs, err)
	}
	db, err := sqlitestore.Open(ctx, filepath.Join(abs, dbFile))
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	files, err := filestore.New(filepath.Join(abs, artifactsDir))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("embedded: %w", err)
	}
	if rec == nil {
		rec = tracking.Discard
	}
	p := &training.TrainingPipeline{Jobs: db, Models: db, Artifacts: files, Recorder: rec}
	p.Retry.OnRetry = func(op string, attempt int, err error) {
		_ = rec.Record(ctx, tracking.Event{Kind: tracking.Log, Message: fmt.Sprintf("retrying %s (attempt %d): %v", op, attempt, err)})
	}
	return &Runtime{Home: abs, DB: db, Artifacts: files, Pipeline: p}, nil
}

// SamplesDir is where the bundled sample data is written.
func (r *Runtime) SamplesDir() string { return filepath.Join(r.Home, samplesDir) }

// ModelDir returns the local directory of a registered model's files.
func (r *Runtime) ModelDir(ctx context.Context, modelID string) (string, error) {
	m, err := r.DB.GetModel(ctx, modelID)
	if err != nil {
		return "", err
	}
	return r.Artifacts.Path(m.ArtifactKey)
}

// Close releases the database.
func (r *Runtime) Close() error { return r.DB.Close() }
